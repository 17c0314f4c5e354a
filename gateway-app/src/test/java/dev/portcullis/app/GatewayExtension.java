package dev.portcullis.app;

import dev.portcullis.testing.TestIdp;
import dev.portcullis.testing.TestMcpServer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Objects;
import java.util.function.BiFunction;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.function.Executable;
import org.reactivestreams.Publisher;
import reactor.core.publisher.Mono;
import reactor.netty.DisposableServer;
import reactor.netty.http.server.HttpServer;
import reactor.netty.http.server.HttpServerRequest;
import reactor.netty.http.server.HttpServerResponse;
import reactor.netty.resources.LoopResources;

/**
 * The peers of an end-to-end test: an IdP ({@link TestIdp}, a real mock-oauth2-server), an upstream
 * (a Java MCP SDK server, {@link TestMcpServer}, or a scripted Reactor Netty stub) and a gateway
 * ({@link GatewayHarness}), all on 127.0.0.1 with free ports, started once per test class (or once per
 * test with {@link Builder#perTest()}) and stopped by their handles afterwards, gateways first.
 *
 * <pre>{@code
 * @RegisterExtension
 * static final GatewayExtension peers = GatewayExtension.builder().policy(POLICY, Duration.ofMillis(100)).build();
 * private final TestIdp idp = peers.idp();
 * private final TestMcpServer upstream = peers.upstream();
 * private final GatewayHarness gw = peers.gateway();
 * }</pre>
 *
 * <p>Register it on a {@code static} field. Each accessor starts what it returns on first use (so
 * instance fields can be initialised from it, whatever the test instance lifecycle); {@code beforeAll}
 * starts the rest. Before each test a reloadable policy file is restored (and given time to load),
 * then the upstream's recorded requests are cleared. The gateway's default configuration is {@link GatewayHarness#start}'s.
 */
final class GatewayExtension implements BeforeAllCallback, AfterAllCallback, BeforeEachCallback, AfterEachCallback {

    private final Builder spec;
    private final Deque<AutoCloseable> started = new ArrayDeque<>();
    private TestIdp idp;
    private TestMcpServer mcpServer;
    private DisposableServer stub;
    private GatewayHarness gateway;
    private Path policyFile;
    private boolean beforeStartRan;

    private GatewayExtension(Builder spec) {
        this.spec = spec;
    }

    static Builder builder() {
        return new Builder();
    }

    /** What to start and how to configure the gateway. */
    static final class Builder {
        private Supplier<TestIdp> idp = TestIdp::start;
        private UnaryOperator<HttpServer> stub;
        private int stubLoopThreads;
        private boolean mcpServer = true;
        private String upstreamPath = "/mcp";
        private String policy;
        private Duration policyReload;
        private String route = "";
        private String issuer = "";
        private Function<GatewayExtension, String> config;
        private boolean gateway = true;
        private boolean perTest;
        private Executable beforeStart;

        private Builder() {
        }

        /** How the IdP starts, e.g. {@code TestIdp::startWithTokenExchange}; default {@link TestIdp#start()}. */
        Builder idp(Supplier<TestIdp> start) {
            this.idp = Objects.requireNonNull(start);
            return this;
        }

        /** The upstream is a scripted stub answering every request with {@code handler}, not an MCP SDK server. */
        Builder stub(BiFunction<? super HttpServerRequest, ? super HttpServerResponse, ? extends Publisher<Void>> handler) {
            return stubServer(server -> server.handle(handler));
        }

        /** The upstream is a stub configured by {@code server} (routes, event loops), bound to 127.0.0.1 on a free port. */
        Builder stubServer(UnaryOperator<HttpServer> server) {
            this.stub = Objects.requireNonNull(server);
            this.mcpServer = false;
            return this;
        }

        /** The stub runs on {@code threads} event loops of its own ({@code upstream-*}), not the gateway's. */
        Builder stubOnOwnLoops(int threads) {
            this.stubLoopThreads = threads;
            return this;
        }

        /** The path on the stub that the gateway's route forwards to; default {@code /mcp}. */
        Builder upstreamPath(String path) {
            this.upstreamPath = path;
            return this;
        }

        /** No upstream of the extension's (the test brings its own). */
        Builder noUpstream() {
            this.stub = null;
            this.mcpServer = false;
            return this;
        }

        /** The route's policy: {@code yaml} in a temporary file ({@link #policyFile()}). */
        Builder policy(String yaml) {
            this.policy = yaml;
            return this;
        }

        /**
         * A policy the tests edit: re-read every {@code reload}, and before each test written back to
         * {@code yaml} and given three reload intervals to take effect.
         */
        Builder policy(String yaml, Duration reload) {
            this.policy = yaml;
            this.policyReload = reload;
            return this;
        }

        /** More keys for the gateway's route (YAML, one key per line). */
        Builder route(String yaml) {
            this.route = yaml;
            return this;
        }

        /** More keys for the gateway's issuer (YAML, one key per line). */
        Builder issuer(String yaml) {
            this.issuer = yaml;
            return this;
        }

        /** The gateway's whole configuration instead of the default one, built from the started peers. */
        Builder config(Function<GatewayExtension, String> yaml) {
            this.config = Objects.requireNonNull(yaml);
            return this;
        }

        /** No gateway of the extension's: the tests start their own (with {@link #idp()} and {@link #upstreamUrl()}). */
        Builder noGateway() {
            this.gateway = false;
            return this;
        }

        /** A fresh IdP, upstream and gateway for every test instead of one set per class. */
        Builder perTest() {
            this.perTest = true;
            return this;
        }

        /** Runs once before anything is started (e.g. installing BlockHound). */
        Builder beforeStart(Executable action) {
            this.beforeStart = action;
            return this;
        }

        GatewayExtension build() {
            return new GatewayExtension(this);
        }
    }

    // --- the peers --------------------------------------------------------------------------------

    synchronized TestIdp idp() {
        if (idp == null) {
            runBeforeStart();
            idp = spec.idp.get();
            started.push(() -> idp.close());
        }
        return idp;
    }

    /**
     * Stops the IdP if it still runs and starts a new one ({@link TestIdp#start(int)}) on the same port,
     * with a new signing key: the IdP coming back after an outage. The new one is stopped with the rest.
     */
    synchronized TestIdp restartIdp() {
        TestIdp old = idp();
        old.stop();
        idp = TestIdp.start(old.port());
        return idp;
    }

    /** The Java MCP SDK upstream. */
    synchronized TestMcpServer upstream() {
        if (!spec.mcpServer) {
            throw new IllegalStateException("this test's upstream is " + (spec.stub == null ? "its own" : "a stub: use stub()"));
        }
        if (mcpServer == null) {
            runBeforeStart();
            mcpServer = TestMcpServer.start();
            started.push(mcpServer);
        }
        return mcpServer;
    }

    /** The scripted upstream. */
    synchronized DisposableServer stub() {
        if (spec.stub == null) {
            throw new IllegalStateException("this test has no stub upstream");
        }
        if (stub == null) {
            runBeforeStart();
            HttpServer server = HttpServer.create().host("127.0.0.1").port(0);
            if (spec.stubLoopThreads > 0) {
                LoopResources loops = LoopResources.create("upstream", spec.stubLoopThreads, true);
                started.push(loops::dispose);
                server = server.runOn(loops);
            }
            stub = spec.stub.apply(server).bindNow();
            started.push(stub::disposeNow);
        }
        return stub;
    }

    /** {@code http://127.0.0.1:<stub port><path>}. */
    String stubUrl(String path) {
        return "http://127.0.0.1:" + stub().port() + path;
    }

    /** The URL the gateway's route forwards to. */
    String upstreamUrl() {
        return spec.mcpServer ? upstream().url() : stubUrl(spec.upstreamPath);
    }

    /** The route's policy file (written on first use). */
    synchronized Path policyFile() {
        if (spec.policy == null) {
            throw new IllegalStateException("no policy configured");
        }
        if (policyFile == null) {
            try {
                Path dir = Files.createTempDirectory("portcullis-test-policy");
                policyFile = Files.writeString(dir.resolve("policy.yaml"), spec.policy);
                started.push(() -> {
                    Files.deleteIfExists(policyFile);
                    Files.deleteIfExists(dir);
                });
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return policyFile;
    }

    /** The gateway, configured by the builder, ready (its IdP's keys loaded). */
    synchronized GatewayHarness gateway() {
        if (!spec.gateway) {
            throw new IllegalStateException("this test starts its own gateways");
        }
        if (gateway == null) {
            gateway = spec.config != null
                    ? GatewayHarness.startYaml(spec.config.apply(this))
                    : GatewayHarness.start(idp().issuer(), upstreamUrl(), routeYaml(), spec.issuer);
            started.push(gateway);
        }
        return gateway;
    }

    /**
     * One more gateway beside {@link #gateway()}: the default configuration with this IdP, forwarding to
     * {@code upstreamUrl}, with {@code extraRouteYaml}; stopped with the rest.
     */
    synchronized GatewayHarness startGateway(String upstreamUrl, String extraRouteYaml) {
        GatewayHarness another = GatewayHarness.start(idp().issuer(), upstreamUrl, extraRouteYaml, spec.issuer);
        started.push(another);
        return another;
    }

    /** A gateway from a whole configuration (e.g. one using {@link #issuerYaml()}), ready; stopped with the rest. */
    synchronized GatewayHarness startGatewayYaml(String yaml) {
        GatewayHarness another = GatewayHarness.startYaml(yaml);
        started.push(another);
        return another;
    }

    /**
     * This IdP as an entry of {@code issuers:} for a whole configuration (no trailing newline): its JWKS
     * named (plain http on loopback), RS256, access tokens of type {@code JWT} accepted.
     */
    String issuerYaml() {
        return """
                  - issuer: "%s"
                    jwks-uri: "%s"
                    algorithms: [RS256]
                    require-access-token-type: false
                    allow-insecure-http: true
                """.formatted(idp().issuer(), idp().jwksUri()).stripTrailing();
    }

    /** Whether a stub's request body is the gateway's era probe (a 2026-07-28 {@code server/discover} at start). */
    static boolean isEraProbe(String body) {
        return body.contains("portcullis-probe");
    }

    /** A stub's answer to the era probe as a legacy server gives it: the session-less request refused (as the Java SDK does). */
    static Mono<Void> refuseProbeAsLegacy(HttpServerResponse res) {
        return res.status(400).header("Content-Type", "application/json").sendString(Mono.just(
                "{\"jsonrpc\":\"2.0\",\"id\":\"portcullis-probe\",\"error\":{\"code\":-32601,"
                        + "\"message\":\"Session ID required in mcp-session-id header\"}}")).then();
    }

    /**
     * A stub upstream on 127.0.0.1 that answers every call with an empty tool result and the era probe as a legacy
     * server does (the BlockHound tests' upstream: what it answers is not what they are about).
     */
    static reactor.netty.DisposableServer emptyResultUpstream() {
        return reactor.netty.http.server.HttpServer.create().host("127.0.0.1").port(0)
                .handle((req, res) -> req.receive().aggregate().asString().defaultIfEmpty("").flatMap(body ->
                        isEraProbe(body) ? refuseProbeAsLegacy(res)
                                : res.header("Content-Type", "application/json").sendString(Mono.just(
                                        "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"content\":[]}}")).then()))
                .bindNow();
    }

    private String routeYaml() {
        StringBuilder yaml = new StringBuilder();
        if (spec.policy != null) {
            yaml.append("policy: ").append(policyFile()).append('\n');
        }
        if (spec.policyReload != null) {
            yaml.append("policy-reload-interval: ").append(spec.policyReload.toMillis()).append("ms\n");
        }
        return yaml.append(spec.route).toString();
    }

    private void runBeforeStart() {
        if (!beforeStartRan) {
            beforeStartRan = true;
            if (spec.beforeStart != null) {
                try {
                    spec.beforeStart.execute();
                } catch (Throwable t) {
                    throw new IllegalStateException("beforeStart failed", t);
                }
            }
        }
    }

    // --- the lifecycle ----------------------------------------------------------------------------

    private synchronized void startAll() {
        idp();
        if (spec.mcpServer) {
            upstream();
        } else if (spec.stub != null) {
            stub();
        }
        if (spec.gateway) {
            gateway();
        }
    }

    /** Stops everything started, the last started first, and forgets it (a later accessor starts anew). */
    private synchronized void stopAll() throws Exception {
        Exception failure = null;
        while (!started.isEmpty()) {
            try {
                started.pop().close();
            } catch (Exception e) {
                if (failure == null) {
                    failure = e;
                } else {
                    failure.addSuppressed(e);
                }
            }
        }
        idp = null;
        mcpServer = null;
        stub = null;
        gateway = null;
        policyFile = null;
        beforeStartRan = false;
        if (failure != null) {
            throw failure;
        }
    }

    @Override
    public void beforeAll(ExtensionContext context) {
        if (!spec.perTest) {
            startAll();
        }
    }

    @Override
    public void beforeEach(ExtensionContext context) throws Exception {
        if (spec.perTest) {
            startAll();
            return;
        }
        if (spec.policyReload != null) {
            Files.writeString(policyFile(), spec.policy);
            GatewayHarness.sleep(spec.policyReload.toMillis() * 3);
        }
        // After the wait: what the previous test's clients still sent meanwhile (a session's DELETE) is gone too.
        if (mcpServer != null) {
            mcpServer.clearRequests();
        }
    }

    @Override
    public void afterEach(ExtensionContext context) throws Exception {
        if (spec.perTest) {
            stopAll();
        }
    }

    @Override
    public void afterAll(ExtensionContext context) throws Exception {
        stopAll();
    }
}
