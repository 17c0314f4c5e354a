package dev.portcullis.failure;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.portcullis.config.IssuerConfig;
import dev.portcullis.config.RouteConfig;
import dev.portcullis.policy.Policy;
import dev.portcullis.route.ProtectedResourceMetadata;
import dev.portcullis.route.Route;
import io.netty.handler.codec.http.FullHttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The challenges where DPoP is accepted (RFC 9449 §7.1, §7.2; E1c): a {@code Bearer} challenge beside a {@code DPoP}
 * one with {@code algs}, the error on the scheme the client used, a {@code DPoP-Nonce} on a nonce route; and the
 * metadata's {@code dpop_*} members only where DPoP is on (PRM-04).
 */
class DpopChallengeTest {
    private static final String PRM = "https://gw.example.com/.well-known/oauth-protected-resource/mcp";
    private final ObjectMapper json = new ObjectMapper();
    private final FailureResponses responses = new FailureResponses(json, route -> "nonce-for-" + route.name());

    private static Route route(String dpop, boolean nonce, String issuerDpop) {
        RouteConfig config = new RouteConfig("notes", "/mcp", "http://127.0.0.1:3000/mcp", "https://gw.example.com/mcp",
                null, null, List.of("notes:read"), null, null, null, null, null, null, null, null, null, dpop, nonce, null);
        IssuerConfig issuer = new IssuerConfig("https://idp.example.com", null, List.of("RS256", "ES256"), null, null,
                null, null, null, null, null, null, null, null, null, null, issuerDpop);
        return Route.compile(config, List.of("https://idp.example.com"), Policy.authenticatedOnly(), List.of(issuer));
    }

    private List<String> challenges(Route route, GatewayFailure failure) {
        FullHttpResponse response = responses.render(route, failure, null);
        try {
            return response.headers().getAll("WWW-Authenticate");
        } finally {
            response.release();
        }
    }

    @Test
    void e1cNoCredentialsOffersBothSchemesWithoutError() {
        assertThat(challenges(route("allowed", false, null), GatewayFailure.of(Reason.NO_CREDENTIALS, "No bearer token")))
                .containsExactly("Bearer scope=\"notes:read\", resource_metadata=\"" + PRM + "\"",
                        "DPoP algs=\"RS256 ES256\", resource_metadata=\"" + PRM + "\"");
    }

    @Test
    void aBearerFailureCarriesItsErrorOnTheBearerChallenge() {
        assertThat(challenges(route("allowed", false, null), GatewayFailure.of(Reason.INVALID_TOKEN, "The access token is expired")))
                .containsExactly("Bearer error=\"invalid_token\", error_description=\"The access token is expired\", "
                        + "resource_metadata=\"" + PRM + "\"", "DPoP algs=\"RS256 ES256\", resource_metadata=\"" + PRM + "\"");
    }

    @Test
    void aDpopFailureCarriesItsErrorOnTheDpopChallenge() {
        assertThat(challenges(route("allowed", false, null), GatewayFailure.of(Reason.INVALID_DPOP_PROOF, "The DPoP proof is too old")))
                .containsExactly("Bearer scope=\"notes:read\", resource_metadata=\"" + PRM + "\"",
                        "DPoP error=\"invalid_dpop_proof\", error_description=\"The DPoP proof is too old\", "
                                + "algs=\"RS256 ES256\", resource_metadata=\"" + PRM + "\"");
    }

    @Test
    void whereDpopIsRequiredOnlyTheDpopChallengeIsOfferedWithTheScopes() {
        Route required = route("required", false, null);
        assertThat(challenges(required, GatewayFailure.of(Reason.NO_CREDENTIALS, "No bearer token")))
                .containsExactly("DPoP algs=\"RS256 ES256\", scope=\"notes:read\", resource_metadata=\"" + PRM + "\"");
        assertThat(challenges(required, GatewayFailure.insufficientScope("Additional scope is required", Set.of("notes:write"))))
                .containsExactly("DPoP error=\"insufficient_scope\", error_description=\"Additional scope is required\", "
                        + "algs=\"RS256 ES256\", scope=\"notes:write\", resource_metadata=\"" + PRM + "\"");
    }

    @Test
    void anAmbiguousPresentationCarriesTheErrorOnBoth() {
        assertThat(challenges(route("allowed", false, null),
                GatewayFailure.of(Reason.INVALID_CREDENTIALS_REQUEST, "More than one Authorization header")))
                .allSatisfy(c -> assertThat(c).contains("error=\"invalid_request\"")).hasSize(2);
    }

    @Test
    void nonceRouteSendsAFreshNonceWithItsChallenges() {
        FullHttpResponse response = responses.render(route("required", true, null),
                GatewayFailure.of(Reason.DPOP_NONCE_REQUIRED, "Resource server requires nonce in DPoP proof"), null);
        try {
            assertThat(response.status().code()).isEqualTo(401);
            assertThat(response.headers().get("DPoP-Nonce")).isEqualTo("nonce-for-notes");
            assertThat(response.headers().get("Cache-Control")).isEqualTo("no-store");
            assertThat(response.headers().get("WWW-Authenticate")).isEqualTo("DPoP error=\"use_dpop_nonce\", "
                    + "error_description=\"Resource server requires nonce in DPoP proof\", algs=\"RS256 ES256\", "
                    + "resource_metadata=\"" + PRM + "\"");
        } finally {
            response.release();
        }
    }

    @Test
    void withoutDpopTheChallengeIsTheBearerOneAlone() {
        Route off = route(null, false, null);
        assertThat(challenges(off, GatewayFailure.of(Reason.NO_CREDENTIALS, "No bearer token")))
                .containsExactly("Bearer scope=\"notes:read\", resource_metadata=\"" + PRM + "\"");
    }

    @Test
    void anIssuersDpopAloneTurnsTheDpopChallengeOn() {
        assertThat(challenges(route(null, false, "allowed"), GatewayFailure.of(Reason.NO_CREDENTIALS, "No bearer token")))
                .hasSize(2);
    }

    @Test
    void replayRecordUnavailableIs503WithRetryAfter() {
        FullHttpResponse response = responses.render(route("allowed", false, null),
                GatewayFailure.of(Reason.REPLAY_CHECK_UNAVAILABLE, "The DPoP replay check is unavailable"), null);
        try {
            assertThat(response.status().code()).isEqualTo(503);
            assertThat(response.headers().get("Retry-After")).isEqualTo("5");
            assertThat(response.headers().contains("WWW-Authenticate")).isFalse();
        } finally {
            response.release();
        }
    }

    @Test
    void prm04DpopMetadataOnlyWhereDpopIsOn() throws Exception {
        var allowed = json.readTree(ProtectedResourceMetadata.document(route("allowed", false, null), json));
        assertThat(allowed.path("dpop_signing_alg_values_supported").toString()).isEqualTo("[\"RS256\",\"ES256\"]");
        assertThat(allowed.has("dpop_bound_access_tokens_required")).isFalse();
        var required = json.readTree(ProtectedResourceMetadata.document(route("required", false, null), json));
        assertThat(required.path("dpop_bound_access_tokens_required").asBoolean()).isTrue();
        String off = new String(ProtectedResourceMetadata.document(route(null, false, null), json), StandardCharsets.UTF_8);
        assertThat(off).doesNotContain("dpop");
    }

    @Test
    void routeDpopWindowDefaultsToFiveMinutes() {
        assertThat(route("allowed", false, null).dpop().window()).isEqualTo(Duration.ofMinutes(5));
    }
}
