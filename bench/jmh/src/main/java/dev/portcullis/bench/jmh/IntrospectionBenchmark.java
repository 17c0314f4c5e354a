package dev.portcullis.bench.jmh;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.benmanes.caffeine.cache.Ticker;
import dev.portcullis.Step;
import dev.portcullis.authn.Authenticate;
import dev.portcullis.authn.AuthenticatedRequest;
import dev.portcullis.authn.DpopNonces;
import dev.portcullis.authn.DpopProofVerifier;
import dev.portcullis.authn.Introspection;
import dev.portcullis.authn.JwksCache;
import dev.portcullis.authn.TokenVerifier;
import dev.portcullis.config.IntrospectionConfig;
import dev.portcullis.config.IssuerConfig;
import dev.portcullis.config.RouteConfig;
import dev.portcullis.http.OutboundHttp;
import dev.portcullis.listen.RequestHead;
import dev.portcullis.policy.Policy;
import dev.portcullis.route.Route;
import dev.portcullis.route.RoutedRequest;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import java.net.URI;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import reactor.core.publisher.Mono;

/**
 * Issue 16's cost target for opaque tokens (RFC 7662 introspection, docs/introspection.md): a request whose
 * introspection answer is cached costs about what a request with a cached JWT does. All three go through the whole
 * authenticate stage ({@link Authenticate#apply}), set up as {@link DpopBenchmark}'s {@code bearerCachedToken}:
 * <ul>
 *   <li>{@code bearerCachedToken}: a JWT whose verification (and principal) is cached; no introspection configured
 *       (the same case as {@link DpopBenchmark#bearerCachedToken});</li>
 *   <li>{@code opaqueCachedAnswer}: an opaque token of an issuer with {@code introspection.tokens: opaque}, whose
 *       {@code active: true} answer is cached;</li>
 *   <li>{@code opaqueJweCachedAnswer}: the same for a token that is a JWE (opaque to the gateway, introspected);</li>
 *   <li>{@code jwtIntrospectedCached}: a JWT of an issuer with {@code tokens: all}: its local verification is cached
 *       and so is its introspection answer (both are judged on every request).</li>
 * </ul>
 * The endpoint is a fake {@link Introspection.Poster} (no socket: what is measured is the gateway's hit path, not a
 * network) that answers once per token, in the setup. Once the setup is done it refuses to be called: a benchmark
 * that silently measured introspection misses would be a defect, so a miss fails the run (the stage would also not
 * answer at once, and {@link Step#value()} throws then), and every iteration checks the call counts.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
@State(Scope.Thread)
public class IntrospectionBenchmark {
    static final String ENDPOINT = "https://idp.bench.example/introspect";

    /** The introspection endpoint: one fixed {@code active: true} answer; refuses calls once {@link #armed}. */
    static final class CountingEndpoint implements Introspection.Poster {
        final AtomicInteger calls = new AtomicInteger();
        private final byte[] answer;
        volatile boolean armed;

        CountingEndpoint(byte[] answer) {
            this.answer = answer;
        }

        @Override
        public Mono<OutboundHttp.Response> post(URI uri, String form, Map<String, String> headers, Duration timeout) {
            int n = calls.incrementAndGet();
            if (armed) {
                throw new IllegalStateException("introspection endpoint called during measurement (call " + n
                        + "): the benchmark would measure cache misses");
            }
            return Mono.just(new OutboundHttp.Response(200, "application/json", answer));
        }
    }

    private BenchIssuer issuer;
    private OutboundHttp http;
    private Authenticate bearerStage;
    private Authenticate opaqueStage;
    private Authenticate jwtIntrospectedStage;
    private RoutedRequest bearer;
    private RoutedRequest opaque;
    private RoutedRequest opaqueJwe;
    private RoutedRequest jwtIntrospected;
    private CountingEndpoint opaqueEndpoint;
    private CountingEndpoint jwtEndpoint;

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        issuer = new BenchIssuer();
        http = new OutboundHttp(Duration.ofSeconds(2), Duration.ofSeconds(2));
        ObjectMapper json = new ObjectMapper();
        DpopNonces nonces = DpopNonces.withRandomKey(Clock.systemUTC());
        DpopProofVerifier dpop = new DpopProofVerifier(Clock.systemUTC(), (key, ttl) -> Step.now(true), nonces);
        RouteConfig routeConfig = new RouteConfig("bench", "/mcp", "http://127.0.0.1:1/mcp", BenchIssuer.RESOURCE, null, null,
                null, null, null, null, null, null, null, null, null, null);

        // (a) DpopBenchmark's bearer case: an issuer without introspection.
        IssuerConfig plain = issuerConfig(null);
        JwksCache plainKeys = new JwksCache(plain, http, json, Ticker.systemTicker());
        plainKeys.keys().block(Duration.ofSeconds(5));
        bearerStage = new Authenticate(new TokenVerifier(List.of(plainKeys), Clock.systemUTC(), Ticker.systemTicker(), 100_000), dpop);
        String jwt = issuer.rs256();
        bearer = request(Route.compile(routeConfig, List.of(BenchIssuer.ISSUER), Policy.authenticatedOnly(), List.of(plain)),
                "Bearer " + jwt);

        // The answer an issuer gives for an active token: the JWT's claims (RFC 7662 §2.2), cached up to cache-max (1h).
        Instant now = Instant.now();
        Map<String, Object> claims = new LinkedHashMap<>();
        claims.put("active", true);
        claims.put("iss", BenchIssuer.ISSUER);
        claims.put("sub", "bench-user");
        claims.put("aud", BenchIssuer.RESOURCE);
        claims.put("client_id", "bench-agent");
        claims.put("scope", "mcp:tools tickets:read");
        claims.put("token_type", "Bearer");
        claims.put("iat", now.getEpochSecond());
        claims.put("exp", now.plus(Duration.ofHours(2)).getEpochSecond());
        claims.put("jti", UUID.randomUUID().toString());
        byte[] answer = json.writeValueAsBytes(claims);

        // (b) An opaque token (32 random bytes, base64url: no dots) of an issuer with tokens: opaque.
        IssuerConfig opaqueIssuer = issuerConfig(introspection("opaque"));
        opaqueEndpoint = new CountingEndpoint(answer);
        Introspection opaqueIntrospection = new Introspection(opaqueIssuer, () -> Mono.error(new IllegalStateException("no discovery")),
                opaqueEndpoint, (form, headers, endpoint) -> headers.put("Authorization", "Basic cG9ydGN1bGxpczpiZW5jaA=="),
                json, Clock.systemUTC(), Ticker.systemTicker(), 100_000, null);
        JwksCache opaqueKeys = new JwksCache(opaqueIssuer, http, json, Ticker.systemTicker());
        opaqueKeys.keys().block(Duration.ofSeconds(5));
        opaqueStage = new Authenticate(new TokenVerifier(List.of(opaqueKeys), List.of(opaqueIntrospection), Clock.systemUTC(),
                Ticker.systemTicker(), 100_000), dpop);
        byte[] random = new byte[32];
        new SecureRandom().nextBytes(random);
        Route opaqueRoute = Route.compile(routeConfig, List.of(BenchIssuer.ISSUER), Policy.authenticatedOnly(), List.of(opaqueIssuer));
        opaque = request(opaqueRoute, "Bearer " + Base64.getUrlEncoder().withoutPadding().encodeToString(random));
        // (b') A token opaque to the gateway that is a JWE (five parts, as some IdPs issue their access tokens): the
        // gateway cannot read it, so it goes to introspection too; its answer cached.
        byte[] cek = new byte[32];
        new SecureRandom().nextBytes(cek);
        com.nimbusds.jose.JWEObject jwe = new com.nimbusds.jose.JWEObject(new com.nimbusds.jose.JWEHeader.Builder(
                com.nimbusds.jose.JWEAlgorithm.DIR, com.nimbusds.jose.EncryptionMethod.A256GCM).keyID("enc").build(),
                new com.nimbusds.jose.Payload(answer));
        jwe.encrypt(new com.nimbusds.jose.crypto.DirectEncrypter(cek));
        opaqueJwe = request(opaqueRoute, "Bearer " + jwe.serialize());

        // (c) A JWT of an issuer with tokens: all: verified locally and active at the issuer.
        IssuerConfig allIssuer = issuerConfig(introspection("all"));
        jwtEndpoint = new CountingEndpoint(answer);
        Introspection allIntrospection = new Introspection(allIssuer, () -> Mono.error(new IllegalStateException("no discovery")),
                jwtEndpoint, (form, headers, endpoint) -> headers.put("Authorization", "Basic cG9ydGN1bGxpczpiZW5jaA=="),
                json, Clock.systemUTC(), Ticker.systemTicker(), 100_000, null);
        JwksCache allKeys = new JwksCache(allIssuer, http, json, Ticker.systemTicker());
        allKeys.keys().block(Duration.ofSeconds(5));
        jwtIntrospectedStage = new Authenticate(new TokenVerifier(List.of(allKeys), List.of(allIntrospection), Clock.systemUTC(),
                Ticker.systemTicker(), 100_000), dpop);
        jwtIntrospected = request(Route.compile(routeConfig, List.of(BenchIssuer.ISSUER), Policy.authenticatedOnly(),
                List.of(allIssuer)), "Bearer " + issuer.rs256());

        // Each token once: from here on its verification and its introspection answer are cached.
        Authenticate[] stages = {bearerStage, opaqueStage, opaqueStage, jwtIntrospectedStage};
        RoutedRequest[] requests = {bearer, opaque, opaqueJwe, jwtIntrospected};
        for (int i = 0; i < stages.length; i++) {
            Authenticate stage = stages[i];
            RoutedRequest request = requests[i];
            AuthenticatedRequest first = stage.apply(request).future().get(5, TimeUnit.SECONDS);
            if (!"bench-user".equals(first.principal().subject())) {
                throw new IllegalStateException("setup: unexpected principal " + first.principal().subject());
            }
            if (!stage.apply(request).ready()) {
                throw new IllegalStateException("setup: the second request is not answered at once (not a cache hit)");
            }
        }
        if (opaqueEndpoint.calls.get() != 2 || jwtEndpoint.calls.get() != 1) {
            throw new IllegalStateException("setup: expected one introspection call per token, got "
                    + opaqueEndpoint.calls.get() + " (two opaque tokens) and " + jwtEndpoint.calls.get() + " (JWT, tokens: all)");
        }
        opaqueEndpoint.armed = true;
        jwtEndpoint.armed = true;
    }

    /** DpopBenchmark's issuer, with {@code introspection}. */
    private IssuerConfig issuerConfig(IntrospectionConfig introspection) {
        return new IssuerConfig(BenchIssuer.ISSUER, issuer.jwksUri(), List.of("RS256", "ES256"), "generic", null, null, null, null, true,
                Duration.ofHours(1), Duration.ofSeconds(30), false, null, null, null, "allowed", introspection);
    }

    private static IntrospectionConfig introspection(String tokens) {
        return new IntrospectionConfig(ENDPOINT, "portcullis", null, "bench", null, null, null, null, tokens,
                Duration.ofHours(1), null, Duration.ofSeconds(2));
    }

    private static RoutedRequest request(Route route, String authorization) {
        return new RoutedRequest(RequestHead.of(HttpMethod.POST, "/mcp", new DefaultHttpHeaders()
                .set("Authorization", authorization)), route, "bench");
    }

    /** Introspection calls since the setup (both endpoints): 0 when every measured request was a cache hit. */
    int callsAfterSetup() {
        return opaqueEndpoint.calls.get() - 2 + jwtEndpoint.calls.get() - 1;
    }

    /** Throws when an introspection endpoint was called after the setup: what was measured were misses. */
    void checkNoMisses() {
        if (callsAfterSetup() != 0) {
            throw new IllegalStateException("introspection calls during measurement: " + (opaqueEndpoint.calls.get() - 2)
                    + " (opaque), " + (jwtEndpoint.calls.get() - 1) + " (JWT, tokens: all); the results are not cache hits");
        }
    }

    @TearDown(Level.Iteration)
    public void afterIteration() {
        checkNoMisses();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        http.close();
        issuer.close();
    }

    @Benchmark
    public AuthenticatedRequest bearerCachedToken() {
        return bearerStage.apply(bearer).value();
    }

    @Benchmark
    public AuthenticatedRequest opaqueCachedAnswer() {
        return opaqueStage.apply(opaque).value();
    }

    @Benchmark
    public AuthenticatedRequest opaqueJweCachedAnswer() {
        return opaqueStage.apply(opaqueJwe).value();
    }

    @Benchmark
    public AuthenticatedRequest jwtIntrospectedCached() {
        return jwtIntrospectedStage.apply(jwtIntrospected).value();
    }
}
