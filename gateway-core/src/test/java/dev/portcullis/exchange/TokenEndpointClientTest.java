package dev.portcullis.exchange;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.okJson;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.http.Fault;
import com.github.tomakehurst.wiremock.verification.LoggedRequest;
import com.nimbusds.jose.crypto.ECDSAVerifier;
import com.nimbusds.jose.crypto.RSASSAVerifier;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.jwk.gen.ECKeyGenerator;
import com.nimbusds.jose.jwk.gen.RSAKeyGenerator;
import com.nimbusds.jwt.SignedJWT;
import dev.portcullis.FakeTime;
import dev.portcullis.config.UpstreamAuthConfig;
import dev.portcullis.failure.GatewayFailure;
import dev.portcullis.failure.Reason;
import dev.portcullis.http.OutboundHttp;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Token endpoint requests as sent (EXCHANGE-02/03, client authentication) and answers as judged (EXCHANGE-04/05). */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class TokenEndpointClientTest {
    private static final Duration WAIT = Duration.ofSeconds(5);
    private static final String SUBJECT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyLTEyMyJ9.c2lnbmF0dXJlLXN1YmplY3Q";
    private static final String ISSUED = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyLTEyMyIsImp0aSI6ImotMSJ9.c2lnbmF0dXJlLWlzc3VlZA";
    private static final String EXCHANGED_OK = "{\"access_token\":\"" + ISSUED + "\",\"issued_token_type\":"
            + "\"urn:ietf:params:oauth:token-type:access_token\",\"token_type\":\"Bearer\",\"expires_in\":300}";

    private final FakeTime time = new FakeTime();
    private final ObjectMapper json = new ObjectMapper();
    private WireMockServer idp;
    private OutboundHttp http;

    @TempDir
    Path dir;

    @BeforeAll
    void start() {
        idp = new WireMockServer(options().bindAddress("127.0.0.1").dynamicPort());
        idp.start();
        http = new OutboundHttp(Duration.ofSeconds(2), Duration.ofSeconds(5));
    }

    @AfterAll
    void stop() {
        http.close();
        idp.stop();
    }

    @BeforeEach
    void reset() {
        idp.resetAll();
    }

    private String endpoint() {
        return "http://127.0.0.1:" + idp.port() + "/token";
    }

    private UpstreamAuthConfig config(String clientAuth, String secret, Path key) {
        return new UpstreamAuthConfig("token-exchange", null, endpoint(), "portcullis", clientAuth, secret, null, key,
                null, null, "todo", "https://todo.internal/mcp", List.of("todo:read"), null, Duration.ofMillis(500), null, null);
    }

    private TokenEndpointClient client(UpstreamAuthConfig config) {
        return new TokenEndpointClient(URI.create(config.tokenEndpoint()), ClientAuthentication.from(config, time), http, json,
                config.timeout(), time);
    }

    private TokenEndpointClient basicClient() {
        return client(config("client_secret_basic", "s3cret", null));
    }

    private static GrantRequest exchange() {
        return GrantRequest.tokenExchange(SUBJECT, "todo", "https://todo.internal/mcp", "todo:read", null);
    }

    private LoggedRequest onlyRequest() {
        List<LoggedRequest> requests = idp.findAll(postRequestedFor(urlEqualTo("/token")));
        assertThat(requests).hasSize(1);
        return requests.get(0);
    }

    private static Map<String, String> form(LoggedRequest request) {
        Map<String, String> params = new LinkedHashMap<>();
        for (String pair : request.getBodyAsString().split("&")) {
            int eq = pair.indexOf('=');
            String name = URLDecoder.decode(pair.substring(0, eq), StandardCharsets.UTF_8);
            assertThat(params).as("parameter %s sent once", name).doesNotContainKey(name);
            params.put(name, URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8));
        }
        return params;
    }

    @Test
    void exchange02Rfc8693RequestWithClientSecretBasic() {
        idp.stubFor(post("/token").willReturn(okJson(EXCHANGED_OK)));
        IssuedToken token = basicClient().request(exchange()).block(WAIT);

        assertThat(token.value()).isEqualTo(ISSUED);
        assertThat(token.expiresAt()).isEqualTo(time.instant().plusSeconds(300));
        assertThat(token.tokenId()).isEqualTo("j-1");
        LoggedRequest request = onlyRequest();
        assertThat(request.getHeader("Content-Type")).startsWith("application/x-www-form-urlencoded");
        assertThat(request.getHeader("Authorization"))
                .isEqualTo("Basic " + Base64.getEncoder().encodeToString("portcullis:s3cret".getBytes(StandardCharsets.UTF_8)));
        assertThat(form(request)).containsExactlyInAnyOrderEntriesOf(Map.of(
                "grant_type", "urn:ietf:params:oauth:grant-type:token-exchange",
                "subject_token", SUBJECT,
                "subject_token_type", "urn:ietf:params:oauth:token-type:access_token",
                "requested_token_type", "urn:ietf:params:oauth:token-type:access_token",
                "audience", "todo",
                "resource", "https://todo.internal/mcp",
                "scope", "todo:read"));
    }

    @Test
    void exchange03ActorTokenTypeIsSentExactlyWithTheActorToken() {
        idp.stubFor(post("/token").willReturn(okJson(EXCHANGED_OK)));
        basicClient().request(GrantRequest.tokenExchange(SUBJECT, "todo", null, "todo:read", "actor.jwt.value")).block(WAIT);
        assertThat(form(onlyRequest())).containsEntry("actor_token", "actor.jwt.value")
                .containsEntry("actor_token_type", "urn:ietf:params:oauth:token-type:access_token")
                .doesNotContainKey("resource");
    }

    @Test
    void clientSecretBasicFormEncodesIdAndSecret() {
        idp.stubFor(post("/token").willReturn(okJson(EXCHANGED_OK)));
        client(config("client_secret_basic", "a:b c+%", null)).request(exchange()).block(WAIT);
        String decoded = new String(Base64.getDecoder().decode(onlyRequest().getHeader("Authorization").substring(6)),
                StandardCharsets.UTF_8);
        assertThat(decoded).isEqualTo("portcullis:a%3Ab+c%2B%25");
    }

    @Test
    void clientSecretPostSendsTheCredentialsInTheBody() {
        idp.stubFor(post("/token").willReturn(okJson(EXCHANGED_OK)));
        client(config("client_secret_post", "s3cret", null)).request(exchange()).block(WAIT);
        LoggedRequest request = onlyRequest();
        assertThat(request.containsHeader("Authorization")).isFalse();
        assertThat(form(request)).containsEntry("client_id", "portcullis").containsEntry("client_secret", "s3cret")
                .containsEntry("subject_token", SUBJECT);
    }

    @Test
    void privateKeyJwtWithAnRsaPemKeySignsAnRfc7523Assertion() throws Exception {
        RSAKey key = new RSAKeyGenerator(2048).generate();
        Path pem = dir.resolve("key.pem");
        Files.writeString(pem, "-----BEGIN PRIVATE KEY-----\n"
                + Base64.getMimeEncoder().encodeToString(key.toPrivateKey().getEncoded()) + "\n-----END PRIVATE KEY-----\n");
        idp.stubFor(post("/token").willReturn(okJson(EXCHANGED_OK)));
        UpstreamAuthConfig config = new UpstreamAuthConfig("token-exchange", null, endpoint(), "portcullis",
                "private_key_jwt", null, null, pem, "gw-key-1", "PS256", "todo", null, List.of(), null, null, null, null);
        client(config).request(exchange()).block(WAIT);

        Map<String, String> form = form(onlyRequest());
        assertThat(onlyRequest().containsHeader("Authorization")).isFalse();
        assertThat(form).containsEntry("client_id", "portcullis")
                .containsEntry("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
                .doesNotContainKey("client_secret");
        SignedJWT assertion = SignedJWT.parse(form.get("client_assertion"));
        assertThat(assertion.verify(new RSASSAVerifier(key.toRSAPublicKey()))).isTrue();
        assertThat(assertion.getHeader().getAlgorithm().getName()).isEqualTo("PS256");
        assertThat(assertion.getHeader().getKeyID()).isEqualTo("gw-key-1");
        var claims = assertion.getJWTClaimsSet();
        assertThat(claims.getIssuer()).isEqualTo("portcullis");
        assertThat(claims.getSubject()).isEqualTo("portcullis");
        assertThat(claims.getAudience()).containsExactly(endpoint());
        assertThat(claims.getJWTID()).isNotBlank();
        assertThat(claims.getExpirationTime().toInstant()).isEqualTo(time.instant().plusSeconds(60));
    }

    @Test
    void privateKeyJwtWithAnEcJwkUsesItsKidAndCurve() throws Exception {
        ECKey key = new ECKeyGenerator(Curve.P_256).keyID("ec-1").generate();
        Path jwk = dir.resolve("key.jwk");
        Files.writeString(jwk, key.toJSONString());
        idp.stubFor(post("/token").willReturn(okJson(EXCHANGED_OK)));
        UpstreamAuthConfig config = new UpstreamAuthConfig("client-credentials", null, endpoint(), "portcullis",
                "private_key_jwt", null, null, jwk, null, null, null, null, List.of(), null, null, null, null);
        client(config).request(GrantRequest.clientCredentials(null, null, "")).block(WAIT);
        Map<String, String> form = form(onlyRequest());
        assertThat(form).containsEntry("grant_type", "client_credentials").doesNotContainKeys("scope", "audience", "resource");
        SignedJWT assertion = SignedJWT.parse(form.get("client_assertion"));
        assertThat(assertion.getHeader().getAlgorithm().getName()).isEqualTo("ES256");
        assertThat(assertion.getHeader().getKeyID()).isEqualTo("ec-1");
        assertThat(assertion.verify(new ECDSAVerifier(key.toECPublicKey()))).isTrue();
    }

    @Test
    void entraOnBehalfOfShapeAndAnswerWithoutIssuedTokenType() {
        idp.stubFor(post("/token").willReturn(okJson("{\"token_type\":\"Bearer\",\"scope\":\"api://todo/todo.read\","
                + "\"expires_in\":3599,\"ext_expires_in\":3599,\"access_token\":\"" + ISSUED + "\"}")));
        IssuedToken token = basicClient().request(GrantRequest.entraOnBehalfOf(SUBJECT, "api://todo/.default")).block(WAIT);
        assertThat(token.value()).isEqualTo(ISSUED);
        assertThat(token.grantedScope()).isEqualTo("api://todo/todo.read");
        assertThat(form(onlyRequest())).containsExactlyInAnyOrderEntriesOf(Map.of(
                "grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer",
                "assertion", SUBJECT,
                "requested_token_use", "on_behalf_of",
                "scope", "api://todo/.default"));
    }

    @Test
    void missingExpiresInUsesTheShortDefault() {
        idp.stubFor(post("/token").willReturn(okJson("{\"access_token\":\"abc\",\"token_type\":\"bearer\","
                + "\"issued_token_type\":\"urn:ietf:params:oauth:token-type:access_token\"}")));
        IssuedToken token = basicClient().request(exchange()).block(WAIT);
        assertThat(token.expiresAt()).isEqualTo(time.instant().plus(TokenEndpointClient.DEFAULT_LIFETIME));
    }

    static Stream<Arguments> invalidAnswers() {
        String type = "\"issued_token_type\":\"urn:ietf:params:oauth:token-type:access_token\"";
        return Stream.of(
                Arguments.of("no issued_token_type", "{\"access_token\":\"abc\",\"token_type\":\"Bearer\",\"expires_in\":60}"),
                Arguments.of("another issued_token_type", "{\"access_token\":\"abc\",\"token_type\":\"Bearer\","
                        + "\"issued_token_type\":\"urn:ietf:params:oauth:token-type:id_token\"}"),
                Arguments.of("token_type N_A", "{\"access_token\":\"abc\",\"token_type\":\"N_A\"," + type + "}"),
                Arguments.of("no token_type", "{\"access_token\":\"abc\"," + type + "}"),
                Arguments.of("no access_token", "{\"token_type\":\"Bearer\"," + type + "}"),
                Arguments.of("access_token not a string", "{\"access_token\":42,\"token_type\":\"Bearer\"," + type + "}"),
                Arguments.of("access_token breaks a header", "{\"access_token\":\"abc\\r\\nX-Evil: 1\",\"token_type\":\"Bearer\"," + type + "}"),
                Arguments.of("negative expires_in", "{\"access_token\":\"abc\",\"token_type\":\"Bearer\",\"expires_in\":-5," + type + "}"),
                Arguments.of("malformed JSON", "{\"access_token\":\"abc\","),
                Arguments.of("a JSON array", "[]"),
                Arguments.of("empty body", ""));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("invalidAnswers")
    void exchange04InvalidAnswersFail(String name, String body) {
        idp.stubFor(post("/token").willReturn(aResponse().withStatus(200).withHeader("Content-Type", "application/json").withBody(body)));
        GatewayFailure failure = catchThrowableOfType(GatewayFailure.class, () -> basicClient().request(exchange()).block(WAIT));
        assertThat(failure.reason()).isEqualTo(Reason.EXCHANGE_INVALID_RESPONSE);
        assertThat(failure.description()).isEqualTo("Upstream authorization failed");
    }

    static Stream<Arguments> errorAnswers() {
        return Stream.of(
                Arguments.of(500, "{\"error\":\"server_error\"}", Reason.EXCHANGE_UNAVAILABLE),
                Arguments.of(503, "<html>down</html>", Reason.EXCHANGE_UNAVAILABLE),
                Arguments.of(429, "", Reason.EXCHANGE_UNAVAILABLE),
                Arguments.of(400, "{\"error\":\"invalid_request\",\"error_description\":\"Invalid token\"}", Reason.EXCHANGE_SUBJECT_REJECTED),
                Arguments.of(400, "{\"error\":\"invalid_grant\"}", Reason.EXCHANGE_SUBJECT_REJECTED),
                Arguments.of(400, "{\"error\":\"invalid_target\"}", Reason.EXCHANGE_DENIED),
                Arguments.of(400, "{\"error\":\"invalid_scope\"}", Reason.EXCHANGE_DENIED),
                Arguments.of(400, "{\"error\":\"unauthorized_client\"}", Reason.EXCHANGE_DENIED),
                Arguments.of(401, "{\"error\":\"invalid_client\"}", Reason.EXCHANGE_CLIENT_REJECTED),
                Arguments.of(400, "{\"error\":\"invalid_client\"}", Reason.EXCHANGE_CLIENT_REJECTED),
                Arguments.of(401, "", Reason.EXCHANGE_CLIENT_REJECTED),
                Arguments.of(400, "{\"error\":\"unsupported_grant_type\"}", Reason.EXCHANGE_INVALID_RESPONSE),
                Arguments.of(400, "not json", Reason.EXCHANGE_INVALID_RESPONSE),
                Arguments.of(302, "", Reason.EXCHANGE_INVALID_RESPONSE));
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("errorAnswers")
    void exchange05ErrorsMapForACallersToken(int status, String body, Reason expected) {
        idp.stubFor(post("/token").willReturn(aResponse().withStatus(status).withHeader("Content-Type", "application/json").withBody(body)));
        GatewayFailure failure = catchThrowableOfType(GatewayFailure.class, () -> basicClient().request(exchange()).block(WAIT));
        assertThat(failure.reason()).isEqualTo(expected);
        assertThat(failure.description()).doesNotContain("Invalid token", "server_error", "html");
    }

    @Test
    void errorsForTheGatewaysOwnTokenAreTheGatewaysProblem() {
        for (String code : List.of("invalid_request", "invalid_grant", "invalid_scope", "unauthorized_client")) {
            idp.resetAll();
            idp.stubFor(post("/token").willReturn(aResponse().withStatus(400).withBody("{\"error\":\"" + code + "\"}")));
            GatewayFailure failure = catchThrowableOfType(GatewayFailure.class,
                    () -> basicClient().request(GrantRequest.clientCredentials(null, null, "x")).block(WAIT));
            assertThat(failure.reason()).as(code).isEqualTo(Reason.EXCHANGE_CLIENT_REJECTED);
        }
    }

    @Test
    void timeoutAndConnectionFailuresAreUnavailable() {
        idp.stubFor(post("/token").willReturn(okJson(EXCHANGED_OK).withFixedDelay(2000)));
        GatewayFailure slow = catchThrowableOfType(GatewayFailure.class, () -> basicClient().request(exchange()).block(WAIT));
        assertThat(slow.reason()).isEqualTo(Reason.EXCHANGE_UNAVAILABLE);
        assertThat(slow.getMessage()).contains("no answer within 500ms");

        idp.resetAll();
        idp.stubFor(post("/token").willReturn(aResponse().withFault(Fault.CONNECTION_RESET_BY_PEER)));
        assertThat(catchThrowableOfType(GatewayFailure.class, () -> basicClient().request(exchange()).block(WAIT)).reason())
                .isEqualTo(Reason.EXCHANGE_UNAVAILABLE);
    }

    @Test
    void security05IdpErrorTextIsRedactedForTheLogAndNeverShownToTheClient() {
        idp.stubFor(post("/token").willReturn(aResponse().withStatus(400).withBody("{\"error\":\"invalid_grant\","
                + "\"error_description\":\"AADSTS50013: Assertion failed signature validation. token=" + SUBJECT + "\"}")));
        GatewayFailure failure = catchThrowableOfType(GatewayFailure.class, () -> basicClient().request(exchange()).block(WAIT));
        assertThat(failure.getMessage()).contains("AADSTS50013").doesNotContain(SUBJECT).doesNotContain(SUBJECT.split("\\.")[2]);
        assertThat(failure.description()).doesNotContain("AADSTS");
    }
}
