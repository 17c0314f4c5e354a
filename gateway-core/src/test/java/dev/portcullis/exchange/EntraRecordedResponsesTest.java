package dev.portcullis.exchange;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.okJson;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.tomakehurst.wiremock.WireMockServer;
import dev.portcullis.FakeTime;
import dev.portcullis.config.UpstreamAuthConfig;
import dev.portcullis.failure.GatewayFailure;
import dev.portcullis.failure.Reason;
import dev.portcullis.http.OutboundHttp;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Microsoft Entra ID token endpoint answers as documented ("Microsoft identity platform and OAuth 2.0
 * On-Behalf-Of flow", "client credentials flow", "AADSTS error codes"; v1 endpoint answers with strings for
 * numbers), recorded and replayed with WireMock. The gateway must accept the token shapes and map the AADSTS
 * errors without echoing them to the client. (Entra token claims: IdpPresetTokensTest; OBO end to end:
 * TokenExchangeFailureTest.)
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class EntraRecordedResponsesTest {
    private static final Duration WAIT = Duration.ofSeconds(5);
    private static final String TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    private static final String USER_TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJhcGk6Ly9nYXRld2F5In0.c2ln";
    private static final String ISSUED = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiIsImtpZCI6Ik1uQ19WWmNBVGZNNXBPWWlKSE1iYTlnb0VLWSJ9"
            + ".eyJhdWQiOiJhcGk6Ly90b2RvIn0.c2lnbmF0dXJl";

    private final FakeTime time = new FakeTime();
    private WireMockServer entra;
    private OutboundHttp http;

    @BeforeAll
    void start() {
        entra = new WireMockServer(options().bindAddress("127.0.0.1").dynamicPort());
        entra.start();
        http = new OutboundHttp(Duration.ofSeconds(2), Duration.ofSeconds(5));
    }

    @AfterAll
    void stop() {
        http.close();
        entra.stop();
    }

    @BeforeEach
    void reset() {
        entra.resetAll();
    }

    private TokenEndpointClient client(String path) {
        String endpoint = "http://127.0.0.1:" + entra.port() + path;
        UpstreamAuthConfig config = new UpstreamAuthConfig("token-exchange", "entra-obo", endpoint,
                "11111111-2222-3333-4444-555555555555", "client_secret_post", "s3cret", null, null, null, null, null, null,
                List.of("api://todo/.default"), null, Duration.ofMillis(800), null, null);
        return new TokenEndpointClient(URI.create(endpoint), ClientAuthentication.from(config, time), http, new ObjectMapper(),
                config.timeout(), time);
    }

    @Test
    void v2OnBehalfOfAnswerIsAccepted() {
        String path = "/" + TENANT + "/oauth2/v2.0/token";
        entra.stubFor(post(path).willReturn(okJson("{\"token_type\":\"Bearer\",\"scope\":\"api://todo/Todo.Read\","
                + "\"expires_in\":4364,\"ext_expires_in\":4364,\"access_token\":\"" + ISSUED + "\","
                + "\"refresh_token\":\"1.AQ0A-rt\"}")));
        IssuedToken token = client(path).request(GrantRequest.entraOnBehalfOf(USER_TOKEN, "api://todo/.default")).block(WAIT);
        assertThat(token.value()).isEqualTo(ISSUED);
        assertThat(token.expiresAt()).isEqualTo(time.instant().plusSeconds(4364));
    }

    /** The v1 endpoint sends numbers as strings and names the resource instead of a scope. */
    @Test
    void v1AnswerWithStringNumbersIsAccepted() {
        String path = "/" + TENANT + "/oauth2/token";
        entra.stubFor(post(path).willReturn(okJson("{\"token_type\":\"Bearer\",\"expires_in\":\"3599\","
                + "\"ext_expires_in\":\"3599\",\"expires_on\":\"1767200000\",\"not_before\":\"1767196100\","
                + "\"resource\":\"api://todo\",\"access_token\":\"" + ISSUED + "\"}")));
        IssuedToken token = client(path).request(GrantRequest.clientCredentials(null, null, "api://todo/.default")).block(WAIT);
        assertThat(token.expiresAt()).isEqualTo(time.instant().plusSeconds(3599));
        assertThat(token.grantedScope()).isEmpty();
    }

    static Stream<Arguments> aadstsErrors() {
        String tail = ",\"error_codes\":[%s],\"timestamp\":\"2026-12-05 14:00:00Z\",\"trace_id\":\"0b7c-trace\","
                + "\"correlation_id\":\"5f2a-corr\",\"error_uri\":\"https://login.microsoftonline.com/error?code=%s\"";
        return Stream.of(
                // the user's token is expired / not for this app / signed by another tenant
                Arguments.of(400, "invalid_grant", "AADSTS500133: Assertion is not within its valid time range.", 500133,
                        "", Reason.EXCHANGE_SUBJECT_REJECTED),
                Arguments.of(400, "invalid_grant", "AADSTS50013: Assertion failed signature validation.", 50013,
                        "", Reason.EXCHANGE_SUBJECT_REJECTED),
                Arguments.of(400, "invalid_grant", "AADSTS65001: The user or administrator has not consented to use the"
                        + " application.", 65001, ",\"suberror\":\"consent_required\"", Reason.EXCHANGE_SUBJECT_REJECTED),
                // Conditional Access on the upstream: MFA needed, with a claims challenge
                Arguments.of(400, "interaction_required", "AADSTS50079: Due to a configuration change made by your"
                        + " administrator, you must enroll in multi-factor authentication.", 50079,
                        ",\"claims\":\"{\\\"access_token\\\":{\\\"capolids\\\":{\\\"essential\\\":true}}}\"",
                        Reason.EXCHANGE_SUBJECT_REJECTED),
                Arguments.of(400, "invalid_scope", "AADSTS70011: The provided value for the input parameter 'scope' is"
                        + " not valid.", 70011, "", Reason.EXCHANGE_DENIED),
                Arguments.of(400, "unauthorized_client", "AADSTS700016: Application with identifier 'x' was not found in"
                        + " the directory.", 700016, "", Reason.EXCHANGE_DENIED),
                Arguments.of(401, "invalid_client", "AADSTS7000215: Invalid client secret provided.", 7000215, "",
                        Reason.EXCHANGE_CLIENT_REJECTED),
                Arguments.of(400, "invalid_client", "AADSTS7000222: The provided client secret keys are expired.", 7000222,
                        "", Reason.EXCHANGE_CLIENT_REJECTED),
                Arguments.of(400, "invalid_request", "AADSTS90014: The required field 'assertion' is missing.", 90014,
                        "", Reason.EXCHANGE_SUBJECT_REJECTED),
                Arguments.of(503, "temporarily_unavailable", "AADSTS90033: A transient error has occurred.", 90033, "",
                        Reason.EXCHANGE_UNAVAILABLE),
                Arguments.of(429, "", "AADSTS50196: The server terminated an operation because it encountered a client"
                        + " request loop.", 50196, "", Reason.EXCHANGE_UNAVAILABLE))
                .map(a -> {
                    Object[] v = a.get();
                    String body = "{\"error\":\"" + v[1] + "\",\"error_description\":\"" + v[2]
                            + "\\r\\nTrace ID: 0b7c-trace\\r\\nCorrelation ID: 5f2a-corr\\r\\nTimestamp: 2026-12-05 14:00:00Z\""
                            + tail.formatted(v[3], v[3]) + v[4] + "}";
                    return Arguments.of(v[0], v[1] + " " + v[3], body, v[5]);
                });
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("aadstsErrors")
    void aadstsErrorsOfOnBehalfOfMapAndStayInTheLog(int status, String name, String body, Reason expected) {
        String path = "/" + TENANT + "/oauth2/v2.0/token";
        entra.stubFor(post(path).willReturn(aResponse().withStatus(status).withHeader("Content-Type", "application/json")
                .withBody(body)));
        GatewayFailure failure = catchThrowableOfType(GatewayFailure.class,
                () -> client(path).request(GrantRequest.entraOnBehalfOf(USER_TOKEN, "api://todo/.default")).block(WAIT));
        assertThat(failure.reason()).isEqualTo(expected);
        assertThat(failure.description()).doesNotContain("AADSTS", "Trace", "consent", "multi-factor");
    }
}
