package dev.portcullis.app;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.benmanes.caffeine.cache.Ticker;
import dev.portcullis.McpRequestPath;
import dev.portcullis.audit.ArgumentLogging;
import dev.portcullis.audit.AuditLog;
import dev.portcullis.audit.Auditor;
import dev.portcullis.audit.RequestMetrics;
import dev.portcullis.authn.Authenticate;
import dev.portcullis.authn.SessionBinding;
import dev.portcullis.authn.JwksCache;
import dev.portcullis.authn.TokenVerifier;
import dev.portcullis.authz.Authorize;
import dev.portcullis.authz.PolicySource;
import dev.portcullis.config.RouteConfig;
import io.micrometer.core.instrument.MeterRegistry;
import dev.portcullis.config.GatewayConfig;
import dev.portcullis.config.IssuerConfig;
import dev.portcullis.exchange.Exchange;
import dev.portcullis.exchange.UpstreamCredentials;
import dev.portcullis.forward.Forward;
import dev.portcullis.forward.LegacyStreams;
import dev.portcullis.forward.ListenStreams;
import dev.portcullis.http.OutboundAddressPolicy;
import dev.portcullis.http.OutboundHttp;
import dev.portcullis.trace.Tracing;
import dev.portcullis.inspect.Inspect;
import dev.portcullis.listen.GatewayServer;
import dev.portcullis.listen.Transport;
import dev.portcullis.failure.FailureResponses;
import dev.portcullis.route.RouteStage;
import dev.portcullis.policy.Policy;
import dev.portcullis.route.Route;
import dev.portcullis.route.RouteTable;
import dev.portcullis.route.UpstreamEras;
import dev.portcullis.route.RequestOrigin;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.Set;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A running Portcullis: the public listener with the request path, and the admin listener.
 * Wired by hand, in the order of the request path.
 */
public final class Gateway implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Gateway.class);
    /** Signature checks are cached per token; this bounds the memory they may take. */
    private static final long MAX_CACHED_TOKENS = 100_000;

    private final GatewayServer server;
    private final AdminServer admin;
    private final Forward forward;
    private final OutboundHttp outbound;
    private final OutboundHttp tokenEndpoints;
    private final List<JwksCache> keys;
    private final ShutdownState state;
    private final Duration shutdownGrace;

    /** Set once shutdown begins: readiness turns false so load balancers stop sending traffic. */
    static final class ShutdownState {
        volatile boolean stopping;
        ScheduledExecutorService reloads;
        UpstreamEras upstreamEras;
        Tracing tracing = Tracing.OFF;
        GatewayMetrics processMetrics;
    }

    private Gateway(GatewayServer server, AdminServer admin, Forward forward,
                    OutboundHttp outbound, OutboundHttp tokenEndpoints, List<JwksCache> keys,
                    ShutdownState state, Duration shutdownGrace) {
        this.server = server;
        this.admin = admin;
        this.forward = forward;
        this.outbound = outbound;
        this.tokenEndpoints = tokenEndpoints;
        this.keys = keys;
        this.state = state;
        this.shutdownGrace = shutdownGrace;
    }

    public static Gateway start(GatewayConfig config) {
        ObjectMapper json = new ObjectMapper();
        Tracing tracing = Tracing.configure(config.tracing(), System::getenv);
        PrometheusMeterRegistry registry = GatewayMetrics.registry(tracing.enabled());
        GatewayMetrics processMetrics = GatewayMetrics.bind(registry);
        AuditAppender.install(config.audit(), registry);
        OutboundAddressPolicy addresses = outboundAddresses(config);
        OutboundHttp outbound = new OutboundHttp("portcullis-outbound", 16, config.outbound().connectTimeout(),
                config.outbound().timeout(), addresses, null).traced(tracing);
        List<JwksCache> keys = config.issuers().stream()
                .map(issuer -> new JwksCache(issuer, outbound, json, Ticker.systemTicker(), registry))
                .toList();
        keys.forEach(JwksCache::preload);
        TokenVerifier verifier = new TokenVerifier(keys, Clock.systemUTC(), Ticker.systemTicker(), MAX_CACHED_TOKENS);

        List<String> issuers = config.issuers().stream().map(IssuerConfig::issuer).toList();
        ScheduledExecutorService reloads = Executors.newSingleThreadScheduledExecutor(runnable -> {
            Thread thread = new Thread(runnable, "portcullis-policy-reload");
            thread.setDaemon(true);
            return thread;
        });
        List<Route> routes = config.routes().stream()
                .map(route -> Route.compile(route, issuers, policyFor(route, registry, reloads)))
                .toList();
        // Token requests have their own pool, so a slow IdP cannot starve key fetches (and the reverse).
        OutboundHttp tokenEndpoints = new OutboundHttp("portcullis-token-endpoint", 64, config.outbound().connectTimeout(),
                Duration.ofSeconds(60), addresses, null).traced(tracing);
        Map<String, UpstreamCredentials> credentials = routes.stream()
                .collect(Collectors.toMap(Route::name, route -> UpstreamCredentials.forRoute(route.name(),
                        route.config().upstreamAuth(), tokenEndpoints, json, Clock.systemUTC(), Ticker.systemTicker(), registry)));
        SessionBinding sessions = config.sessions().keyFile() != null
                ? new SessionBinding(config.sessions().key(), config.sessions().previousKeys()) : SessionBinding.withRandomKey();
        LegacyStreams legacyStreams = new LegacyStreams();
        UpstreamEras upstreamEras = new UpstreamEras();
        upstreamEras.probe(routes, Duration.ofSeconds(30));
        ListenStreams listenStreams = new ListenStreams();
        for (Route route : routes) {
            if (route.policy() instanceof PolicySource source) {
                // V26-34: a reload that changes what a caller sees is announced on its open listen streams.
                source.onChange((before, after) -> listenStreams.policyChanged(route.name(), before, after));
            }
        }
        Forward forward = new Forward(routes, sessions, legacyStreams, listenStreams);
        Auditor auditor = new Auditor(new AuditLog(), new RequestMetrics(registry, forward::activeStreams),
                ArgumentLogging.parse(config.audit().arguments(), config.audit().redact()));

        McpRequestPath path = new McpRequestPath(
                McpRequestPath.Stages.of(
                        new RouteStage(new RouteTable(routes), requestOrigin(config, routes), json),
                        new Authenticate(verifier),
                        new Inspect(config.listen().maxBodySize().bytes(), sessions, upstreamEras),
                        new Authorize(),
                        new Exchange(credentials),
                        forward),
                auditor,
                legacyStreams,
                new FailureResponses(json),
                tracing);

        GatewayServer server = GatewayServer.bind(config.listen(), 0, path);
        GatewayMetrics.bindEventLoops(registry, server.workers());
        ShutdownState state = new ShutdownState();
        state.reloads = reloads;
        state.tracing = tracing;
        state.processMetrics = processMetrics;
        state.upstreamEras = upstreamEras;
        AdminServer admin = AdminServer.bind(config.admin(),
                () -> !state.stopping && keys.stream().allMatch(JwksCache::loaded), registry);
        log.info("Portcullis listening on {}:{} ({}, {}), admin on {}:{}, routes {}", config.listen().host(), server.port(),
                config.listen().tls() != null ? "TLS" : "plain HTTP", Transport.name(), config.admin().host(), admin.port(),
                routes.stream().map(r -> r.path() + " -> " + r.name() + " (upstream-auth "
                        + r.config().upstreamAuth().type() + ")").collect(Collectors.joining(", ")));
        return new Gateway(server, admin, forward, outbound, tokenEndpoints, keys, state,
                config.listen().shutdownGrace());
    }

    /**
     * SECURITY-03: the gateway's own fetches reach public addresses, the {@code outbound.allow-private}
     * ranges, and the loopback addresses that configured URLs name literally.
     */
    static OutboundAddressPolicy outboundAddresses(GatewayConfig config) {
        List<String> urls = new java.util.ArrayList<>();
        for (IssuerConfig issuer : config.issuers()) {
            urls.add(issuer.issuer());
            if (issuer.jwksUri() != null) {
                urls.add(issuer.jwksUri());
            }
        }
        for (RouteConfig route : config.routes()) {
            if (route.upstreamAuth().tokenEndpoint() != null) {
                urls.add(route.upstreamAuth().tokenEndpoint());
            }
        }
        OutboundAddressPolicy policy = OutboundAddressPolicy.of(config.outbound().allowPrivateRanges(), urls);
        for (String url : urls) {
            String host = java.net.URI.create(url).getHost();
            if (host == null) {
                continue;
            }
            String literal = host.startsWith("[") ? host.substring(1, host.length() - 1) : host;
            java.net.InetAddress address = io.netty.util.NetUtil.createInetAddressFromIpAddressString(literal);
            if (address != null && policy.refusal(address, true) != null) {
                log.warn("{} names a non-public address that outbound.allow-private does not list: the gateway will not "
                        + "fetch it ({})", url, policy.refusal(address, true));
            } else if (host.equalsIgnoreCase("localhost") && config.outbound().allowPrivate().isEmpty()) {
                log.warn("{} names localhost: the gateway's own fetches reach loopback only when the URL names the "
                        + "address (127.0.0.1, [::1]) or outbound.allow-private lists it; this URL will be refused", url);
            }
        }
        return policy;
    }

    /**
     * The route's policy: its file, watched for changes (a bad file at start is an error: the gateway
     * does not start), or {@link Policy#authenticatedOnly()} when the route names none.
     */
    private static Policy policyFor(RouteConfig route, MeterRegistry metrics, ScheduledExecutorService reloads) {
        if (route.policy() == null) {
            return Policy.authenticatedOnly();
        }
        PolicySource source = PolicySource.load(route.name(), route.policy(), metrics);
        long every = route.policyReloadInterval().toMillis();
        reloads.scheduleWithFixedDelay(source::reloadIfChanged, every, every, TimeUnit.MILLISECONDS);
        return source;
    }

    /** Host and Origin allow-lists: configured, or derived from the routes' resource identifiers. */
    private static RequestOrigin requestOrigin(GatewayConfig config, List<Route> routes) {
        Set<String> resources = routes.stream().flatMap(r -> r.acceptedAudiences().stream()).collect(Collectors.toSet());
        Set<String> hosts = config.listen().allowedHosts() != null ? Set.copyOf(config.listen().allowedHosts())
                : resources.stream().map(r -> java.net.URI.create(r).getHost()).collect(Collectors.toSet());
        Set<String> origins = config.listen().allowedOrigins() != null ? Set.copyOf(config.listen().allowedOrigins())
                : resources.stream().map(RequestOrigin::originOf).collect(Collectors.toSet());
        return new RequestOrigin(hosts, origins);
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
        server.awaitClosed();
    }

    /**
     * Graceful stop (SIGTERM): readiness turns false, the listener stops accepting, open SSE streams
     * are ended cleanly, and in-flight requests get up to {@code listen.shutdown-grace} to finish.
     */
    @Override
    public synchronized void close() {
        if (state.stopping) {
            return;
        }
        state.stopping = true;
        log.info("Portcullis stopping: {} SSE stream(s) open, grace {}", forward.activeStreams(), shutdownGrace);
        state.reloads.shutdownNow();
        state.upstreamEras.close();
        server.stopAccepting();
        forward.endStreams();
        if (!server.awaitIdle(shutdownGrace)) {
            log.warn("Portcullis: requests still in flight after {}; closing their connections", shutdownGrace);
        }
        server.close();
        admin.close();
        forward.close();
        outbound.close();
        tokenEndpoints.close();
        state.tracing.close();
        if (state.processMetrics != null) {
            state.processMetrics.close();
        }
    }

}
