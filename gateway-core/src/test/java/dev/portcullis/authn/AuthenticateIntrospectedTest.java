package dev.portcullis.authn;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.gen.ECKeyGenerator;
import com.github.benmanes.caffeine.cache.Ticker;
import dev.portcullis.Step;
import dev.portcullis.config.IssuerConfig;
import dev.portcullis.config.RouteConfig;
import dev.portcullis.failure.GatewayFailure;
import dev.portcullis.failure.Reason;
import dev.portcullis.listen.RequestHead;
import dev.portcullis.policy.Policy;
import dev.portcullis.route.Route;
import dev.portcullis.route.RoutedRequest;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Mono;

/**
 * Issue 16: an opaque token's {@code cnf}, read from its introspection answer, binds it exactly as a JWT's does
 * (RFC 9449 §7.2, RFC 8705 §3): a DPoP-bound opaque token needs a proof by its key on every request and is never a
 * bearer token; a certificate-bound one needs its certificate; an inactive token under the DPoP scheme is answered on
 * the DPoP challenge (AUTHN-13).
 */
class AuthenticateIntrospectedTest {
    private static final String ISSUER = "https://idp.example.com";
    private static final String URL = LocalIssuer.RESOURCE;

    private final ECKey client;
    private final String jkt;

    AuthenticateIntrospectedTest() throws Exception {
        client = new ECKeyGenerator(Curve.P_256).generate();
        jkt = client.computeThumbprint().toString();
    }

    private static String answer(Map<String, Object> cnf) {
        long now = Instant.now().getEpochSecond();
        return "{\"active\":true,\"iss\":\"" + ISSUER + "\",\"sub\":\"user-123\",\"aud\":\"" + URL + "\",\"exp\":" + (now + 600)
                + ",\"scope\":\"mcp:tools\"" + (cnf == null ? "" : ",\"cnf\":" + toJson(cnf)) + "}";
    }

    private static String toJson(Object value) {
        try {
            return new ObjectMapper().writeValueAsString(value);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private static IssuerConfig issuer() {
        return new IssuerConfig(ISSUER, ISSUER + "/jwks", List.of("RS256", "ES256"), "generic", null, null, null, null,
                false, null, null, false, null, null, null, "allowed",
                IntrospectionTest.introspection(ISSUER + "/introspect", null, null, null));
    }

    private static Authenticate authenticate(String answer) {
        IntrospectionTest.FakeEndpoint endpoint = new IntrospectionTest.FakeEndpoint(form -> IntrospectionTest.json(200, answer));
        Introspection introspection = new Introspection(issuer(), Mono::empty, endpoint, (form, headers, at) -> { },
                new ObjectMapper(), Clock.systemUTC(), Ticker.systemTicker(), 100, null);
        TokenVerifier verifier = new TokenVerifier(List.of(), List.of(introspection), Clock.systemUTC(), Ticker.systemTicker(), 100);
        return new Authenticate(verifier, new DpopProofVerifier(Clock.systemUTC(),
                new InMemoryReplayGuard(1000, Ticker.systemTicker()), DpopNonces.withRandomKey(Clock.systemUTC())));
    }

    private static Route route() {
        RouteConfig config = new RouteConfig("r", "/mcp", "http://127.0.0.1:1/mcp", URL, null, null, null, null, null, null,
                null, null, null, null, null, null, "allowed", null, null);
        return Route.compile(config, List.of(ISSUER), Policy.authenticatedOnly(), List.of(issuer()));
    }

    private static RoutedRequest request(String authorization, String... proofs) {
        HttpHeaders headers = new DefaultHttpHeaders().set("Host", "gw.example.com").set("Authorization", authorization);
        for (String proof : proofs) {
            headers.add("DPoP", proof);
        }
        return new RoutedRequest(RequestHead.of(HttpMethod.POST, "/mcp", headers), route(), "rid");
    }

    private static String proof(ECKey key, String token) {
        return DpopProofs.proof(key, "ES256", "POST", URL, Instant.now(), token).sign();
    }

    private static AuthenticatedRequest await(Step<AuthenticatedRequest> step) throws Exception {
        return step.ready() ? step.value() : step.future().get(5, TimeUnit.SECONDS);
    }

    @Test
    void aDpopBoundOpaqueTokenNeedsAProofByItsKeyAndIsNeverABearerToken() throws Exception {
        Authenticate stage = authenticate(answer(Map.of("jkt", jkt)));
        String token = "opaque-dpop-bound";
        assertThat(await(stage.apply(request("DPoP " + token, proof(client, token)))).principal().subject())
                .isEqualTo("user-123");
        assertThat(stage.apply(request("DPoP " + token, proof(client, token))).ready()).as("the kept answer").isTrue();

        GatewayFailure bearer = AuthenticateSteps.failure(() -> stage.apply(request("Bearer " + token)));
        assertThat(bearer.code()).isEqualTo("bound_token_as_bearer");
        GatewayFailure none = AuthenticateSteps.failure(() -> stage.apply(request("DPoP " + token)));
        assertThat(none.code()).isEqualTo("proof_missing");
        ECKey other = new ECKeyGenerator(Curve.P_256).generate();
        GatewayFailure otherKey = AuthenticateSteps.failure(() -> stage.apply(request("DPoP " + token, proof(other, token))));
        assertThat(otherKey.reason()).isIn(Reason.INVALID_DPOP_PROOF, Reason.INVALID_DPOP_TOKEN);
    }

    @Test
    void aCertificateBoundOpaqueTokenWithoutItsCertificateIsRefused() {
        Authenticate stage = authenticate(answer(Map.of("x5t#S256", "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2")));
        GatewayFailure failure = AuthenticateSteps.failure(() -> stage.apply(request("Bearer opaque-mtls-bound")));
        assertThat(failure.reason()).isEqualTo(Reason.INVALID_TOKEN);
        assertThat(failure.code()).isEqualTo("certificate_missing");
    }

    @Test
    void anInactiveTokenUnderTheDpopSchemeIsAnsweredOnTheDpopChallenge() {
        IntrospectionTest.FakeEndpoint endpoint = new IntrospectionTest.FakeEndpoint(
                form -> IntrospectionTest.json(200, "{\"active\":false}"));
        Introspection introspection = new Introspection(issuer(), Mono::empty, endpoint, (form, headers, at) -> { },
                new ObjectMapper(), Clock.systemUTC(), Ticker.systemTicker(), 100, null);
        Authenticate stage = new Authenticate(new TokenVerifier(List.of(), List.of(introspection), Clock.systemUTC(),
                Ticker.systemTicker(), 100), new DpopProofVerifier(Clock.systemUTC(),
                new InMemoryReplayGuard(1000, Ticker.systemTicker()), DpopNonces.withRandomKey(Clock.systemUTC())));
        GatewayFailure failure = AuthenticateSteps.failure(() -> stage.apply(request("DPoP opaque-inactive",
                proof(client, "opaque-inactive"))));
        assertThat(failure.reason()).isEqualTo(Reason.INVALID_DPOP_TOKEN);
        assertThat(failure.code()).isEqualTo("inactive");
    }
}
