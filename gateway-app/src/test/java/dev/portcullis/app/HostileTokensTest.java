package dev.portcullis.app;

import static dev.portcullis.app.GatewayHarness.RESOURCE;
import static dev.portcullis.app.GatewayHarness.toolCall;
import static org.assertj.core.api.Assertions.assertThat;

import com.nimbusds.jose.EncryptionMethod;
import com.nimbusds.jose.JWEAlgorithm;
import com.nimbusds.jose.JWEHeader;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.ECDSASigner;
import com.nimbusds.jose.crypto.MACSigner;
import com.nimbusds.jose.crypto.RSAEncrypter;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.jwk.gen.ECKeyGenerator;
import com.nimbusds.jose.jwk.gen.RSAKeyGenerator;
import com.nimbusds.jose.util.Base64;
import com.nimbusds.jose.util.Base64URL;
import com.nimbusds.jwt.EncryptedJWT;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import dev.portcullis.testing.TestIdp;
import dev.portcullis.testing.TestMcpServer;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.Signature;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A corpus of malformed and malicious tokens and credential presentations (issue 6, AUTHN-*).
 * Each case names its flaw; each gets its exact status and the upstream sees nothing.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class HostileTokensTest {
    @RegisterExtension
    static final GatewayExtension peers = GatewayExtension.builder().build();
    private final TestIdp idp = peers.idp();
    private final TestMcpServer upstream = peers.upstream();
    private final GatewayHarness gw = peers.gateway();
    private RSAKey attacker;
    private ECKey attackerEc;

    @BeforeAll
    void attackerKeys() throws Exception {
        attacker = new RSAKeyGenerator(2048).keyID(idp.kid()).generate();
        attackerEc = new ECKeyGenerator(Curve.P_256).keyID("attacker-ec").generate();
    }

    /** A credential presentation: how the request carries (or fails to carry) the token. */
    record Case(String name, Consumer<HttpRequest.Builder> present, int status, String error) {
        @Override
        public String toString() {
            return name;
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("corpus")
    void hostileCredentialIsRefusedAndNeverForwarded(Case c) {
        HttpRequest.Builder request = gw.post(toolCall(1, "echo"));
        c.present().accept(request);
        HttpResponse<String> response = gw.send(request.build());
        assertThat(response.statusCode()).as(c.name()).isEqualTo(c.status());
        if (c.error() != null) {
            assertThat(response.headers().firstValue("WWW-Authenticate")).as(c.name())
                    .hasValueSatisfying(h -> assertThat(h).contains("error=\"" + c.error() + "\""));
        }
        assertThat(upstream.requests()).as(c.name()).isEmpty();
    }

    @Test
    void lowercaseBearerSchemeIsAccepted() {
        String init = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-11-25\","
                + "\"capabilities\":{},\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}";
        HttpResponse<String> response = gw.send(gw.post(init).header("Authorization", "bearer " + valid()).build());
        assertThat(response.statusCode()).isEqualTo(200);
    }

    @Test
    void corpusHasAtLeastFiftyCases() throws Exception {
        assertThat(corpus().count()).isGreaterThanOrEqualTo(50);
    }

    private String valid() {
        return idp.accessToken(RESOURCE, "mcp:tools");
    }

    private JWTClaimsSet claims() throws Exception {
        return SignedJWT.parse(valid()).getJWTClaimsSet();
    }

    private static Case bearer(String name, String token, int status, String error) {
        return new Case(name, r -> r.header("Authorization", "Bearer " + token), status, error);
    }

    private static Case invalid(String name, String token) {
        return bearer(name, token, 401, "invalid_token");
    }

    private static String b64(String json) {
        return Base64URL.encode(json.getBytes(StandardCharsets.UTF_8)).toString();
    }

    /** A token whose header and payload are written by hand and signed with the IdP's real key. */
    private String signedRaw(String headerJson, String payloadJson) throws Exception {
        String input = b64(headerJson) + "." + b64(payloadJson);
        Signature rsa = Signature.getInstance("SHA256withRSA");
        rsa.initSign(idp.signingKey().toPrivateKey());
        rsa.update(input.getBytes(StandardCharsets.US_ASCII));
        return input + "." + Base64URL.encode(rsa.sign());
    }

    private String realKeyWithHeader(JWSHeader header, JWTClaimsSet claims) throws Exception {
        SignedJWT jwt = new SignedJWT(header, claims);
        jwt.sign(new RSASSASigner(idp.signingKey()));
        return jwt.serialize();
    }

    private String attackerSigned(JWSHeader header, JWTClaimsSet claims) throws Exception {
        SignedJWT jwt = new SignedJWT(header, claims);
        jwt.sign(new RSASSASigner(attacker));
        return jwt.serialize();
    }

    private String hmac(JWSAlgorithm alg, byte[] secret, JWTClaimsSet claims) throws Exception {
        byte[] key = secret.length >= 64 ? secret : java.util.Arrays.copyOf(secret, 64);
        SignedJWT jwt = new SignedJWT(new JWSHeader.Builder(alg).keyID(idp.kid()).build(), claims);
        jwt.sign(new MACSigner(key));
        return jwt.serialize();
    }

    private String withClaims(Map<String, Object> overrides) {
        return idp.accessToken(RESOURCE, "mcp:tools", overrides);
    }

    Stream<Case> corpus() throws Exception {
        JWTClaimsSet good = claims();
        String payload = good.toString();
        String kid = idp.kid();
        long now = Instant.now().getEpochSecond();
        byte[] publicPem = ("-----BEGIN PUBLIC KEY-----\n" + Base64.encode(idp.signingKey().toRSAPublicKey().getEncoded())
                + "\n-----END PUBLIC KEY-----\n").getBytes(StandardCharsets.US_ASCII);
        byte[] publicJwk = idp.signingKey().toPublicJWK().toJSONString().getBytes(StandardCharsets.UTF_8);
        String[] validParts = valid().split("\\.");
        String[] otherParts = withClaims(Map.of("sub", "someone-else")).split("\\.");

        List<Case> cases = new ArrayList<>();
        // alg: none in its spellings (AUTHN-04)
        for (String none : List.of("none", "None", "nOnE", "NONE")) {
            cases.add(invalid("alg " + none, b64("{\"alg\":\"" + none + "\",\"typ\":\"JWT\"}") + "." + b64(payload) + "."));
        }
        cases.add(invalid("alg none with a signature attached", b64("{\"alg\":\"none\"}") + "." + b64(payload) + "." + validParts[2]));
        // key confusion: HMAC with the public key (AUTHN-04)
        cases.add(invalid("HS256 keyed with the public key PEM", hmac(JWSAlgorithm.HS256, publicPem, good)));
        cases.add(invalid("HS256 keyed with the public JWK", hmac(JWSAlgorithm.HS256, publicJwk, good)));
        cases.add(invalid("HS384 keyed with the public key PEM", hmac(JWSAlgorithm.HS384, publicPem, good)));
        cases.add(invalid("HS512 keyed with the public key PEM", hmac(JWSAlgorithm.HS512, publicPem, good)));
        // keys named by the token (AUTHN-05)
        cases.add(invalid("jku header injection", attackerSigned(new JWSHeader.Builder(JWSAlgorithm.RS256).keyID("x")
                .jwkURL(URI.create("http://169.254.169.254/keys")).build(), good)));
        cases.add(invalid("x5u header injection", attackerSigned(new JWSHeader.Builder(JWSAlgorithm.RS256).keyID("x")
                .x509CertURL(URI.create("http://169.254.169.254/cert.pem")).build(), good)));
        cases.add(invalid("embedded jwk header", attackerSigned(new JWSHeader.Builder(JWSAlgorithm.RS256)
                .jwk(attacker.toPublicJWK()).build(), good)));
        cases.add(invalid("embedded jwk with the real kid", attackerSigned(new JWSHeader.Builder(JWSAlgorithm.RS256).keyID(kid)
                .jwk(attacker.toPublicJWK()).build(), good)));
        cases.add(invalid("kid path traversal", attackerSigned(new JWSHeader.Builder(JWSAlgorithm.RS256)
                .keyID("../../../../../../etc/passwd").build(), good)));
        cases.add(invalid("kid SQL injection", attackerSigned(new JWSHeader.Builder(JWSAlgorithm.RS256)
                .keyID("' OR '1'='1' --").build(), good)));
        cases.add(invalid("kid null byte", attackerSigned(new JWSHeader.Builder(JWSAlgorithm.RS256).keyID("a\u0000b").build(), good)));
        cases.add(invalid("the real kid, the attacker's key", attackerSigned(new JWSHeader.Builder(JWSAlgorithm.RS256).keyID(kid).build(), good)));
        cases.add(invalid("no kid, the attacker's key", attackerSigned(new JWSHeader.Builder(JWSAlgorithm.RS256).build(), good)));
        SignedJWT ec = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.ES256).keyID("attacker-ec").build(), good);
        ec.sign(new ECDSASigner(attackerEc));
        cases.add(invalid("ES256 by an unknown key", ec.serialize()));
        // crit (RFC 7515 §4.1.11): unknown critical parameters must fail
        cases.add(invalid("crit naming an unknown parameter", realKeyWithHeader(new JWSHeader.Builder(JWSAlgorithm.RS256).keyID(kid)
                .criticalParams(java.util.Set.of("x-must-understand")).customParam("x-must-understand", true).build(), good)));
        cases.add(invalid("crit naming exp", realKeyWithHeader(new JWSHeader.Builder(JWSAlgorithm.RS256).keyID(kid)
                .criticalParams(java.util.Set.of("exp")).customParam("exp", now).build(), good)));
        // structure
        String nested = realKeyWithHeader(new JWSHeader.Builder(JWSAlgorithm.RS256).keyID(kid).contentType("JWT").build(), good);
        cases.add(invalid("nested JWS as payload", signedRaw("{\"alg\":\"RS256\",\"kid\":\"" + kid + "\",\"cty\":\"JWT\"}",
                "\"" + nested + "\"")));
        EncryptedJWT jwe = new EncryptedJWT(new JWEHeader(JWEAlgorithm.RSA_OAEP_256, EncryptionMethod.A256GCM), good);
        jwe.encrypt(new RSAEncrypter(idp.signingKey().toRSAPublicKey()));
        cases.add(invalid("JWE where a JWS is expected", jwe.serialize()));
        cases.add(invalid("two segments", validParts[0] + "." + validParts[1]));
        cases.add(invalid("four segments", valid() + ".extra"));
        cases.add(invalid("signature stripped", validParts[0] + "." + validParts[1] + "."));
        cases.add(invalid("signature of another token", validParts[0] + "." + validParts[1] + "." + otherParts[2]));
        cases.add(invalid("payload of another token", validParts[0] + "." + otherParts[1] + "." + validParts[2]));
        cases.add(invalid("payload not JSON", signedRaw("{\"alg\":\"RS256\",\"kid\":\"" + kid + "\"}", "hello")));
        cases.add(invalid("header not JSON", "bm90IGpzb24." + validParts[1] + "." + validParts[2]));
        cases.add(invalid("alg swapped to RS512", b64("{\"alg\":\"RS512\",\"kid\":\"" + kid + "\"}") + "." + validParts[1] + "." + validParts[2]));
        cases.add(invalid("alg swapped to PS256", b64("{\"alg\":\"PS256\",\"kid\":\"" + kid + "\"}") + "." + validParts[1] + "." + validParts[2]));
        cases.add(bearer("non-base64url characters", validParts[0] + "." + validParts[1] + "$." + validParts[2], 400, "invalid_request"));
        cases.add(bearer("base64 padding inside (not an RFC 6750 b64token)", validParts[0] + "=." + validParts[1] + "." + validParts[2], 400, "invalid_request"));
        cases.add(invalid("12 KB of junk", "a".repeat(12 * 1024)));
        cases.add(bearer("token larger than the header limit", "a".repeat(20 * 1024), 431, null));
        // claims that are present twice or of the wrong type
        cases.add(invalid("duplicate sub claim", signedRaw("{\"alg\":\"RS256\",\"kid\":\"" + kid + "\"}",
                payload.substring(0, payload.length() - 1) + ",\"sub\":\"admin\"}")));
        cases.add(invalid("duplicate aud claim", signedRaw("{\"alg\":\"RS256\",\"kid\":\"" + kid + "\"}",
                "{\"aud\":\"https://other.example.com\"," + payload.substring(1))));
        cases.add(invalid("duplicate header alg", signedRaw("{\"alg\":\"none\",\"alg\":\"RS256\",\"kid\":\"" + kid + "\"}", payload)));
        cases.add(invalid("aud as a number", withClaims(Map.of("aud", 42))));
        cases.add(invalid("aud as an object", withClaims(Map.of("aud", Map.of("resource", RESOURCE)))));
        cases.add(invalid("aud empty", withClaims(Map.of("aud", List.of()))));
        cases.add(invalid("aud with a trailing slash", withClaims(Map.of("aud", RESOURCE + "/"))));
        cases.add(invalid("aud in upper case", withClaims(Map.of("aud", "HTTPS://GW.EXAMPLE.COM/mcp"))));
        cases.add(invalid("aud for the upstream", withClaims(Map.of("aud", "https://upstream.internal/mcp"))));
        cases.add(invalid("exp as a string", withClaims(Map.of("exp", String.valueOf(now + 600)))));
        cases.add(invalid("exp in the year 9999", withClaims(Map.of("exp", 253402300799L))));
        cases.add(invalid("exp as a huge float", withClaims(Map.of("exp", 1.5e13))));
        cases.add(invalid("expired an hour ago", withClaims(Map.of("exp", now - 3600, "iat", now - 7200))));
        cases.add(invalid("expired beyond the skew", withClaims(Map.of("exp", now - 61))));
        cases.add(invalid("nbf in the future", withClaims(Map.of("nbf", now + 3600))));
        cases.add(invalid("iat in the future", withClaims(Map.of("iat", now + 3600, "exp", now + 7200))));
        cases.add(invalid("missing iss", withClaims(mapWithNull("iss"))));
        cases.add(invalid("iss with a trailing slash", withClaims(Map.of("iss", idp.issuer() + "/"))));
        cases.add(invalid("iss in upper case", withClaims(Map.of("iss", idp.issuer().toUpperCase()))));
        cases.add(invalid("iss as an array", withClaims(Map.of("iss", List.of(idp.issuer())))));
        cases.add(invalid("missing sub", withClaims(mapWithNull("sub"))));
        cases.add(invalid("empty sub", withClaims(Map.of("sub", ""))));
        cases.add(invalid("missing exp", withClaims(mapWithNull("exp"))));
        // how the credential is presented (AUTHN-02, AUTHN-03)
        String token = valid();
        cases.add(new Case("two Authorization headers", r -> r.header("Authorization", "Bearer " + token)
                .header("Authorization", "Bearer " + token), 400, "invalid_request"));
        cases.add(new Case("token in the query string", r -> r.uri(URI.create(gw.baseUrl() + "/mcp?access_token=" + token)),
                401, null));
        cases.add(new Case("token in the query and the header", r -> r.uri(URI.create(gw.baseUrl() + "/mcp?access_token=" + token))
                .header("Authorization", "Bearer " + token), 400, "invalid_request"));
        cases.add(new Case("token in a form body", r -> r.header("Content-Type", "application/x-www-form-urlencoded")
                .POST(HttpRequest.BodyPublishers.ofString("access_token=" + token)), 401, null));
        cases.add(new Case("Basic scheme", r -> r.header("Authorization", "Basic dXNlcjpwYXNz"), 401, null));
        cases.add(new Case("Bearer without a token", r -> r.header("Authorization", "Bearer"), 400, "invalid_request"));
        cases.add(new Case("Bearer with two tokens", r -> r.header("Authorization", "Bearer " + token + " " + token), 400, "invalid_request"));
        cases.add(new Case("DPoP scheme with a bearer token", r -> r.header("Authorization", "DPoP " + token), 401, null));
        cases.add(new Case("non-ASCII in the token", r -> r.header("Authorization", "Bearer tök.en.x"), 400, "invalid_request"));
        return cases.stream();
    }

    private static Map<String, Object> mapWithNull(String claim) {
        Map<String, Object> m = new HashMap<>();
        m.put(claim, null);
        return m;
    }
}
