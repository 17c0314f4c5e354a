package dev.portcullis.authn;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.benmanes.caffeine.cache.Ticker;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.gen.ECKeyGenerator;
import dev.portcullis.Step;
import dev.portcullis.config.IssuerConfig;
import dev.portcullis.config.RouteConfig;
import dev.portcullis.failure.GatewayFailure;
import dev.portcullis.failure.Reason;
import dev.portcullis.http.OutboundHttp;
import dev.portcullis.listen.RequestHead;
import dev.portcullis.policy.Policy;
import dev.portcullis.route.Route;
import dev.portcullis.route.RoutedRequest;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The authenticate stage with DPoP (issue 16): the token's cache never lets a bound token skip its proof, token
 * failures under the DPoP scheme move to the DPoP challenge (cached or not), a bound token is never a bearer token,
 * and {@code required} refuses plain bearer tokens. The issuer's keys come from a local JWKS endpoint.
 */
class AuthenticateDpopTest {
    private static final String URL = LocalIssuer.RESOURCE;

    private LocalIssuer idp;
    private OutboundHttp http;
    private TokenVerifier verifier;
    private ECKey client;
    private String jkt;

    @BeforeEach
    void start() throws Exception {
        idp = new LocalIssuer();
        http = new OutboundHttp(Duration.ofSeconds(2), Duration.ofSeconds(2));
        client = new ECKeyGenerator(Curve.P_256).generate();
        jkt = client.computeThumbprint().toString();
    }

    @AfterEach
    void stop() {
        idp.close();
        http.close();
    }

    private Authenticate authenticate(String issuerDpop) {
        IssuerConfig issuer = new IssuerConfig(idp.issuer(), idp.jwksUri(), List.of("RS256", "ES256"), "generic", null, null,
                null, null, true, Duration.ofHours(1), Duration.ofSeconds(30), false, null, null, null, issuerDpop);
        verifier = new TokenVerifier(List.of(new JwksCache(issuer, http, new ObjectMapper(), Ticker.systemTicker())),
                Clock.systemUTC(), Ticker.systemTicker(), 1000);
        return new Authenticate(verifier, new DpopProofVerifier(Clock.systemUTC(),
                new InMemoryReplayGuard(1000, Ticker.systemTicker()), DpopNonces.withRandomKey(Clock.systemUTC())));
    }

    private Route route(String dpop, String issuerDpop) {
        RouteConfig config = new RouteConfig("r", "/mcp", "http://127.0.0.1:1/mcp", URL, null, null, null, null, null, null,
                null, null, null, null, null, null, dpop, null, null);
        IssuerConfig issuer = new IssuerConfig(idp.issuer(), idp.jwksUri(), List.of("RS256", "ES256"), "generic", null, null,
                null, null, true, null, null, false, null, null, null, issuerDpop);
        return Route.compile(config, List.of(idp.issuer()), Policy.authenticatedOnly(), List.of(issuer));
    }

    private static RoutedRequest request(Route route, String authorization, String... proofs) {
        HttpHeaders headers = new DefaultHttpHeaders().set("Host", "gw.example.com").set("Authorization", authorization);
        for (String proof : proofs) {
            headers.add("DPoP", proof);
        }
        return new RoutedRequest(RequestHead.of(HttpMethod.POST, "/mcp", headers), route, "rid");
    }

    private String bound() throws Exception {
        return idp.rs256(Map.of("cnf", Map.of("jkt", jkt)));
    }

    private String proof(String token) {
        return DpopProofs.proof(client, "ES256", "POST", URL, Instant.now(), token).sign();
    }

    private static AuthenticatedRequest await(Step<AuthenticatedRequest> step) throws Exception {
        return step.ready() ? step.value() : step.future().get(5, TimeUnit.SECONDS);
    }

    private static GatewayFailure failure(AuthenticateSteps.ThrowingStep call) {
        return AuthenticateSteps.failure(call);
    }

    @Test
    void aCachedBoundTokenStillNeedsAFreshProofOnEveryRequest() throws Exception {
        Authenticate stage = authenticate(null);
        Route route = route("allowed", null);
        String token = bound();
        String first = proof(token);
        assertThat(await(stage.apply(request(route, "DPoP " + token, first))).principal().subject()).isEqualTo("user-123");
        Step<AuthenticatedRequest> cached = stage.apply(request(route, "DPoP " + token, proof(token)));
        assertThat(cached.ready()).as("the token's signature is cached: answered at once").isTrue();
        GatewayFailure replay = failure(() -> stage.apply(request(route, "DPoP " + token, first)));
        assertThat(replay.reason()).isEqualTo(Reason.INVALID_DPOP_PROOF);
        assertThat(replay.code()).isEqualTo("proof_replay");
        GatewayFailure none = failure(() -> stage.apply(request(route, "DPoP " + token)));
        assertThat(none.code()).isEqualTo("proof_missing");
    }

    @Test
    void tokenFailuresUnderTheDpopSchemeGoOnTheDpopChallengeCachedOrNot() throws Exception {
        Authenticate stage = authenticate(null);
        Route route = route("allowed", null);
        String token = idp.rs256(Map.of("cnf", Map.of("jkt", jkt), "aud", "https://other.example.com/mcp"));
        for (int i = 0; i < 2; i++) { // the first waits for the keys (a future), the second is cached (thrown)
            GatewayFailure f = failure(() -> stage.apply(request(route, "DPoP " + token, proof(token))));
            assertThat(f.reason()).isEqualTo(Reason.INVALID_DPOP_TOKEN);
            assertThat(f.code()).isEqualTo("audience");
        }
    }

    @Test
    void bearerDowngradeOfABoundTokenIsRefusedEvenWithoutDpop() throws Exception {
        String token = bound();
        for (Authenticate stage : List.of(authenticate(null), new Authenticate(verifier))) {
            GatewayFailure f = failure(() -> stage.apply(request(route(null, null), "Bearer " + token)));
            assertThat(f.reason()).isEqualTo(Reason.INVALID_TOKEN);
            assertThat(f.code()).isEqualTo("bound_token_as_bearer");
        }
        String x5t = idp.rs256(Map.of("cnf", Map.of("x5t#S256", "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2")));
        // A certificate-bound token (RFC 8705) is presented as Bearer, but only over a connection with its certificate
        // (issue 16, mutual TLS; CertificateBoundTokenTest): here there is none.
        assertThat(failure(() -> authenticate(null).apply(request(route("allowed", null), "Bearer " + x5t))).code())
                .isEqualTo("certificate_missing");
    }

    @Test
    void anIssuerThatRequiresDpopRefusesItsPlainBearerTokens() throws Exception {
        Authenticate stage = authenticate("required");
        GatewayFailure f = failure(() -> stage.apply(request(route(null, "required"), "Bearer " + idp.valid())));
        assertThat(f.reason()).isEqualTo(Reason.INVALID_DPOP_TOKEN);
        assertThat(f.code()).isEqualTo("dpop_required");
    }

    @Test
    void unboundTokenUnderTheDpopSchemeIsRefused() throws Exception {
        Authenticate stage = authenticate(null);
        String token = idp.valid();
        GatewayFailure f = failure(() -> stage.apply(request(route("allowed", null), "DPoP " + token, proof(token))));
        assertThat(f.reason()).isEqualTo(Reason.INVALID_DPOP_TOKEN);
        assertThat(f.code()).isEqualTo("not_dpop_bound");
    }

    @Test
    void withoutDpopAnywhereTheDpopSchemeIsNoCredentials() throws Exception {
        Authenticate stage = authenticate(null);
        String token = bound();
        assertThat(failure(() -> stage.apply(request(route(null, null), "DPoP " + token, proof(token)))).reason())
                .isEqualTo(Reason.NO_CREDENTIALS);
    }
}
