package dev.portcullis.bench.jmh;

import com.amazon.corretto.crypto.provider.AmazonCorrettoCryptoProvider;
import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.ECDSASigner;
import com.nimbusds.jose.crypto.ECDSAVerifier;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.gen.ECKeyGenerator;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import java.security.Provider;
import java.security.interfaces.ECPublicKey;
import java.util.concurrent.TimeUnit;
import org.bouncycastle.jce.provider.BouncyCastleProvider;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * ES256 (ECDSA P-256, SHA-256) signature verification through Nimbus, with the JCA provider set on
 * the verifier's {@code JCAContext}: the JDK's default ({@code SunEC}), BouncyCastle ({@code BC},
 * pure Java) or Amazon Corretto Crypto Provider ({@code ACCP}, native AWS-LC).
 *
 * <ul>
 *   <li>{@code verifyReusedVerifier}: one {@link ECDSAVerifier} verifying a parsed JWT: the
 *       cryptography alone (Nimbus's JOSE-to-DER transcoding included);</li>
 *   <li>{@code verifyNewVerifier}: a verifier built per call, as {@code TokenVerifier} does through
 *       Nimbus's verifier factory.</li>
 * </ul>
 * The providers are used only through the verifier, never installed globally; ACCP's native library
 * must load, or the trial fails with its loading error.
 *
 * <pre>java -jar bench/jmh/target/benchmarks.jar EcProviderBenchmark -f 1 -wi 2 -i 3 -w 1s -r 1s</pre>
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
@State(Scope.Thread)
public class EcProviderBenchmark {
    @Param({"SunEC", "BC", "ACCP"})
    public String provider;

    private Provider jca;
    private ECPublicKey key;
    private SignedJWT jwt;
    private ECDSAVerifier verifier;

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        jca = provider(provider);
        ECKey ec = new ECKeyGenerator(Curve.P_256).keyID("ec").generate();
        key = ec.toECPublicKey();
        jwt = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.ES256).keyID("ec").type(new JOSEObjectType("at+jwt")).build(),
                new JWTClaimsSet.Builder().issuer(BenchIssuer.ISSUER).audience(BenchIssuer.RESOURCE).subject("bench-user")
                        .claim("scope", "mcp:tools tickets:read").build());
        jwt.sign(new ECDSASigner(ec));
        jwt = SignedJWT.parse(jwt.serialize());
        verifier = verifier(key, jca);
        if (!jwt.verify(verifier)) {
            throw new IllegalStateException(provider + " does not verify a good ES256 signature");
        }
        SignedJWT forged = SignedJWT.parse(tamper(jwt.serialize()));
        if (forged.verify(verifier(key, jca))) {
            throw new IllegalStateException(provider + " accepts a bad ES256 signature");
        }
    }

    static Provider provider(String name) {
        switch (name) {
            case "SunEC":
                return java.security.Security.getProvider("SunEC");
            case "BC":
                return new BouncyCastleProvider();
            case "ACCP":
                AmazonCorrettoCryptoProvider accp = AmazonCorrettoCryptoProvider.INSTANCE;
                if (accp.getLoadingError() != null) {
                    throw new IllegalStateException("ACCP native library did not load", accp.getLoadingError());
                }
                accp.assertHealthy();
                return accp;
            default:
                throw new IllegalArgumentException(name);
        }
    }

    private static ECDSAVerifier verifier(ECPublicKey key, Provider jca) throws Exception {
        ECDSAVerifier v = new ECDSAVerifier(key);
        v.getJCAContext().setProvider(jca);
        return v;
    }

    /** The same token with one signature byte changed. */
    private static String tamper(String token) {
        int dot = token.lastIndexOf('.');
        char c = token.charAt(dot + 5);
        return token.substring(0, dot + 5) + (c == 'A' ? 'B' : 'A') + token.substring(dot + 6);
    }

    @Benchmark
    public boolean verifyReusedVerifier() throws Exception {
        return jwt.verify(verifier);
    }

    @Benchmark
    public boolean verifyNewVerifier() throws Exception {
        return jwt.verify(verifier(key, jca));
    }
}
