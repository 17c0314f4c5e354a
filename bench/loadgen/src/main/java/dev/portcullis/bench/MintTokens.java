package dev.portcullis.bench;

import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.JWSSigner;
import com.nimbusds.jose.crypto.ECDSASigner;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.KeyUse;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.jwk.gen.ECKeyGenerator;
import com.nimbusds.jose.jwk.gen.RSAKeyGenerator;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.Key;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Date;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Keys and tokens for one benchmark run, written to {@code --out}:
 *
 * <ul>
 *   <li>{@code jwks.json}: the public RSA ({@code kid: bench-rsa}) and EC P-256 ({@code kid: bench-ec})
 *       keys; nginx serves it as a static file and every JWT-validating target fetches it;</li>
 *   <li>{@code rsa-public.pem}, {@code ec-public.pem}: the same keys for HAProxy's {@code jwt_verify};
 *       {@code rsa-private.pem} so a certificate can be made if a verifier wants one;</li>
 *   <li>{@code token-rs256.txt}, {@code token-es256.txt}: one token each (the single-token workloads);</li>
 *   <li>{@code tokens-rs256.txt} (and {@code tokens-es256.txt} with {@code --es256-tokens N}): N distinct
 *       tokens, one per line, so every request can carry a token the gateway has never seen.</li>
 *   <li>the validation gate's bad tokens (RS256, otherwise like the good ones): {@code token-bad-signature.txt}
 *       (a good token with one signature byte changed), {@code token-expired.txt} ({@code exp} an hour ago),
 *       {@code token-wrong-audience.txt} ({@code aud} another resource) and {@code token-no-scope.txt}
 *       ({@code scope} without {@code tickets:read}, which the bench policy requires for the call).</li>
 * </ul>
 *
 * Every token: {@code typ: at+jwt}, {@code iss}, {@code aud} (a single string, which HAProxy can
 * compare), {@code sub}, {@code client_id}, {@code scope}, {@code iat}, {@code exp}, {@code jti}. The
 * keys are throwaway: generated per run, never reused.
 */
final class MintTokens {
    private MintTokens() {}

    static void run(Options options) throws Exception {
        Path out = Path.of(options.required("out"));
        String issuer = options.required("issuer");
        String audience = options.required("audience");
        String scope = options.get("scope", "mcp:tools tickets:read");
        int rsaTokens = options.getInt("tokens", 1000);
        int ecTokens = options.getInt("es256-tokens", 0);
        Duration lifetime = Duration.ofMinutes(options.getInt("lifetime-minutes", 120));
        Files.createDirectories(out);

        RSAKey rsa = new RSAKeyGenerator(2048).keyID("bench-rsa").keyUse(KeyUse.SIGNATURE)
                .algorithm(JWSAlgorithm.RS256).generate();
        ECKey ec = new ECKeyGenerator(Curve.P_256).keyID("bench-ec").keyUse(KeyUse.SIGNATURE)
                .algorithm(JWSAlgorithm.ES256).generate();
        Files.writeString(out.resolve("jwks.json"), new JWKSet(List.of(rsa.toPublicJWK(), ec.toPublicJWK())).toString());
        Files.writeString(out.resolve("rsa-public.pem"), pem("PUBLIC KEY", rsa.toPublicKey()));
        Files.writeString(out.resolve("ec-public.pem"), pem("PUBLIC KEY", ec.toPublicKey()));
        Files.writeString(out.resolve("rsa-private.pem"), pem("PRIVATE KEY", rsa.toPrivateKey()));

        Claims claims = new Claims(issuer, audience, scope, lifetime);
        JWSSigner rsaSigner = new RSASSASigner(rsa);
        JWSSigner ecSigner = new ECDSASigner(ec);
        Files.writeString(out.resolve("token-rs256.txt"), sign(rsaSigner, JWSAlgorithm.RS256, "bench-rsa", claims.next()) + "\n");
        Files.writeString(out.resolve("token-es256.txt"), sign(ecSigner, JWSAlgorithm.ES256, "bench-ec", claims.next()) + "\n");

        writeValidationTokens(out, rsaSigner, claims);

        long started = System.nanoTime();
        writeMany(out.resolve("tokens-rs256.txt"), rsaTokens, () -> sign(rsaSigner, JWSAlgorithm.RS256, "bench-rsa", claims.next()));
        if (ecTokens > 0) {
            writeMany(out.resolve("tokens-es256.txt"), ecTokens, () -> sign(ecSigner, JWSAlgorithm.ES256, "bench-ec", claims.next()));
        }
        System.out.printf("{\"rs256_tokens\": %d, \"es256_tokens\": %d, \"seconds\": %.1f}%n",
                rsaTokens, ecTokens, (System.nanoTime() - started) / 1e9);
    }

    /** The tokens every authenticating target must refuse before it is measured (bench.py's validation gate). */
    private static void writeValidationTokens(Path out, JWSSigner rsaSigner, Claims claims) throws Exception {
        String good = sign(rsaSigner, JWSAlgorithm.RS256, "bench-rsa", claims.next());
        int dot = good.lastIndexOf('.');
        byte[] signature = Base64.getUrlDecoder().decode(good.substring(dot + 1));
        signature[signature.length / 2] ^= 0x01;
        String badSignature = good.substring(0, dot + 1) + Base64.getUrlEncoder().withoutPadding().encodeToString(signature);
        Files.writeString(out.resolve("token-bad-signature.txt"), badSignature + "\n");

        Instant now = Instant.now();
        JWTClaimsSet expired = new JWTClaimsSet.Builder(claims.next())
                .issueTime(Date.from(now.minus(Duration.ofHours(2))))
                .expirationTime(Date.from(now.minus(Duration.ofHours(1))))
                .build();
        Files.writeString(out.resolve("token-expired.txt"), sign(rsaSigner, JWSAlgorithm.RS256, "bench-rsa", expired) + "\n");
        JWTClaimsSet otherAudience = new JWTClaimsSet.Builder(claims.next()).audience("https://other.bench.example/mcp").build();
        Files.writeString(out.resolve("token-wrong-audience.txt"),
                sign(rsaSigner, JWSAlgorithm.RS256, "bench-rsa", otherAudience) + "\n");
        JWTClaimsSet noScope = new JWTClaimsSet.Builder(claims.next()).claim("scope", "mcp:tools").build();
        Files.writeString(out.resolve("token-no-scope.txt"), sign(rsaSigner, JWSAlgorithm.RS256, "bench-rsa", noScope) + "\n");
    }

    /** Distinct claims per token: a fresh {@code jti} and {@code sub}, so every token string is unique. */
    private static final class Claims {
        private final String issuer;
        private final String audience;
        private final String scope;
        private final Duration lifetime;
        private final Instant issued = Instant.now().minusSeconds(5);

        Claims(String issuer, String audience, String scope, Duration lifetime) {
            this.issuer = issuer;
            this.audience = audience;
            this.scope = scope;
            this.lifetime = lifetime;
        }

        JWTClaimsSet next() {
            String id = UUID.randomUUID().toString();
            return new JWTClaimsSet.Builder()
                    .issuer(issuer)
                    .audience(audience)
                    .subject("bench-user-" + id.substring(0, 8))
                    .claim("client_id", "bench-agent")
                    .claim("scope", scope)
                    .issueTime(Date.from(issued))
                    .expirationTime(Date.from(issued.plus(lifetime)))
                    .jwtID(id)
                    .build();
        }
    }

    private interface Minter {
        String mint() throws Exception;
    }

    /** Signs in parallel on every available core (RSA signing is ~1 ms per token). */
    private static void writeMany(Path file, int count, Minter minter) throws Exception {
        int threads = Runtime.getRuntime().availableProcessors();
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<List<String>>> parts = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int share = count / threads + (t < count % threads ? 1 : 0);
                parts.add(pool.submit(() -> {
                    List<String> tokens = new ArrayList<>(share);
                    for (int i = 0; i < share; i++) {
                        tokens.add(minter.mint());
                    }
                    return tokens;
                }));
            }
            StringBuilder text = new StringBuilder();
            for (Future<List<String>> part : parts) {
                for (String token : part.get()) {
                    text.append(token).append('\n');
                }
            }
            Files.writeString(file, text);
        } finally {
            pool.shutdownNow();
        }
    }

    private static String sign(JWSSigner signer, JWSAlgorithm alg, String kid, JWTClaimsSet claims) throws Exception {
        SignedJWT jwt = new SignedJWT(new JWSHeader.Builder(alg).keyID(kid).type(new JOSEObjectType("at+jwt")).build(), claims);
        jwt.sign(signer);
        return jwt.serialize();
    }

    private static String pem(String type, Key key) {
        String body = Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(key.getEncoded());
        return "-----BEGIN " + type + "-----\n" + body + "\n-----END " + type + "-----\n";
    }
}
