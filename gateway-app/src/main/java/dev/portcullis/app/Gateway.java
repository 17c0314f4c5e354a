package dev.portcullis.app;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.benmanes.caffeine.cache.Ticker;
import dev.portcullis.McpRequestPath;
import dev.portcullis.authn.Authenticate;
import dev.portcullis.authn.JwksCache;
import dev.portcullis.authn.TokenVerifier;
import dev.portcullis.authz.Authorize;
import dev.portcullis.config.GatewayConfig;
import dev.portcullis.config.IssuerConfig;
import dev.portcullis.exchange.Exchange;
import dev.portcullis.exchange.UpstreamCredentials;
import dev.portcullis.forward.Forward;
import dev.portcullis.http.OutboundHttp;
import dev.portcullis.inspect.Inspect;
import dev.portcullis.listen.GatewayServer;
import dev.portcullis.policy.Policy;
import dev.portcullis.route.Route;
import dev.portcullis.route.RouteTable;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.netty.DisposableServer;

/**
 * A running Portcullis: the public listener with the request path, and the admin listener.
 * Wired by hand, in the order of the request path.
 */
public final class Gateway implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Gateway.class);
    /** Signature checks are cached per token; this bounds the memory they may take. */
    private static final long MAX_CACHED_TOKENS = 100_000;

    private final DisposableServer server;
    private final AdminServer admin;
    private final Forward forward;
    private final OutboundHttp outbound;
    private final OutboundHttp tokenEndpoints;
    private final List<JwksCache> keys;

    private Gateway(DisposableServer server, AdminServer admin, Forward forward, OutboundHttp outbound,
                    OutboundHttp tokenEndpoints, List<JwksCache> keys) {
        this.server = server;
        this.admin = admin;
        this.forward = forward;
        this.outbound = outbound;
        this.tokenEndpoints = tokenEndpoints;
        this.keys = keys;
    }

    public static Gateway start(GatewayConfig config) {
        ObjectMapper json = new ObjectMapper();
        OutboundHttp outbound = new OutboundHttp(Duration.ofSeconds(5), Duration.ofSeconds(10));
        List<JwksCache> keys = config.issuers().stream()
                .map(issuer -> new JwksCache(issuer, outbound, json, Ticker.systemTicker()))
                .toList();
        keys.forEach(JwksCache::preload);
        TokenVerifier verifier = new TokenVerifier(keys, Clock.systemUTC(), Ticker.systemTicker(), MAX_CACHED_TOKENS);

        List<String> issuers = config.issuers().stream().map(IssuerConfig::issuer).toList();
        List<Route> routes = config.routes().stream()
                .map(route -> Route.compile(route, issuers, Policy.authenticatedOnly()))
                .toList();
        // Token requests have their own pool, so a slow IdP cannot starve key fetches (and the reverse).
        OutboundHttp tokenEndpoints = new OutboundHttp("portcullis-token-endpoint", 64, Duration.ofSeconds(5),
                Duration.ofSeconds(60));
        Map<String, UpstreamCredentials> credentials = routes.stream()
                .collect(Collectors.toMap(Route::name, route -> UpstreamCredentials.forRoute(route.name(),
                        route.config().upstreamAuth(), tokenEndpoints, json, Clock.systemUTC(), Ticker.systemTicker())));
        Forward forward = new Forward(routes);

        McpRequestPath path = new McpRequestPath(
                new RouteTable(routes),
                new Authenticate(verifier),
                new Inspect(config.listen().maxBodySize().bytes()),
                new Authorize(),
                new Exchange(credentials),
                forward,
                json,
                config.listen().tls() != null);

        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        DisposableServer server = GatewayServer.bind(config.listen(), path::handle);
        AdminServer admin = AdminServer.bind(config.admin(), () -> keys.stream().allMatch(JwksCache::loaded), registry);
        log.info("Portcullis listening on {}:{} ({}), admin on {}:{}, routes {}", config.listen().host(), server.port(),
                config.listen().tls() != null ? "TLS" : "plain HTTP", config.admin().host(), admin.port(),
                routes.stream().map(r -> r.path() + " -> " + r.name() + " (upstream-auth "
                        + r.config().upstreamAuth().type() + ")").collect(Collectors.joining(", ")));
        return new Gateway(server, admin, forward, outbound, tokenEndpoints, keys);
    }

    public int port() {
        return server.port();
    }

    public int adminPort() {
        return admin.port();
    }

    /** True once every issuer's signing keys are loaded. */
    public boolean ready() {
        return keys.stream().allMatch(JwksCache::loaded);
    }

    /** Blocks the calling (main) thread until the server stops. */
    public void awaitShutdown() {
        server.onDispose().block();
    }

    @Override
    public void close() {
        server.disposeNow(Duration.ofSeconds(10));
        admin.close();
        forward.close();
        outbound.close();
        tokenEndpoints.close();
    }

}
