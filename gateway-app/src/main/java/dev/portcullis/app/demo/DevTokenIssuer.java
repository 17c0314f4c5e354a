package dev.portcullis.app.demo;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.KeyUse;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.jwk.gen.RSAKeyGenerator;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import io.netty.handler.codec.http.QueryStringDecoder;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import reactor.core.publisher.Mono;
import reactor.netty.DisposableServer;
import reactor.netty.http.server.HttpServer;

/**
 * DEVELOPMENT ONLY: a token issuer for {@code portcullis demo}. It signs RS256 access tokens for
 * whatever scopes and roles it is asked for, with no authentication at all, on 127.0.0.1. It
 * exists so the demo needs nothing installed; it is never started outside the demo command.
 *
 * <p>{@code GET /dev-token?scope=a%20b&roles=admin} returns a token as plain text; the issuer's
 * OpenID metadata and JWKS are served so the gateway finds the keys like it would at a real IdP.
 */
final class DevTokenIssuer implements AutoCloseable {
    private final RSAKey key;
    private final DisposableServer server;
    private final String audience;
    private final ObjectMapper json = new ObjectMapper();

    DevTokenIssuer(String audience) throws Exception {
        this.audience = audience;
        this.key = new RSAKeyGenerator(2048).keyID("demo-" + UUID.randomUUID().toString().substring(0, 8))
                .keyUse(KeyUse.SIGNATURE).generate();
        this.server = HttpServer.create().host("127.0.0.1").port(0)
                .route(routes -> routes
                        .get("/.well-known/openid-configuration", (req, res) -> res.header("Content-Type", "application/json")
                                .sendString(Mono.fromCallable(() -> json.writeValueAsString(Map.of(
                                        "issuer", issuer(), "jwks_uri", issuer() + "/jwks",
                                        "token_endpoint", issuer() + "/dev-token")))))
                        .get("/jwks", (req, res) -> res.header("Content-Type", "application/json")
                                .sendString(Mono.just(new JWKSet(key.toPublicJWK()).toString())))
                        .get("/dev-token", (req, res) -> {
                            var query = new QueryStringDecoder(req.uri()).parameters();
                            String scope = query.getOrDefault("scope", List.of("")).get(0);
                            List<String> roles = query.getOrDefault("roles", List.of());
                            return res.header("Content-Type", "text/plain").header("Cache-Control", "no-store")
                                    .sendString(Mono.fromCallable(() -> token(scope, roles)));
                        }))
                .bindNow();
    }

    String issuer() {
        return "http://127.0.0.1:" + server.port();
    }

    String token(String scope, List<String> roles) throws Exception {
        Instant now = Instant.now();
        JWTClaimsSet claims = new JWTClaimsSet.Builder()
                .issuer(issuer()).subject("demo-user").audience(audience)
                .claim("client_id", "demo-agent").claim("scope", scope).claim("roles", roles)
                .issueTime(Date.from(now)).expirationTime(Date.from(now.plus(Duration.ofHours(1))))
                .jwtID(UUID.randomUUID().toString())
                .build();
        SignedJWT jwt = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.RS256).keyID(key.getKeyID())
                .type(new JOSEObjectType("at+jwt")).build(), claims);
        jwt.sign(new RSASSASigner(key));
        return jwt.serialize();
    }

    @Override
    public void close() {
        server.disposeNow();
    }
}
