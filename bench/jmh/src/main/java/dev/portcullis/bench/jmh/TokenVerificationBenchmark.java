package dev.portcullis.bench.jmh;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.benmanes.caffeine.cache.Ticker;
import com.nimbusds.jose.crypto.ECDSAVerifier;
import com.nimbusds.jose.crypto.RSASSAVerifier;
import com.nimbusds.jwt.SignedJWT;
import dev.portcullis.authn.BearerToken;
import dev.portcullis.authn.JwksCache;
import dev.portcullis.authn.Principal;
import dev.portcullis.authn.TokenVerifier;
import dev.portcullis.config.IssuerConfig;
import dev.portcullis.http.OutboundHttp;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Set;
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
 * The authenticate stage's two paths through the gateway's own {@link TokenVerifier}:
 *
 * <ul>
 *   <li>{@code *SignatureVerified}: a token the verifier has not seen (its principal cache holds no
 *       entries: {@code maxCachedTokens = 0}, and the benchmark cycles through 512 distinct tokens), so
 *       every call parses the JWT, selects the key from the cached JWKS and checks the signature;</li>
 *   <li>{@code principalCacheHit}: a token verified before: SHA-256 of the token, a Caffeine lookup and
 *       the per-request claim checks ({@code aud}, {@code exp}, {@code nbf}, {@code iat}).</li>
 * </ul>
 * {@code nimbus*Only} isolate the cryptography: Nimbus's verifier on an already parsed JWT, as
 * {@code TokenVerifier} calls it.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
@State(Scope.Thread)
public class TokenVerificationBenchmark {
    private static final int DISTINCT = 512;
    private static final Set<String> AUDIENCES = Set.of(BenchIssuer.RESOURCE);

    private BenchIssuer issuer;
    private OutboundHttp http;
    private TokenVerifier uncached;
    private TokenVerifier cached;
    private BearerToken[] rs256;
    private BearerToken[] es256;
    private String cachedToken;
    private SignedJWT parsedRs256;
    private SignedJWT parsedEs256;
    private RSASSAVerifier rsaVerifier;
    private ECDSAVerifier ecVerifier;
    private int next;

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        issuer = new BenchIssuer();
        http = new OutboundHttp(Duration.ofSeconds(2), Duration.ofSeconds(2));
        IssuerConfig config = new IssuerConfig(BenchIssuer.ISSUER, issuer.jwksUri(), List.of("RS256", "ES256"), "generic",
                null, null, null, null, true, Duration.ofHours(1), Duration.ofSeconds(30), false, null);
        JwksCache keys = new JwksCache(config, http, new ObjectMapper(), Ticker.systemTicker());
        keys.keys().block(Duration.ofSeconds(5));
        uncached = new TokenVerifier(List.of(keys), Clock.systemUTC(), Ticker.systemTicker(), 0);
        cached = new TokenVerifier(List.of(keys), Clock.systemUTC(), Ticker.systemTicker(), 100_000);
        rs256 = new BearerToken[DISTINCT];
        es256 = new BearerToken[DISTINCT];
        for (int i = 0; i < DISTINCT; i++) {
            rs256[i] = new BearerToken(issuer.rs256());
            es256[i] = new BearerToken(issuer.es256());
        }
        cachedToken = issuer.rs256();
        // Twice: a verified token is cached at its second sight (TokenVerifier's doorkeeper).
        cached.verify(new BearerToken(cachedToken), AUDIENCES).block();
        cached.verify(new BearerToken(cachedToken), AUDIENCES).block();
        parsedRs256 = SignedJWT.parse(rs256[0].value());
        parsedEs256 = SignedJWT.parse(es256[0].value());
        rsaVerifier = new RSASSAVerifier(issuer.rsa.toRSAPublicKey());
        ecVerifier = new ECDSAVerifier(issuer.ec.toECPublicKey());
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        http.close();
        issuer.close();
    }

    @Benchmark
    public Principal rs256SignatureVerified() {
        return uncached.verify(rs256[next++ & (DISTINCT - 1)], AUDIENCES).block();
    }

    @Benchmark
    public Principal es256SignatureVerified() {
        return uncached.verify(es256[next++ & (DISTINCT - 1)], AUDIENCES).block();
    }

    /** A request's whole authentication when the token was seen before, including hashing the raw token. */
    @Benchmark
    public Principal principalCacheHit() {
        return cached.verify(new BearerToken(cachedToken), AUDIENCES).block();
    }

    @Benchmark
    public boolean nimbusRs256Only() throws Exception {
        return parsedRs256.verify(rsaVerifier);
    }

    @Benchmark
    public boolean nimbusEs256Only() throws Exception {
        return parsedEs256.verify(ecVerifier);
    }
}
