package dev.portcullis.app;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.benmanes.caffeine.cache.Ticker;
import dev.portcullis.McpRequestPath;
import dev.portcullis.app.config.ConfigLoader;
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
import dev.portcullis.limit.Limiter;
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
import dev.portcullis.listen.NetworkConditions;
import dev.portcullis.policy.InvalidPolicyException;
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
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicReference;
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
    /**
     * DPoP proofs remembered at once (each until its window ends): ~830 proofs/s for the 5-minute window, a few
     * tens of MB at most. Beyond it new DPoP requests get 503 until older proofs expire, never an unchecked replay.
     */
    private static final long MAX_REMEMBERED_DPOP_PROOFS = 250_000;
    /** After the shutdown grace, how long the gateway's closing errors get to be written before connections close. */
    static final Duration GRACE_OVER_WRITE = Duration.ofSeconds(2);

    private final GatewayServer server;
    private final AdminServer admin;
    private final Forward forward;
    private final AtomicReference<Snapshot> live;
    private final ConfigReload reload;
    private final ShutdownState state;

    /** Set once shutdown begins: readiness turns false so load balancers stop sending traffic. */
    static final class ShutdownState {
        volatile boolean stopping;
        ScheduledExecutorService reloads;
        UpstreamEras upstreamEras;
        Tracing tracing = Tracing.OFF;
        GatewayMetrics processMetrics;
        /** Issue 18: the limits' counters (in process, or the shared store); closed last. */
        Limiter limiter;
        /** Issue 17: the approval page's listener, or null. */
        dev.portcullis.app.approvals.ApprovalServer approvals;
    }

    private Gateway(GatewayServer server, AdminServer admin, Forward forward, AtomicReference<Snapshot> live,
                    ConfigReload reload, ShutdownState state) {
        this.server = server;
        this.admin = admin;
        this.forward = forward;
        this.live = live;
        this.reload = reload;
        this.state = state;
    }

    /**
     * Everything {@code run} builds from a config short of binding sockets, fetching keys, probing
     * upstreams and starting timers: the key caches and verifier, the routes with their policies, the
     * upstream credentials, the session binding, the Host/Origin rules, the audit argument mode.
     * {@code check} builds exactly this and closes it, so what {@code check} accepts, {@code run} runs.
     */
    static final class Assembly implements AutoCloseable {
        final GatewayConfig config;
        /**
         * Reads the IdPs' answers (issuer metadata, token endpoint responses): a member written twice is
         * refused rather than the last one silently winning, as for tokens and request bodies.
         */
        final ObjectMapper json = com.fasterxml.jackson.databind.json.JsonMapper.builder()
                .enable(com.fasterxml.jackson.core.StreamReadFeature.STRICT_DUPLICATE_DETECTION).build();
        /** With exemplars (the trace of a counted request) when tracing is on: issue 15. */
        final PrometheusMeterRegistry registry;
        final OutboundAddressPolicy addresses;
        final OutboundHttp outbound;
        /** Token requests have their own pool, so a slow IdP cannot starve key fetches (and the reverse). */
        final OutboundHttp tokenEndpoints;
        /** Introspection requests (issue 16): a pool of their own, so a slow introspection endpoint starves neither. */
        final OutboundHttp introspections;
        final List<JwksCache> keys;
        final TokenVerifier verifier;
        final List<Route> routes;
        final Map<String, UpstreamCredentials> credentials;
        final SessionBinding sessions;
        final RequestOrigin origin;
        final ArgumentLogging argumentLogging;
        /** Issue 17: what the gateway saw of pinned definitions; handed from each config snapshot to the next. */
        final dev.portcullis.pin.DriftWatch driftWatch;

        private Assembly(GatewayConfig config, String source, PrometheusMeterRegistry registry,
                         dev.portcullis.pin.DriftWatch driftWatch) {
            this(config, source, registry, driftWatch, true);
        }

        private Assembly(GatewayConfig config, String source, PrometheusMeterRegistry registry,
                         dev.portcullis.pin.DriftWatch driftWatch, boolean loadPins) {
            this.config = config;
            this.registry = registry;
            this.driftWatch = driftWatch != null ? driftWatch : new dev.portcullis.pin.DriftWatch(registry);
            this.addresses = outboundAddresses(config);
            this.outbound = new OutboundHttp("portcullis-outbound", 16, config.outbound().connectTimeout(),
                    config.outbound().timeout(), addresses, null);
            this.tokenEndpoints = new OutboundHttp("portcullis-token-endpoint", 64, config.outbound().connectTimeout(),
                    Duration.ofSeconds(60), addresses, null);
            this.introspections = new OutboundHttp("portcullis-introspection", 64, config.outbound().connectTimeout(),
                    Duration.ofSeconds(60), addresses, null);
            try {
                if (config.listen().tls() != null) {
                    try {
                        GatewayServer.validateTls(config.listen().tls());
                    } catch (IllegalArgumentException e) {
                        throw new ConfigLoader.InvalidConfigException(source + ": " + e.getMessage());
                    }
                }
                this.keys = config.issuers().stream()
                        .map(issuer -> new JwksCache(issuer, outbound, json, Ticker.systemTicker(), registry))
                        .toList();
                // Issue 16: token introspection (RFC 7662) where an issuer configures it, authenticating as at a token
                // endpoint (the exchange's client authentication), through the SSRF-hardened client.
                List<dev.portcullis.authn.Introspection> introspection = keys.stream()
                        .filter(k -> k.config().introspection() != null)
                        .map(k -> {
                            dev.portcullis.exchange.ClientAuthentication client = dev.portcullis.exchange.ClientAuthentication
                                    .from(k.config().introspection().asClient(), Clock.systemUTC());
                            return new dev.portcullis.authn.Introspection(k.config(), k::metadata, introspections::postForm,
                                    client::apply, json, Clock.systemUTC(), Ticker.systemTicker(), MAX_CACHED_TOKENS, registry);
                        })
                        .toList();
                this.verifier = new TokenVerifier(keys, introspection, Clock.systemUTC(), Ticker.systemTicker(), MAX_CACHED_TOKENS);
                // A multi-tenant {tenantid} template is no authorization server a client could discover (PRM-03).
                List<String> issuers = config.issuers().stream().filter(i -> !i.isTemplate()).map(IssuerConfig::issuer)
                        .toList();
                List<String> problems = new java.util.ArrayList<>();
                List<Route> compiled = new java.util.ArrayList<>();
                for (int i = 0; i < config.routes().size(); i++) {
                    RouteConfig route = config.routes().get(i);
                    try {
                        Route built = Route.compile(route, issuers, policyFor(route, registry), config.issuers());
                        if (route.pinning() != null && loadPins) {
                            built = built.withPins(new dev.portcullis.pin.RoutePins(route.name(), route.pinning(),
                                    dev.portcullis.pin.PinFile.read(route.pinning().file()), this.driftWatch));
                        }
                        compiled.add(built);
                    } catch (InvalidPolicyException e) {
                        problems.addAll(e.problems());
                    } catch (dev.portcullis.pin.InvalidPinsException e) {
                        problems.add(source + ": routes[" + i + "] (" + route.name() + "): pinning.file: the pins do not load"
                                + " (run portcullis pin --config " + source + " --route " + route.name() + ", review, deploy)");
                        problems.addAll(e.problems());
                    } catch (RuntimeException e) {
                        problems.add(source + ": routes[" + i + "] (" + route.name() + "): cannot be built (" + e + ")");
                    }
                }
                if (!problems.isEmpty()) {
                    throw new ConfigLoader.InvalidConfigException(problems);
                }
                this.routes = List.copyOf(compiled);
                if (config.approvals() == null) {
                    // Issue 17: a rule that holds calls for approval needs the page where they are approved.
                    for (int i = 0; i < routes.size(); i++) {
                        var held = routes.get(i).policy().approvals().byRule().keySet();
                        if (!held.isEmpty()) {
                            problems.add(source + ": routes[" + i + "] (" + routes.get(i).name() + "): its policy holds calls"
                                    + " for approval (" + String.join(", ", new java.util.TreeSet<>(held)) + "), but there is"
                                    + " no approvals section (expected: approvals: { public-url, issuer, client-id })");
                        }
                    }
                    if (!problems.isEmpty()) {
                        throw new ConfigLoader.InvalidConfigException(problems);
                    }
                }
                this.credentials = routes.stream()
                        .collect(Collectors.toMap(Route::name, route -> UpstreamCredentials.forRoute(route.name(),
                                route.config().upstreamAuth(), keysOf(keys, config.tokenEndpointIssuer(route.config())),
                                tokenEndpoints, json, Clock.systemUTC(), Ticker.systemTicker(), registry)));
                this.sessions = config.sessions().keyFile() != null
                        ? new SessionBinding(config.sessions().key(), config.sessions().previousKeys()) : SessionBinding.withRandomKey();
                this.origin = requestOrigin(config, routes);
                this.argumentLogging = ArgumentLogging.parse(config.audit().arguments(), config.audit().redact());
            } catch (RuntimeException e) {
                close();
                throw e;
            }
        }

        /**
         * @throws ConfigLoader.InvalidConfigException naming every route policy that does not load (one line each)
         * @throws RuntimeException       anything else that cannot be built (a defect: the config check should have said)
         */
        static Assembly build(GatewayConfig config) {
            return build(config, "gateway config");
        }

        /** @param source the config file's name, for messages */
        static Assembly build(GatewayConfig config, String source) {
            return new Assembly(config, source, GatewayMetrics.registry(Tracing.wanted(config.tracing(), System::getenv)), null);
        }

        /** A reload (issue 14): built into the running gateway's meter registry. */
        static Assembly build(GatewayConfig config, String source, PrometheusMeterRegistry registry) {
            return new Assembly(config, source, registry, null);
        }

        /**
         * Issue 17: what {@code portcullis pin} and {@code check --against-upstream} reach upstreams with: the routes
         * and their upstream credentials as {@code run} builds them, without reading the pins files (the first
         * {@code pin} writes the file).
         */
        static Assembly withoutPins(GatewayConfig config, String source) {
            return new Assembly(config, source, GatewayMetrics.registry(false), null, false);
        }

        /** A reload that keeps what the running gateway saw of pinned definitions (issue 17). */
        static Assembly build(GatewayConfig config, String source, PrometheusMeterRegistry registry,
                              dev.portcullis.pin.DriftWatch driftWatch) {
            return new Assembly(config, source, registry, driftWatch);
        }

        @Override
        public void close() {
            if (outbound != null) outbound.close();
            if (tokenEndpoints != null) tokenEndpoints.close();
            if (introspections != null) introspections.close();
        }
    }

    public static Gateway start(GatewayConfig config) {
        return start(config, null);
    }

    /**
     * @param source the config file: watched and re-read on SIGHUP (issue 14); null when the config has no file
     */
    public static Gateway start(GatewayConfig config, Path source) {
        Assembly built = Assembly.build(config, source == null ? "gateway config" : source.toString());
        try {
            return start(built, source);
        } catch (RuntimeException e) {
            built.close();
            throw e;
        }
    }

    private static Gateway start(Assembly built, Path source) {
        GatewayConfig config = built.config;
        ObjectMapper json = built.json;
        PrometheusMeterRegistry registry = built.registry;
        Tracing tracing = Tracing.configure(config.tracing(), System::getenv);
        built.outbound.traced(tracing);
        built.tokenEndpoints.traced(tracing);
        built.introspections.traced(tracing);
        GatewayMetrics processMetrics = GatewayMetrics.bind(registry);
        AuditAppender.install(config.audit(), registry);
        ScheduledExecutorService reloads = Executors.newSingleThreadScheduledExecutor(runnable -> {
            Thread thread = new Thread(runnable, "portcullis-policy-reload");
            thread.setDaemon(true);
            return thread;
        });
        SessionBinding sessions = built.sessions;
        LegacyStreams legacyStreams = new LegacyStreams();
        UpstreamEras upstreamEras = new UpstreamEras();
        ListenStreams listenStreams = new ListenStreams();
        Forward forward = new Forward(built.routes, sessions, legacyStreams, listenStreams);
        Auditor auditor = new Auditor(new AuditLog(), new RequestMetrics(registry, forward::activeStreams),
                built.argumentLogging);
        NetworkConditions network = new NetworkConditions(registry);
        // An error Reactor can no longer deliver (the request already ended: a client that left mid-body, say)
        // is logged by Reactor's default hook as an ERROR with a stack trace; expected ones are counted instead.
        reactor.core.publisher.Hooks.onErrorDropped(e -> {
            if (!network.absorb(e, "after its request ended")) {
                log.warn("an error arrived after its request had ended", e);
            }
        });
        // The worker event loops first: a Redis store's connection lives on them (issue 18), so a call's limits are
        // written and answered on the loop its request is on (no hop to another thread).
        io.netty.channel.EventLoopGroup workers = GatewayServer.workers(0);
        Limiter limiter;
        try {
            limiter = limiter(config.store(), registry, workers);
        } catch (RuntimeException e) {
            workers.shutdownGracefully(0, 0, TimeUnit.MILLISECONDS);
            throw e;
        }
        // DPoP (issue 16): one replay record for every config snapshot, so a reload never forgets a proof seen.
        dev.portcullis.authn.DpopNonces dpopNonces = config.sessions().keyFile() != null
                ? dev.portcullis.authn.DpopNonces.derivedFrom(config.sessions().key(), java.time.Clock.systemUTC())
                : dev.portcullis.authn.DpopNonces.withRandomKey(java.time.Clock.systemUTC());
        dev.portcullis.authn.DpopProofVerifier dpop = new dev.portcullis.authn.DpopProofVerifier(java.time.Clock.systemUTC(),
                replayGuard(limiter), dpopNonces);
        AtomicReference<Snapshot> live = new AtomicReference<>();
        Approvals approvals = Approvals.of(config, limiter, sessions, built.argumentLogging, json,
                () -> live.get() != null ? live.get().built() : built);
        Shared shared = new Shared(json, registry, reloads, sessions, legacyStreams, upstreamEras, listenStreams, forward,
                auditor, network, tracing, dpop, dpopNonces, limiter, approvals.gate());
        Snapshot first = Snapshot.of(built, shared);
        live.set(first);

        ShutdownState state = new ShutdownState();
        state.reloads = reloads;
        state.tracing = tracing;
        state.processMetrics = processMetrics;
        state.upstreamEras = upstreamEras;
        state.limiter = limiter;
        GatewayServer server;
        AdminServer admin;
        ConfigReload reload = new ConfigReload(source, live, shared, () -> state.stopping);
        try {
            // Issue 14: every request reads the snapshot in force when it arrives (one volatile read).
            server = bind("listen", config.listen().host(), config.listen().port(),
                    () -> GatewayServer.bind(config.listen(), workers, network, in -> live.get().path().handle(in)));
            reload.tlsTarget(server);
            if (approvals.pages() != null) {
                try {
                    var page = config.approvals();
                    state.approvals = bind("approvals", page.listen().host(), page.listen().port(),
                            () -> dev.portcullis.app.approvals.ApprovalServer.bind(page, approvals.pages()));
                } catch (RuntimeException e) {
                    server.closeConnections(); // the workers stop below, after the store
                    throw e;
                }
            }
            try {
                admin = bind("admin", config.admin().host(), config.admin().port(), () -> AdminServer.bind(config.admin(),
                        () -> readiness(state, live.get(), reload), registry));
            } catch (RuntimeException e) {
                server.closeConnections(); // the workers stop below, after the store
                if (state.approvals != null) {
                    state.approvals.close();
                }
                throw e;
            }
        } catch (RuntimeException e) {
            reloads.shutdownNow();
            upstreamEras.close();
            forward.close();
            limiter.close();
            workers.shutdownGracefully(0, 2, TimeUnit.SECONDS); // after the store: its connection lives on them
            tracing.close();
            processMetrics.close();
            throw e;
        }
        GatewayMetrics.bindEventLoops(registry, server.workers());
        first.start(shared, null);
        reload.watch();
        log.info("Portcullis listening on {}:{} ({}, {}), admin on {}:{}, routes {}", config.listen().host(), server.port(),
                config.listen().tls() != null ? "TLS" : "plain HTTP", Transport.name(), config.admin().host(), admin.port(),
                Snapshot.describe(first.built().routes));
        return new Gateway(server, admin, forward, live, reload, state);
    }

    /** What every config snapshot shares: built once at start, never swapped. */
    record Shared(ObjectMapper json, PrometheusMeterRegistry registry, ScheduledExecutorService reloads,
                  SessionBinding sessions, LegacyStreams legacyStreams, UpstreamEras upstreamEras,
                  ListenStreams listenStreams, Forward forward, Auditor auditor, NetworkConditions network,
                  Tracing tracing, dev.portcullis.authn.DpopProofVerifier dpop, dev.portcullis.authn.DpopNonces dpopNonces,
                  Limiter limiter, dev.portcullis.authz.ApprovalGate approvals) {}

    /**
     * Issue 17: the approval gate every request path shares, and the page where approvals are given (when
     * {@code approvals} is configured). Pending approvals live in the limits' shared store when there is one (an
     * approval given on one replica is honoured by all), else in this process. Built once; a reload keeps them.
     */
    record Approvals(dev.portcullis.authz.ApprovalGate gate, dev.portcullis.app.approvals.ApprovalPages pages) {
        static Approvals of(GatewayConfig config, Limiter limiter, SessionBinding sessions, ArgumentLogging masking,
                            ObjectMapper json, java.util.function.Supplier<Assembly> current) {
            var page = config.approvals();
            if (page == null) {
                return new Approvals(dev.portcullis.authz.ApprovalGate.withoutPage(), null);
            }
            dev.portcullis.store.ClusterStore kv = limiter.shared() != null ? limiter.shared()
                    : new dev.portcullis.store.MemoryStore();
            var store = new dev.portcullis.approval.SharedApprovals(kv, Clock.systemUTC());
            dev.portcullis.approval.ApprovalAudit audit = page.webhook() == null ? new dev.portcullis.approval.ApprovalAudit()
                    : new dev.portcullis.approval.ApprovalWebhook(java.net.URI.create(page.webhook().url()),
                    page.webhook()::secret, id -> page.publicUrl() + "/approvals/" + id, Clock.systemUTC());
            var gate = new dev.portcullis.authz.ApprovalGate(store, audit, sessions, masking, page.publicUrl(),
                    Clock.systemUTC());
            var login = new dev.portcullis.app.approvals.OidcLogin(page,
                    () -> current.get().keys.stream().filter(k -> k.config().issuer().equals(page.issuer())).findFirst()
                            .orElseThrow(), () -> current.get().tokenEndpoints, json, Clock.systemUTC());
            return new Approvals(gate, new dev.portcullis.app.approvals.ApprovalPages(page, store, audit, login,
                    Clock.systemUTC(), Ticker.systemTicker()));
        }
    }

    /**
     * Issue 18: where the routes' limits are counted: in process ({@code store: {type: memory}}, the default), or
     * in Redis/Valkey, shared by the replicas. Built once at start; a reload keeps it ({@code store} changes need a
     * restart).
     */
    /**
     * Where accepted DPoP proofs are remembered (issue 16): this process's memory, and with a Redis/Valkey store
     * also the store, so a proof replayed to another replica is refused ({@link dev.portcullis.authn.SharedReplayGuard}).
     */
    static dev.portcullis.authn.ReplayGuard replayGuard(Limiter limiter) {
        dev.portcullis.authn.ReplayGuard local = new dev.portcullis.authn.InMemoryReplayGuard(MAX_REMEMBERED_DPOP_PROOFS,
                Ticker.systemTicker());
        return limiter.shared() == null ? local : new dev.portcullis.authn.SharedReplayGuard(local, limiter.shared());
    }

    static Limiter limiter(dev.portcullis.config.StoreConfig store, MeterRegistry registry) {
        return limiter(store, registry, null);
    }

    /** {@code workers}: the gateway's worker loops, which a Redis store's connection lives on (null: its own). */
    static Limiter limiter(dev.portcullis.config.StoreConfig store, MeterRegistry registry,
                           io.netty.channel.EventLoopGroup workers) {
        dev.portcullis.store.MemoryStore local = new dev.portcullis.store.MemoryStore(store.maxLocalBuckets());
        dev.portcullis.store.ClusterStore shared = store.redis() ? new dev.portcullis.store.RedisStore(store, workers) : null;
        Limiter limiter = new Limiter(shared, local, store.replicas(), store.leaseTime(), store.reserveShare(),
                store.reserveHold(), registry);
        io.micrometer.core.instrument.Gauge.builder("portcullis.limit.store.up", limiter, l -> l.sharedUp() ? 1 : 0)
                .description("1 while the store the limits are counted in answers (always 1 in memory)")
                .tag("store", store.type()).strongReference(true).register(registry);
        return limiter;
    }

    /**
     * One config in force (issue 14): what {@link Assembly} built from it and the request path over it. Swapped
     * whole by a reload; a request reads it once, when it arrives, and keeps it to its end.
     */
    record Snapshot(Assembly built, McpRequestPath path, List<java.util.concurrent.ScheduledFuture<?>> timers) {
        static Snapshot of(Assembly built, Shared shared) {
            GatewayConfig config = built.config;
            McpRequestPath path = new McpRequestPath(
                    McpRequestPath.Stages.of(
                            new RouteStage(new RouteTable(built.routes), built.origin, shared.json()),
                            new Authenticate(built.verifier, shared.dpop()),
                            new Inspect(config.listen().maxBodySize().bytes(), config.listen().maxBatchSize(), shared.sessions(),
                                    shared.upstreamEras()),
                            new Authorize(),
                            new Exchange(built.credentials),
                            shared.forward()),
                    shared.auditor(),
                    shared.legacyStreams(),
                    new FailureResponses(shared.json(), route -> shared.dpopNonces().issue(route.name())),
                    shared.network(),
                    shared.tracing(),
                    shared.limiter(),
                    shared.approvals());
            built.outbound.traced(shared.tracing());
            built.tokenEndpoints.traced(shared.tracing());
            built.introspections.traced(shared.tracing());
            return new Snapshot(built, path, new java.util.concurrent.CopyOnWriteArrayList<>());
        }

        /**
         * Starts what a running config needs: key fetches, upstream era probes, policy file watches and their
         * listen-stream announcements (V26-34); after a reload, announces the policies that changed with it.
         */
        void start(Shared shared, Snapshot before) {
            built.keys.forEach(JwksCache::preload);
            shared.upstreamEras().probe(built.routes, Duration.ofSeconds(30));
            for (Route route : built.routes) {
                if (route.policy() instanceof PolicySource source) {
                    long every = route.config().policyReloadInterval().toMillis();
                    timers.add(shared.reloads().scheduleWithFixedDelay(source::reloadIfChanged, every, every,
                            TimeUnit.MILLISECONDS));
                    // V26-34: a reload that changes what a caller sees is announced on its open listen streams.
                    source.onChange((was, now) -> shared.listenStreams().policyChanged(route.name(), was, now));
                }
                if (before != null) {
                    before.built.routes.stream().filter(r -> r.name().equals(route.name())).findFirst()
                            .ifPresent(old -> shared.listenStreams().policyChanged(route.name(), old.policy(), route.policy()));
                }
            }
        }

        /** Stops this snapshot's policy watches; its outbound clients close once calls that hold them are done. */
        void retire(ScheduledExecutorService reloads) {
            timers.forEach(timer -> timer.cancel(false));
            reloads.schedule(built::close, 2, TimeUnit.MINUTES);
        }

        boolean keysLoaded() {
            return built.keys.stream().allMatch(JwksCache::loaded);
        }

        static String describe(List<Route> routes) {
            return routes.stream().map(r -> r.path() + " -> " + r.name() + " (upstream-auth "
                    + r.config().upstreamAuth().type() + ")").collect(Collectors.joining(", "));
        }
    }

    /**
     * {@code /readyz}: 503 while stopping or while the config in force has issuers whose keys are not loaded;
     * otherwise 200 with a detail line for each stale state (issue 14): a gateway.yaml on disk that is not the
     * one in force, a policy file that is not the one in force. Both keep the last good one running.
     */
    static AdminServer.Readiness readiness(ShutdownState state, Snapshot current, ConfigReload reload) {
        if (state.stopping) {
            return new AdminServer.Readiness(false, "not ready: shutting down\n");
        }
        if (!current.keysLoaded()) {
            return new AdminServer.Readiness(false, "not ready: signing keys not loaded\n");
        }
        String storeDown = null;
        if (state.limiter != null && !state.limiter.sharedUp()) {
            // Issue 18: unready only when a route's limits fail closed (its limited calls are refused meanwhile).
            List<String> closed = current.built().routes.stream()
                    .filter(r -> !r.policy().limits().isEmpty()
                            && r.policy().limits().fail() == dev.portcullis.policy.Limits.FailMode.CLOSED)
                    .map(Route::name).toList();
            String what = "shared store down: " + state.limiter.shared().describe();
            if (!closed.isEmpty()) {
                return new AdminServer.Readiness(false, "not ready: " + what + "; routes with limits.fail closed: "
                        + String.join(", ", closed) + "\n");
            }
            storeDown = what + " (routes count their limits locally: limits.fail local)";
        }
        StringBuilder body = new StringBuilder("ready\n");
        if (storeDown != null) {
            body.append(storeDown).append('\n');
        }
        String configStale = reload.staleReason();
        if (configStale != null) {
            body.append("config stale: ").append(configStale.replace('\n', ' ')).append('\n');
        }
        for (Route route : current.built().routes) {
            if (route.policy() instanceof PolicySource source && source.staleReason() != null) {
                body.append("policy stale: route ").append(route.name()).append(": ")
                        .append(source.staleReason().replace('\n', ' ')).append('\n');
            }
        }
        return new AdminServer.Readiness(true, body.toString());
    }

    /** The key cache (and metadata discovery) of {@code issuer}, or null: where a route's token endpoint is found. */
    private static JwksCache keysOf(List<JwksCache> keys, IssuerConfig issuer) {
        return issuer == null ? null : keys.stream().filter(k -> k.config() == issuer).findFirst().orElseThrow();
    }

    /** A listener that cannot be bound: one line naming it and why (port in use, address not local, no permission). */
    public static final class BindException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        BindException(String message, Throwable cause) {
            super(message, cause, false, false);
        }
    }

    private static <T> T bind(String what, String host, int port, java.util.function.Supplier<T> bind) {
        try {
            return bind.get();
        } catch (Exception e) { // Netty's bind failure (NativeIoException, BindException) is a checked exception thrown unchecked
            Throwable root = e;
            while (root.getCause() != null && root.getCause() != root) {
                root = root.getCause();
            }
            String why = root instanceof java.net.BindException || String.valueOf(root.getMessage()).contains("in use")
                    ? "address already in use (another process has the port)"
                    : root.getClass().getSimpleName() + (root.getMessage() == null ? "" : ": " + root.getMessage());
            throw new BindException(what + " " + host + ":" + port + ": cannot listen: " + why, e);
        }
    }

    /**
     * SECURITY-03: the gateway's own fetches reach public addresses, the {@code outbound.allow-private}
     * ranges, and the loopback addresses that configured URLs name literally.
     */
    static OutboundAddressPolicy outboundAddresses(GatewayConfig config) {
        List<String> urls = new java.util.ArrayList<>();
        for (IssuerConfig issuer : config.issuers()) {
            if (!issuer.isTemplate()) { // a {tenantid} template is no URL; its keys come from its jwks-uri
                urls.add(issuer.issuer());
            }
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
     * The route's policy: its file (watched for changes once the gateway starts; a bad file at start is
     * an error: the gateway does not start), or {@link Policy#authenticatedOnly()} when the route names none.
     */
    private static Policy policyFor(RouteConfig route, MeterRegistry metrics) {
        if (route.policy() == null) {
            return Policy.authenticatedOnly();
        }
        return PolicySource.load(route.name(), route.policy(), metrics);
    }

    /** Host and Origin allow-lists: configured, or derived from the routes' resource identifiers. */
    private static RequestOrigin requestOrigin(GatewayConfig config, List<Route> routes) {
        // Aliases are audiences, not necessarily URLs (a Keycloak client id, an Entra application GUID): only
        // the http(s) URLs among them name a host the gateway may be reached under.
        Set<String> resources = routes.stream().flatMap(r -> r.acceptedAudiences().stream())
                .filter(Gateway::isHttpUrl).collect(Collectors.toSet());
        Set<String> hosts = config.listen().allowedHosts() != null ? Set.copyOf(config.listen().allowedHosts())
                : resources.stream().map(r -> java.net.URI.create(r).getHost()).collect(Collectors.toSet());
        Set<String> origins = config.listen().allowedOrigins() != null ? Set.copyOf(config.listen().allowedOrigins())
                : resources.stream().map(RequestOrigin::originOf).collect(Collectors.toSet());
        return new RequestOrigin(hosts, origins);
    }

    private static boolean isHttpUrl(String audience) {
        try {
            java.net.URI uri = new java.net.URI(audience);
            return ("https".equalsIgnoreCase(uri.getScheme()) || "http".equalsIgnoreCase(uri.getScheme()))
                    && uri.getHost() != null;
        } catch (java.net.URISyntaxException e) {
            return false;
        }
    }

    public int port() {
        return server.port();
    }

    /** Issue 17: the approval page's port, or -1 without one. */
    public int approvalsPort() {
        return state.approvals == null ? -1 : state.approvals.port();
    }

    public int adminPort() {
        return admin.port();
    }

    /** True once every issuer's signing keys are loaded. */
    public boolean ready() {
        return live.get().keysLoaded();
    }

    /**
     * Re-reads the config file, validates it and swaps it in, or keeps the one in force and says why
     * (issue 14: SIGHUP, and the file watch). Returns at once; the reload runs on the reload thread.
     */
    public void reload(String why) {
        reload.reloadLater(why);
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
        // The listener closes before readiness turns false: whoever sees /readyz answer 503 (a probe, a test)
        // can no longer open a connection to the listener.
        server.stopAccepting();
        state.stopping = true;
        Duration shutdownGrace = live.get().built().config.listen().shutdownGrace();
        log.info("Portcullis stopping: {} SSE stream(s) open, grace {}", forward.activeStreams(), shutdownGrace);
        state.reloads.shutdownNow();
        state.upstreamEras.close();
        // Issue 14: accept nothing new, end the streams that answer no request (GET and listen streams, the
        // way their revision ends them), let calls in progress finish within the grace ...
        server.drain();
        forward.drain();
        if (!server.awaitIdle(shutdownGrace)) {
            // ... and give each call still running a JSON-RPC error with its id before its connection closes.
            log.warn("Portcullis: {} call(s) still in progress after the shutdown grace ({}): answering each with a "
                    + "JSON-RPC error and closing its connection", forward.callsInProgress(), shutdownGrace);
            forward.graceOver();
            if (!server.awaitIdle(GRACE_OVER_WRITE)) {
                log.warn("Portcullis: closing {} connection(s) with a request still in progress", server.busy());
            }
        }
        server.closeConnections();
        admin.close();
        if (state.approvals != null) {
            state.approvals.close();
        }
        forward.close();
        // After every call ended: a shared store gives back any lease still held, on the worker loops its
        // connection lives on (issue 18), which stop after it.
        state.limiter.close();
        server.close();
        log.info("Portcullis stopped");
    }

}
