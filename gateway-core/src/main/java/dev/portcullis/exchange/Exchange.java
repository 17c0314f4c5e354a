package dev.portcullis.exchange;

import dev.portcullis.Step;
import dev.portcullis.authz.AuthorizedRequest;
import dev.portcullis.failure.GatewayFailure;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletionException;

/**
 * Stage 6: attach the upstream credential that the route's {@code upstream-auth} mode produces. A cached
 * token is answered at once; a token request is waited for.
 */
public final class Exchange {
    private final Map<String, UpstreamCredentials> byRoute;

    /** @param byRoute credentials per route name; every route must have an entry */
    public Exchange(Map<String, UpstreamCredentials> byRoute) {
        this.byRoute = Map.copyOf(byRoute);
    }

    /** Throws (or completes the future with) a {@link GatewayFailure} carrying the request's JSON-RPC id. */
    public Step<UpstreamRequest> apply(AuthorizedRequest authorized) {
        String route = authorized.route().name();
        UpstreamCredentials credentials = byRoute.get(route);
        if (credentials == null) {
            throw new IllegalStateException("no upstream credentials configured for route " + route);
        }
        Step<Optional<String>> bearer;
        try {
            bearer = credentials.bearerNow(authorized);
        } catch (GatewayFailure f) {
            throw f.withJsonRpcId(authorized.errorId());
        }
        if (bearer.ready()) {
            return Step.now(new UpstreamRequest(authorized, bearer.value(), credentials));
        }
        return Step.later(bearer.future().handle((token, e) -> {
            if (e != null) {
                Throwable cause = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
                if (cause instanceof GatewayFailure f) {
                    throw f.withJsonRpcId(authorized.errorId());
                }
                throw cause instanceof RuntimeException r ? r : new CompletionException(cause);
            }
            return new UpstreamRequest(authorized, token, credentials);
        }));
    }
}
