package dev.portcullis.app;

import static dev.portcullis.app.GatewayHarness.PRM_URL;
import static dev.portcullis.app.GatewayHarness.RESOURCE;
import static dev.portcullis.app.GatewayHarness.toolCall;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.crypto.impl.ECDSA;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.gen.ECKeyGenerator;
import com.nimbusds.jose.util.Base64URL;
import com.nimbusds.jose.util.JSONObjectUtils;
import com.nimbusds.oauth2.sdk.dpop.DefaultDPoPProofFactory;
import com.nimbusds.oauth2.sdk.id.JWTID;
import com.nimbusds.oauth2.sdk.token.DPoPAccessToken;
import com.nimbusds.openid.connect.sdk.Nonce;
import dev.portcullis.testing.TestIdp;
import dev.portcullis.testing.TestMcpServer;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.Signature;
import java.time.Instant;
import java.util.Date;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.function.Function;
import java.util.stream.Stream;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * DPoP (RFC 9449, AUTHN-13, issue 16) through a running gateway in front of a recording upstream (a real Java MCP SDK
 * server). Valid proofs are made by the Nimbus OAuth 2.0 SDK's {@link DefaultDPoPProofFactory} (an implementation
 * independent of the gateway's); the hostile ones by hand where the factory would refuse to make them. Each hostile
 * request gets its status and exact challenges, and the upstream receives nothing.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class DpopTest {
    private static final String ALGS = "algs=\"RS256 ES256\"";
    private static final String METADATA = "resource_metadata=\"" + PRM_URL + "\"";
    private static final String PLAIN_BEARER = "Bearer scope=\"mcp:tools\", " + METADATA;
    private static final String PLAIN_DPOP = "DPoP " + ALGS + ", " + METADATA;
    private static final String INIT = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":"
            + "\"2025-06-18\",\"capabilities\":{},\"clientInfo\":{\"name\":\"dpop\",\"version\":\"1\"}}}";

    @RegisterExtension
    static final GatewayExtension peers = GatewayExtension.builder().route("dpop: allowed").build();
    private final TestIdp idp = peers.idp();
    private final TestMcpServer upstream = peers.upstream();
    private final GatewayHarness gw = peers.gateway();
    private final ObjectMapper json = new ObjectMapper();
    private GatewayHarness required;
    private GatewayHarness withNonce;
    private ECKey key;
    private ECKey otherKey;
    private String jkt;
    private DefaultDPoPProofFactory proofs;

    @BeforeAll
    void keys() throws Exception {
        key = new ECKeyGenerator(Curve.P_256).generate();
        otherKey = new ECKeyGenerator(Curve.P_256).generate();
        jkt = key.computeThumbprint().toString();
        proofs = new DefaultDPoPProofFactory(key, JWSAlgorithm.ES256);
        required = peers.startGateway(peers.upstreamUrl(), "dpop: required");
        withNonce = peers.startGateway(peers.upstreamUrl(), "dpop: required\ndpop-nonce: true");
    }

    private String boundToken() {
        return idp.accessToken(RESOURCE, "mcp:tools", Map.of("cnf", Map.of("jkt", jkt)));
    }

    /** A fresh proof for a POST to the route's public URL, by the Nimbus SDK. */
    private String proof(String token) {
        return proof("POST", RESOURCE, Instant.now(), token, null);
    }

    private String proof(String htm, String htu, Instant iat, String token, String nonce) {
        try {
            return proofs.createDPoPJWT(new JWTID(), htm, URI.create(htu), Date.from(iat),
                    token == null ? null : new DPoPAccessToken(token), nonce == null ? null : new Nonce(nonce)).serialize();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private static HttpResponse<String> send(GatewayHarness gateway, String body, String authorization, String... dpop) {
        HttpRequest.Builder request = gateway.post(body);
        if (authorization != null) {
            request.header("Authorization", authorization);
        }
        for (String proof : dpop) {
            request.header("DPoP", proof);
        }
        return gateway.send(request.build());
    }

    private HttpResponse<String> call(String authorization, String... dpop) {
        return send(gw, toolCall(1, "echo"), authorization, dpop);
    }

    private void assertNothingForwarded() {
        assertThat(upstream.requests()).as("requests the upstream received").isEmpty();
    }

    private static String dpopError(String error, String description) {
        return "DPoP error=\"" + error + "\", error_description=\"" + description + "\", " + ALGS + ", " + METADATA;
    }

    // --- the valid path ----------------------------------------------------------------------------

    @Test
    void authn13DpopBoundTokenWithFreshProofsCallsAToolAndTheUpstreamSeesNeitherProofNorToken() throws Exception {
        String token = boundToken();
        HttpResponse<String> init = send(gw, INIT, "DPoP " + token, proof(token));
        assertThat(init.statusCode()).as(init.body()).isEqualTo(200);
        String session = init.headers().firstValue("Mcp-Session-Id").orElseThrow();
        HttpResponse<String> initialized = gw.send(gw.post("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}")
                .header("Authorization", "DPoP " + token).header("DPoP", proof(token)).header("Mcp-Session-Id", session).build());
        assertThat(initialized.statusCode()).isEqualTo(202);
        // The token's signature is cached now: each further request still needs (and gets) a fresh proof.
        for (int i = 0; i < 3; i++) {
            HttpResponse<String> call = gw.send(gw.post(toolCall(2 + i, "whoami")).header("Authorization", "DPoP " + token)
                    .header("DPoP", proof(token)).header("Mcp-Session-Id", session).build());
            assertThat(call.statusCode()).as(call.body()).isEqualTo(200);
            assertThat(call.body()).as("upstream-auth none: the upstream received no Authorization").contains("none");
        }
        assertThat(upstream.requests()).isNotEmpty().allSatisfy(r -> {
            assertThat(r.headers().keySet()).noneMatch(h -> h.equalsIgnoreCase("DPoP"));
            assertThat(r.headers().toString()).doesNotContain(token);
            assertThat(r.body()).doesNotContain(token);
        });
    }

    @Test
    void cachedDpopTokenWithoutAFreshProofIsRefused() {
        String token = boundToken();
        String first = proof(token);
        assertThat(send(gw, INIT, "DPoP " + token, first).statusCode()).isEqualTo(200);
        upstream.clearRequests();
        HttpResponse<String> again = send(gw, INIT, "DPoP " + token, first);
        assertThat(again.statusCode()).isEqualTo(401);
        assertThat(again.headers().allValues("WWW-Authenticate"))
                .containsExactly(PLAIN_BEARER, dpopError("invalid_dpop_proof", "The DPoP proof was used before"));
        HttpResponse<String> none = send(gw, INIT, "DPoP " + token);
        assertThat(none.statusCode()).isEqualTo(401);
        assertThat(none.headers().allValues("WWW-Authenticate"))
                .containsExactly(PLAIN_BEARER, dpopError("invalid_dpop_proof", "A DPoP proof is required with the DPoP scheme"));
        assertNothingForwarded();
    }

    @Test
    void unboundBearerTokenStillWorksWhereDpopIsAllowed() {
        HttpResponse<String> init = send(gw, INIT, "Bearer " + idp.accessToken(RESOURCE, "mcp:tools"));
        assertThat(init.statusCode()).as(init.body()).isEqualTo(200);
    }

    @Test
    void e1cNoCredentialsGetsBearerAndDpopChallengesWithoutError() {
        HttpResponse<String> response = call(null);
        assertThat(response.statusCode()).isEqualTo(401);
        assertThat(response.headers().allValues("WWW-Authenticate")).containsExactly(PLAIN_BEARER, PLAIN_DPOP);
        assertThat(response.headers().firstValue("DPoP-Nonce")).isEmpty();
        assertNothingForwarded();
    }

    @Test
    void prm04MetadataAdvertisesTheProofAlgorithms() throws Exception {
        JsonNode allowed = json.readTree(gw.get("/.well-known/oauth-protected-resource/mcp").body());
        assertThat(allowed.path("dpop_signing_alg_values_supported").toString()).isEqualTo("[\"RS256\",\"ES256\"]");
        assertThat(allowed.has("dpop_bound_access_tokens_required")).isFalse();
        JsonNode strict = json.readTree(required.get("/.well-known/oauth-protected-resource/mcp").body());
        assertThat(strict.path("dpop_bound_access_tokens_required").asBoolean()).isTrue();
    }

    // --- the hostile suite ---------------------------------------------------------------------------

    /** A hostile presentation: what it sends, and the status and challenges it must get. */
    record Case(String name, Function<DpopTest, HttpResponse<String>> send, int status, List<String> challenges) {
        @Override
        public String toString() {
            return name;
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("hostile")
    void authn13HostileDpopPresentationIsRefusedAndNeverForwarded(Case c) {
        HttpResponse<String> response = c.send().apply(this);
        assertThat(response.statusCode()).as(c.name() + ": " + response.body()).isEqualTo(c.status());
        assertThat(response.headers().allValues("WWW-Authenticate")).as(c.name()).containsExactlyElementsOf(c.challenges());
        assertNothingForwarded();
    }

    Stream<Case> hostile() {
        return Stream.of(
                new Case("replayed proof", t -> {
                    String token = t.boundToken();
                    String proof = t.proof(token);
                    HttpResponse<String> first = t.call("DPoP " + token, proof);
                    assertThat(first.statusCode()).as("the first use").isNotEqualTo(401);
                    t.upstream.clearRequests();
                    return t.call("DPoP " + token, proof);
                }, 401, List.of(PLAIN_BEARER, dpopError("invalid_dpop_proof", "The DPoP proof was used before"))),
                new Case("proof for another URL", t -> {
                    String token = t.boundToken();
                    return t.call("DPoP " + token, t.proof("POST", "https://gw.example.com/other", Instant.now(), token, null));
                }, 401, List.of(PLAIN_BEARER, dpopError("invalid_dpop_proof", "The DPoP proof is for another URL"))),
                new Case("proof for the listening address, not the public URL", t -> {
                    String token = t.boundToken();
                    return t.call("DPoP " + token, t.proof("POST", t.gw.baseUrl() + "/mcp", Instant.now(), token, null));
                }, 401, List.of(PLAIN_BEARER, dpopError("invalid_dpop_proof", "The DPoP proof is for another URL"))),
                new Case("proof for another method", t -> {
                    String token = t.boundToken();
                    return t.call("DPoP " + token, t.proof("GET", RESOURCE, Instant.now(), token, null));
                }, 401, List.of(PLAIN_BEARER, dpopError("invalid_dpop_proof", "The DPoP proof is for another HTTP method"))),
                new Case("stale iat", t -> {
                    String token = t.boundToken();
                    return t.call("DPoP " + token, t.proof("POST", RESOURCE, Instant.now().minusSeconds(303), token, null));
                }, 401, List.of(PLAIN_BEARER, dpopError("invalid_dpop_proof", "The DPoP proof is too old"))),
                new Case("future iat", t -> {
                    String token = t.boundToken();
                    return t.call("DPoP " + token, t.proof("POST", RESOURCE, Instant.now().plusSeconds(303), token, null));
                }, 401, List.of(PLAIN_BEARER, dpopError("invalid_dpop_proof", "The DPoP proof is issued in the future"))),
                new Case("wrong ath (proof for another token)", t -> {
                    String token = t.boundToken();
                    return t.call("DPoP " + token, t.proof(t.boundToken()));
                }, 401, List.of(PLAIN_BEARER, dpopError("invalid_dpop_proof", "The DPoP proof is not bound to the access token"))),
                new Case("proof key is not the token's cnf.jkt", t -> {
                    String token = t.idp.accessToken(RESOURCE, "mcp:tools", Map.of("cnf", Map.of("jkt", t.thumbprint(t.otherKey))));
                    return t.call("DPoP " + token, t.proof(token));
                }, 401, List.of(PLAIN_BEARER, dpopError("invalid_token",
                        "The DPoP proof's key is not the key the access token is bound to"))),
                new Case("Bearer downgrade of a bound token (with a valid proof beside it)", t -> {
                    String token = t.boundToken();
                    return t.call("Bearer " + token, t.proof(token));
                }, 401, List.of("Bearer error=\"invalid_token\", error_description=\"The access token is sender-constrained: "
                        + "present it with the DPoP scheme and a DPoP proof\", " + METADATA, PLAIN_DPOP)),
                new Case("Bearer downgrade of a bound token where DPoP is off", t -> {
                    String token = t.boundToken();
                    return send(t.noDpop(), toolCall(1, "echo"), "Bearer " + token);
                }, 401, List.of("Bearer error=\"invalid_token\", error_description=\"The access token is sender-constrained: "
                        + "present it with the DPoP scheme and a DPoP proof\", " + METADATA)),
                new Case("plain bearer token where DPoP is required", t ->
                        send(t.required, toolCall(1, "echo"), "Bearer " + t.idp.accessToken(RESOURCE, "mcp:tools")),
                        401, List.of("DPoP error=\"invalid_token\", error_description=\"A DPoP-bound access token and a DPoP "
                                + "proof are required\", " + ALGS + ", " + METADATA)),
                new Case("missing proof where DPoP is required", t -> send(t.required, toolCall(1, "echo"), "DPoP " + t.boundToken()),
                        401, List.of("DPoP error=\"invalid_dpop_proof\", error_description=\"A DPoP proof is required with the "
                                + "DPoP scheme\", " + ALGS + ", " + METADATA)),
                new Case("unbound token with the DPoP scheme", t -> {
                    String token = t.idp.accessToken(RESOURCE, "mcp:tools");
                    return t.call("DPoP " + token, t.proof(token));
                }, 401, List.of(PLAIN_BEARER, dpopError("invalid_token", "The access token is not DPoP-bound"))),
                new Case("two DPoP headers", t -> {
                    String token = t.boundToken();
                    return t.call("DPoP " + token, t.proof(token), t.proof(token));
                }, 401, List.of(PLAIN_BEARER, dpopError("invalid_dpop_proof", "More than one DPoP proof"))),
                new Case("symmetric alg (HS256)", t -> {
                    String token = t.boundToken();
                    return t.call("DPoP " + token, t.handMade(token, "HS256", t.key.toPublicJWK().toJSONObject()));
                }, 401, List.of(PLAIN_BEARER, dpopError("invalid_dpop_proof", "The DPoP proof is signed with an unacceptable algorithm"))),
                new Case("jwk with the private key", t -> {
                    String token = t.boundToken();
                    return t.call("DPoP " + token, t.handMade(token, "ES256", t.key.toJSONObject()));
                }, 401, List.of(PLAIN_BEARER, dpopError("invalid_dpop_proof", "The DPoP proof's key is not a public key"))),
                new Case("not a JWT", t -> t.call("DPoP " + t.boundToken(), "this-is-not-a-jwt"),
                        401, List.of(PLAIN_BEARER, dpopError("invalid_dpop_proof", "The DPoP proof is malformed"))),
                new Case("expired bound token with a valid proof", t -> {
                    long now = Instant.now().getEpochSecond();
                    String token = t.idp.accessToken(RESOURCE, "mcp:tools", Map.of("cnf", Map.of("jkt", t.jkt),
                            "iat", now - 7200, "exp", now - 3600));
                    return t.call("DPoP " + token, t.proof(token));
                }, 401, List.of(PLAIN_BEARER, dpopError("invalid_token", "The access token is expired"))),
                new Case("bound token for another audience with a valid proof", t -> {
                    String token = t.idp.accessToken("https://other.example.com/mcp", "mcp:tools", Map.of("cnf", Map.of("jkt", t.jkt)));
                    return t.call("DPoP " + token, t.proof(token));
                }, 401, List.of(PLAIN_BEARER, dpopError("invalid_token", "The access token is not intended for this resource"))));
    }

    private GatewayHarness noDpopGateway;

    /** A gateway beside the others with no DPoP anywhere. */
    private synchronized GatewayHarness noDpop() {
        if (noDpopGateway == null) {
            noDpopGateway = peers.startGateway(peers.upstreamUrl(), "");
        }
        return noDpopGateway;
    }

    private String thumbprint(ECKey k) {
        try {
            return k.computeThumbprint().toString();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /** A proof whose header is written by hand ({@code alg}, {@code jwk}): what the SDK's factory refuses to make. */
    private String handMade(String token, String alg, Map<String, Object> jwk) {
        try {
            Map<String, Object> header = new LinkedHashMap<>();
            header.put("typ", "dpop+jwt");
            header.put("alg", alg);
            header.put("jwk", jwk);
            Map<String, Object> claims = new LinkedHashMap<>();
            claims.put("jti", UUID.randomUUID().toString());
            claims.put("htm", "POST");
            claims.put("htu", RESOURCE);
            claims.put("iat", Instant.now().getEpochSecond());
            claims.put("ath", Base64URL.encode(java.security.MessageDigest.getInstance("SHA-256")
                    .digest(token.getBytes(StandardCharsets.US_ASCII))).toString());
            String input = Base64URL.encode(JSONObjectUtils.toJSONString(header).getBytes(StandardCharsets.UTF_8)) + "."
                    + Base64URL.encode(JSONObjectUtils.toJSONString(claims).getBytes(StandardCharsets.UTF_8));
            byte[] data = input.getBytes(StandardCharsets.US_ASCII);
            byte[] signature;
            if (alg.startsWith("HS")) {
                Mac mac = Mac.getInstance("HmacSHA256");
                mac.init(new SecretKeySpec(key.toPublicJWK().toJSONString().getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
                signature = mac.doFinal(data);
            } else {
                Signature ecdsa = Signature.getInstance("SHA256withECDSA");
                ecdsa.initSign(key.toPrivateKey());
                ecdsa.update(data);
                signature = ECDSA.transcodeSignatureToConcat(ecdsa.sign(), 64);
            }
            return input + "." + Base64URL.encode(signature);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    // --- the server-provided nonce (RFC 9449 §9) ---------------------------------------------------------

    @Test
    void nonceRouteHandsOutANonceAndAcceptsTheRetryThatCarriesIt() {
        String token = boundToken();
        HttpResponse<String> first = send(withNonce, INIT, "DPoP " + token, proof(token));
        assertThat(first.statusCode()).isEqualTo(401);
        assertThat(first.headers().allValues("WWW-Authenticate")).containsExactly("DPoP error=\"use_dpop_nonce\", "
                + "error_description=\"Resource server requires nonce in DPoP proof\", " + ALGS + ", " + METADATA);
        String nonce = first.headers().firstValue("DPoP-Nonce").orElseThrow();
        assertThat(first.headers().firstValue("Cache-Control")).hasValue("no-store");
        assertNothingForwarded();

        HttpResponse<String> wrong = send(withNonce, INIT, "DPoP " + token, proof("POST", RESOURCE, Instant.now(), token, "not-our-nonce"));
        assertThat(wrong.statusCode()).isEqualTo(401);
        assertThat(wrong.headers().firstValue("WWW-Authenticate").orElse("")).contains("error=\"use_dpop_nonce\"");
        assertNothingForwarded();

        HttpResponse<String> retry = send(withNonce, INIT, "DPoP " + token, proof("POST", RESOURCE, Instant.now(), token, nonce));
        assertThat(retry.statusCode()).as(retry.body()).isEqualTo(200);
    }
}
