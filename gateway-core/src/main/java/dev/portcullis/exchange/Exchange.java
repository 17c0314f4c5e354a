package dev.portcullis.exchange;

import dev.portcullis.authz.AuthorizedRequest;
import dev.portcullis.failure.GatewayFailure;
import java.util.Map;
import reactor.core.publisher.Mono;

/** Stage 6: attach the upstream credential that the route's {@code upstream-auth} mode produces. */
public final class Exchange {
    private final Map<String, UpstreamCredentials> byRoute;

    /** @param byRoute credentials per route name; every route must have an entry */
    public Exchange(Map<String, UpstreamCredentials> byRoute) {
        this.byRoute = Map.copyOf(byRoute);
    }

    public Mono<UpstreamRequest> apply(AuthorizedRequest authorized) {
        String route = authorized.inspected().authenticated().routed().route().name();
        UpstreamCredentials credentials = byRoute.get(route);
        if (credentials == null) {
            return Mono.error(new IllegalStateException("no upstream credentials configured for route " + route));
        }
        return credentials.bearerFor(authorized)
                .map(bearer -> new UpstreamRequest(authorized, bearer, credentials))
                .onErrorMap(GatewayFailure.class, f -> f.withJsonRpcId(authorized.inspected().errorId()));
    }
}
