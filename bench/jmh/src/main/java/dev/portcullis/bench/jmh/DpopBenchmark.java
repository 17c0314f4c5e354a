package dev.portcullis.bench.jmh;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.benmanes.caffeine.cache.Ticker;
import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.ECDSASigner;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.gen.ECKeyGenerator;
import com.nimbusds.jose.util.Base64URL;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import dev.portcullis.Step;
import dev.portcullis.authn.Authenticate;
import dev.portcullis.authn.AuthenticatedRequest;
import dev.portcullis.authn.DpopNonces;
import dev.portcullis.authn.DpopProofVerifier;
import dev.portcullis.authn.InMemoryReplayGuard;
import dev.portcullis.authn.JwksCache;
import dev.portcullis.authn.TokenVerifier;
import dev.portcullis.config.IssuerConfig;
import dev.portcullis.config.RouteConfig;
import dev.portcullis.http.OutboundHttp;
import dev.portcullis.listen.RequestHead;
import dev.portcullis.policy.Policy;
import dev.portcullis.route.Route;
import dev.portcullis.route.RoutedRequest;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
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

/**
 * Issue 16's cost target: a DPoP request with a cached token costs one signature check (the proof's, ES256) more
 * than a bearer request with a cached token. Both go through the whole authenticate stage ({@link Authenticate#apply}).
 * {@code dpopCachedToken} reuses one proof with a replay guard that never refuses (so the proof can be reused);
 * {@code replayRecord} is the in-memory guard's cost per new proof; {@code es256ProofSignatureOnly} the signature alone.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
@State(Scope.Thread)
public class DpopBenchmark {
    private BenchIssuer issuer;
    private OutboundHttp http;
    private Authenticate bearerStage;
    private Authenticate dpopStage;
    private RoutedRequest bearer;
    private RoutedRequest dpop;
    private InMemoryReplayGuard replay;
    private SignedJWT parsedProof;
    private com.nimbusds.jose.crypto.ECDSAVerifier proofVerifier;
    private long next;

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        issuer = new BenchIssuer();
        http = new OutboundHttp(Duration.ofSeconds(2), Duration.ofSeconds(2));
        IssuerConfig config = new IssuerConfig(BenchIssuer.ISSUER, issuer.jwksUri(), List.of("RS256", "ES256"), "generic",
                null, null, null, null, true, Duration.ofHours(1), Duration.ofSeconds(30), false, null, null, null, "allowed");
        JwksCache keys = new JwksCache(config, http, new ObjectMapper(), Ticker.systemTicker());
        keys.keys().block(Duration.ofSeconds(5));
        TokenVerifier verifier = new TokenVerifier(List.of(keys), Clock.systemUTC(), Ticker.systemTicker(), 100_000);
        DpopNonces nonces = DpopNonces.withRandomKey(Clock.systemUTC());
        bearerStage = new Authenticate(verifier, new DpopProofVerifier(Clock.systemUTC(), (key, ttl) -> Step.now(true), nonces));
        dpopStage = bearerStage;
        replay = new InMemoryReplayGuard(10_000_000, Ticker.systemTicker());
        RouteConfig routeConfig = new RouteConfig("bench", "/mcp", "http://127.0.0.1:1/mcp", BenchIssuer.RESOURCE, null, null,
                null, null, null, null, null, null, null, null, null, null);
        Route route = Route.compile(routeConfig, List.of(BenchIssuer.ISSUER), Policy.authenticatedOnly(), List.of(config));

        ECKey client = new ECKeyGenerator(Curve.P_256).generate();
        String bound = issuer.rs256Bound(client.computeThumbprint().toString());
        JWTClaimsSet claims = new JWTClaimsSet.Builder().jwtID(UUID.randomUUID().toString()).claim("htm", "POST")
                .claim("htu", BenchIssuer.RESOURCE).issueTime(Date.from(Instant.now()))
                .claim("ath", Base64URL.encode(MessageDigest.getInstance("SHA-256").digest(bound.getBytes(StandardCharsets.US_ASCII))).toString())
                .build();
        SignedJWT proof = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.ES256).type(new JOSEObjectType("dpop+jwt"))
                .jwk(client.toPublicJWK()).build(), claims);
        proof.sign(new ECDSASigner(client));
        parsedProof = SignedJWT.parse(proof.serialize());
        proofVerifier = new com.nimbusds.jose.crypto.ECDSAVerifier(client.toECPublicKey());

        String plain = issuer.rs256();
        bearer = new RoutedRequest(RequestHead.of(HttpMethod.POST, "/mcp", new DefaultHttpHeaders()
                .set("Authorization", "Bearer " + plain)), route, "bench");
        dpop = new RoutedRequest(RequestHead.of(HttpMethod.POST, "/mcp", new DefaultHttpHeaders()
                .set("Authorization", "DPoP " + bound).set("DPoP", proof.serialize())), route, "bench");
        // Both tokens verified once: from here on, their signatures are cached.
        bearerStage.apply(bearer).future().get(5, TimeUnit.SECONDS);
        dpopStage.apply(dpop).future().get(5, TimeUnit.SECONDS);
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
    public AuthenticatedRequest dpopCachedToken() {
        return dpopStage.apply(dpop).value();
    }

    @Benchmark
    public Boolean replayRecord() {
        // A short time to live keeps the record at a steady size (~50 ms of proofs) for the length of the run.
        return replay.firstUse(Long.toString(next++), Duration.ofMillis(50)).value();
    }

    /** The proof-only verifier on {@code provider} (null: the JDK's), as the gateway's {@code SignatureProvider} sets it. */
    void useProvider(java.security.Provider provider) {
        if (provider != null) {
            proofVerifier.getJCAContext().setProvider(provider);
        }
    }

    @Benchmark
    public boolean es256ProofSignatureOnly() throws Exception {
        return parsedProof.verify(proofVerifier);
    }
}
