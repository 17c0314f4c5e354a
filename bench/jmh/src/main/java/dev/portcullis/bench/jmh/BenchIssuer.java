package dev.portcullis.bench.jmh;

import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.ECDSASigner;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.KeyUse;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.jwk.gen.ECKeyGenerator;
import com.nimbusds.jose.jwk.gen.RSAKeyGenerator;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.List;
import java.util.UUID;
import reactor.core.publisher.Mono;
import reactor.netty.DisposableServer;
import reactor.netty.http.server.HttpServer;

/**
 * A JWKS on 127.0.0.1 (the gateway's {@code JwksCache} fetches keys over HTTP, as in production) and
 * tokens signed with its RSA-2048 and EC P-256 keys.
 */
final class BenchIssuer implements AutoCloseable {
    static final String ISSUER = "https://idp.bench.example";
    static final String RESOURCE = "https://mcp.bench.example/mcp";

    final RSAKey rsa;
    final ECKey ec;
    private final DisposableServer server;

    BenchIssuer() throws Exception {
        rsa = new RSAKeyGenerator(2048).keyID("rsa").keyUse(KeyUse.SIGNATURE).generate();
        ec = new ECKeyGenerator(Curve.P_256).keyID("ec").keyUse(KeyUse.SIGNATURE).generate();
        String jwks = new JWKSet(List.<JWK>of(rsa.toPublicJWK(), ec.toPublicJWK())).toString();
        server = HttpServer.create().host("127.0.0.1").port(0)
                .route(r -> r.get("/jwks", (req, res) -> res.header("Content-Type", "application/json")
                        .sendString(Mono.just(jwks))))
                .bindNow();
    }

    String jwksUri() {
        return "http://127.0.0.1:" + server.port() + "/jwks";
    }

    String rs256() throws Exception {
        return sign(rsa, JWSAlgorithm.RS256);
    }

    String es256() throws Exception {
        return sign(ec, JWSAlgorithm.ES256);
    }

    /** An RS256 token bound to the DPoP key whose RFC 7638 thumbprint is {@code jkt} ({@code cnf.jkt}). */
    String rs256Bound(String jkt) throws Exception {
        return sign(rsa, JWSAlgorithm.RS256, java.util.Map.of("cnf", java.util.Map.of("jkt", jkt)));
    }

    private static String sign(JWK key, JWSAlgorithm alg) throws Exception {
        return sign(key, alg, java.util.Map.of());
    }

    private static String sign(JWK key, JWSAlgorithm alg, java.util.Map<String, Object> extra) throws Exception {
        Instant now = Instant.now();
        JWTClaimsSet.Builder builder = new JWTClaimsSet.Builder()
                .issuer(ISSUER).audience(RESOURCE).subject("bench-user")
                .claim("client_id", "bench-agent").claim("scope", "mcp:tools tickets:read")
                .issueTime(Date.from(now)).expirationTime(Date.from(now.plus(Duration.ofHours(2))))
                .jwtID(UUID.randomUUID().toString());
        extra.forEach(builder::claim);
        JWTClaimsSet claims = builder.build();
        SignedJWT jwt = new SignedJWT(new JWSHeader.Builder(alg).keyID(key.getKeyID())
                .type(new JOSEObjectType("at+jwt")).build(), claims);
        jwt.sign(key instanceof RSAKey r ? new RSASSASigner(r) : new ECDSASigner((ECKey) key));
        return jwt.serialize();
    }

    @Override
    public void close() {
        server.disposeNow();
    }
}
