package dev.portcullis.authn;

import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.ECDSASigner;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.jwk.gen.ECKeyGenerator;
import com.nimbusds.jose.jwk.gen.RSAKeyGenerator;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;
import reactor.core.publisher.Mono;
import reactor.netty.DisposableServer;
import reactor.netty.http.server.HttpServer;

/**
 * A JWKS endpoint on 127.0.0.1 with keys generated at test start, and readable token factories
 * named by their flaw. For unit tests of the authn stage; integration tests use a real IdP.
 */
public final class LocalIssuer implements AutoCloseable {
    public static final String RESOURCE = "https://gw.example.com/mcp";

    private final List<JWK> published = new ArrayList<>();
    private final AtomicInteger fetches = new AtomicInteger();
    private final DisposableServer server;
    private volatile boolean down;
    public final RSAKey rsa;
    public final ECKey ec;

    public LocalIssuer() throws Exception {
        rsa = new RSAKeyGenerator(2048).keyID("rsa-1").keyUse(com.nimbusds.jose.jwk.KeyUse.SIGNATURE).generate();
        ec = new ECKeyGenerator(Curve.P_256).keyID("ec-1").keyUse(com.nimbusds.jose.jwk.KeyUse.SIGNATURE).generate();
        published.add(rsa.toPublicJWK());
        published.add(ec.toPublicJWK());
        server = HttpServer.create().host("127.0.0.1").port(0)
                .route(r -> r.get("/jwks", (req, res) -> {
                    fetches.incrementAndGet();
                    if (down) {
                        return res.status(503).send();
                    }
                    return res.header("Content-Type", "application/json")
                            .sendString(Mono.fromCallable(() -> new JWKSet(List.copyOf(published)).toString()));
                }))
                .bindNow();
    }

    public String issuer() {
        return "http://127.0.0.1:" + server.port();
    }

    public String jwksUri() {
        return issuer() + "/jwks";
    }

    public int fetches() {
        return fetches.get();
    }

    public void publish(JWK key) {
        published.add(key.toPublicJWK());
    }

    /** Stops publishing the key with {@code kid} (a rotation that withdraws it, or replaces it under the same kid). */
    public void withdraw(String kid) {
        published.removeIf(key -> kid.equals(key.getKeyID()));
    }

    public void setDown(boolean down) {
        this.down = down;
    }

    /** Valid claims for {@link #RESOURCE}; callers override what the test is about. */
    public JWTClaimsSet.Builder claims() {
        Instant now = Instant.now();
        return new JWTClaimsSet.Builder()
                .issuer(issuer())
                .subject("user-123")
                .audience(RESOURCE)
                .claim("client_id", "agent-1")
                .claim("scope", "mcp:tools.read mcp:tools.call")
                .issueTime(Date.from(now))
                .expirationTime(Date.from(now.plus(Duration.ofHours(1))))
                .jwtID(UUID.randomUUID().toString());
    }

    public String rs256(JWTClaimsSet claims) throws Exception {
        return sign(rsa, JWSAlgorithm.RS256, claims);
    }

    public String rs256(Map<String, Object> overrides) throws Exception {
        JWTClaimsSet.Builder builder = claims();
        overrides.forEach(builder::claim);
        return rs256(builder.build());
    }

    public String valid() throws Exception {
        return rs256(claims().build());
    }

    public static String sign(JWK key, JWSAlgorithm alg, JWTClaimsSet claims) throws Exception {
        JWSHeader header = new JWSHeader.Builder(alg).keyID(key.getKeyID()).type(new JOSEObjectType("at+jwt")).build();
        SignedJWT jwt = new SignedJWT(header, claims);
        jwt.sign(key instanceof RSAKey r ? new RSASSASigner(r) : new ECDSASigner((ECKey) key));
        return jwt.serialize();
    }

    @Override
    public void close() {
        server.disposeNow();
    }
}
