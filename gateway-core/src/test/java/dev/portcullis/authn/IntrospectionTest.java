package dev.portcullis.authn;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.github.benmanes.caffeine.cache.Ticker;
import dev.portcullis.FakeTime;
import dev.portcullis.Step;
import dev.portcullis.config.IntrospectionConfig;
import dev.portcullis.config.IssuerConfig;
import dev.portcullis.failure.GatewayFailure;
import dev.portcullis.failure.Reason;
import dev.portcullis.http.OutboundHttp;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;

/**
 * Issue 16, opaque tokens (RFC 7662): the introspection client and its cache, without sockets (a fake poster answers
 * as the endpoint would). The JWT cases use {@link LocalIssuer}'s JWKS. Requirement IDs: AUTHN-06 (iss), AUTHN-08
 * (exp/nbf), PRM-08 (aud = this resource), SECURITY-03 (the endpoint), SECURITY-05 (no token in logs: NoSecretsInLogsTest).
 */
class IntrospectionTest {
    private static final String ISSUER = "https://idp.example.com";
    private static final String ENDPOINT = "https://idp.example.com/introspect";
    private static final String RESOURCE = "https://gw.example.com/mcp";
    private static final Set<String> AUDIENCES = Set.of(RESOURCE);
    private static final ObjectMapper JSON = JsonMapper.builder()
            .enable(com.fasterxml.jackson.core.StreamReadFeature.STRICT_DUPLICATE_DETECTION).build();

    private final FakeTime time = new FakeTime(Instant.now());

    /** The endpoint as a function of the posted form; every request recorded. */
    static final class FakeEndpoint implements Introspection.Poster {
        final List<Map<String, String>> forms = new CopyOnWriteArrayList<>();
        final List<Map<String, String>> headers = new CopyOnWriteArrayList<>();
        final List<URI> uris = new CopyOnWriteArrayList<>();
        volatile Function<Map<String, String>, Mono<OutboundHttp.Response>> answer;

        FakeEndpoint(Function<Map<String, String>, Mono<OutboundHttp.Response>> answer) {
            this.answer = answer;
        }

        @Override
        public Mono<OutboundHttp.Response> post(URI uri, String form, Map<String, String> headers, Duration timeout) {
            Map<String, String> parsed = new LinkedHashMap<>();
            for (String pair : form.split("&")) {
                String[] kv = pair.split("=", 2);
                parsed.put(URLDecoder.decode(kv[0], StandardCharsets.UTF_8), URLDecoder.decode(kv[1], StandardCharsets.UTF_8));
            }
            uris.add(uri);
            forms.add(parsed);
            this.headers.add(headers);
            return answer.apply(parsed);
        }

        int calls() {
            return forms.size();
        }
    }

    static Mono<OutboundHttp.Response> json(int status, String body) {
        return Mono.just(new OutboundHttp.Response(status, "application/json", body.getBytes(StandardCharsets.UTF_8)));
    }

    private String active(Map<String, Object> overrides) throws Exception {
        Map<String, Object> claims = new LinkedHashMap<>();
        claims.put("active", true);
        claims.put("iss", ISSUER);
        claims.put("sub", "user-123");
        claims.put("aud", RESOURCE);
        claims.put("client_id", "agent-1");
        claims.put("scope", "notes:read notes:write");
        claims.put("token_type", "Bearer");
        claims.put("iat", time.instant().getEpochSecond());
        claims.put("exp", time.instant().plusSeconds(3600).getEpochSecond());
        claims.putAll(overrides);
        claims.values().removeIf(v -> v == null);
        return JSON.writeValueAsString(claims);
    }

    static IssuerConfig issuer(String issuer, String jwksUri, String claims, IntrospectionConfig introspection) {
        return new IssuerConfig(issuer, jwksUri, List.of("RS256", "ES256"), claims, null, null, null, null, false, null,
                null, false, null, null, null, null, introspection);
    }

    static IntrospectionConfig introspection(String endpoint, String tokens, String cacheMax, String negative) {
        return new IntrospectionConfig(endpoint, "portcullis", null, "gw-secret", null, null, null, null, tokens,
                cacheMax == null ? null : dev.portcullis.config.DurationText.parse(cacheMax),
                negative == null ? null : dev.portcullis.config.DurationText.parse(negative), Duration.ofSeconds(2));
    }

    private static final Introspection.ClientCredentials BASIC = (form, headers, endpoint) ->
            headers.put("Authorization", "Basic cG9ydGN1bGxpczpndy1zZWNyZXQ=");

    private TokenVerifier opaqueVerifier(FakeEndpoint endpoint, IntrospectionConfig config, Clock clock, Ticker ticker) {
        IssuerConfig issuer = issuer(ISSUER, "https://idp.example.com/jwks", "generic", config);
        Introspection introspection = new Introspection(issuer, () -> Mono.error(new IllegalStateException("no discovery")),
                endpoint, BASIC, JSON, clock, ticker, 1000, null);
        return new TokenVerifier(List.of(), List.of(introspection), clock, ticker, 1000);
    }

    private TokenVerifier opaqueVerifier(FakeEndpoint endpoint) {
        return opaqueVerifier(endpoint, introspection(ENDPOINT, null, "5m", "10s"), time, time);
    }

    static TokenVerifier.Checked checked(TokenVerifier verifier, String token) {
        Step<TokenVerifier.Checked> step = verifier.checkConfirmed(new BearerToken(token), AUDIENCES);
        try {
            return step.future().get(5, TimeUnit.SECONDS);
        } catch (java.util.concurrent.ExecutionException e) {
            Throwable cause = e.getCause();
            while (cause instanceof CompletionException && cause.getCause() != null) {
                cause = cause.getCause();
            }
            if (cause instanceof RuntimeException r) {
                throw r;
            }
            throw new AssertionError(e);
        } catch (InterruptedException | TimeoutException e) {
            throw new AssertionError(e);
        }
    }

    static void refused(TokenVerifier verifier, String token, Reason reason, String code) {
        assertThatThrownBy(() -> checked(verifier, token)).isInstanceOfSatisfying(GatewayFailure.class, f -> {
            assertThat(f.reason()).as(f.getMessage()).isEqualTo(reason);
            assertThat(f.code()).as(f.getMessage()).isEqualTo(code);
        });
    }

    @Test
    void anActiveOpaqueTokenBecomesThePrincipalWithScopeSubAndAgentFromTheAnswer() throws Exception {
        String body = active(Map.of());
        FakeEndpoint endpoint = new FakeEndpoint(form -> json(200, body));
        TokenVerifier verifier = opaqueVerifier(endpoint);

        TokenVerifier.Checked checked = checked(verifier, "opaque-abc.123");
        assertThat(checked.principal().subject()).isEqualTo("user-123");
        assertThat(checked.principal().issuer()).isEqualTo(ISSUER);
        assertThat(checked.principal().agent()).isEqualTo("agent-1");
        assertThat(checked.principal().scopes()).containsExactlyInAnyOrder("notes:read", "notes:write");
        assertThat(checked.confirmation().present()).isFalse();
        assertThat(endpoint.uris).containsExactly(URI.create(ENDPOINT));
        assertThat(endpoint.forms.get(0)).containsEntry("token", "opaque-abc.123").containsEntry("token_type_hint", "access_token");
        assertThat(endpoint.headers.get(0)).containsKey("Authorization");
    }

    @Test
    void scopesComeFromScopeEvenWhereThePresetReadsScpFromJwts() throws Exception {
        String body = active(Map.of("scp", "other"));
        FakeEndpoint endpoint = new FakeEndpoint(form -> json(200, body));
        IssuerConfig okta = issuer("https://acme.okta.com/oauth2/default", "https://acme.okta.com/jwks", "okta",
                introspection(ENDPOINT, null, null, null));
        Introspection introspection = new Introspection(okta, Mono::empty, endpoint, BASIC, JSON, time, time, 100, null);
        endpoint.answer = form -> json(200, body.replace(ISSUER, okta.issuer()));
        TokenVerifier verifier = new TokenVerifier(List.of(), List.of(introspection), time, time, 100);
        assertThat(checked(verifier, "opaque").principal().scopes()).containsExactlyInAnyOrder("notes:read", "notes:write");
    }

    @Test
    void activeFalseIsRefusedAs401InvalidTokenAndRememberedForTheNegativeCacheOnly() throws Exception {
        FakeEndpoint endpoint = new FakeEndpoint(form -> json(200, "{\"active\":false}"));
        TokenVerifier verifier = opaqueVerifier(endpoint);

        refused(verifier, "revoked-token", Reason.INVALID_TOKEN, "inactive");
        refused(verifier, "revoked-token", Reason.INVALID_TOKEN, "inactive");
        assertThat(endpoint.calls()).as("the negative answer is reused").isEqualTo(1);
        time.advance(Duration.ofSeconds(11));
        refused(verifier, "revoked-token", Reason.INVALID_TOKEN, "inactive");
        assertThat(endpoint.calls()).as("and forgotten after negative-cache (10s)").isEqualTo(2);
    }

    @Test
    void aPositiveAnswerIsKeptAtMostCacheMax() throws Exception {
        String body = active(Map.of());
        FakeEndpoint endpoint = new FakeEndpoint(form -> json(200, body));
        TokenVerifier verifier = opaqueVerifier(endpoint, introspection(ENDPOINT, null, "30s", "10s"), time, time);

        checked(verifier, "tok");
        time.advance(Duration.ofSeconds(29));
        checked(verifier, "tok");
        assertThat(endpoint.calls()).isEqualTo(1);
        // Revoked meanwhile: the next introspection, after cache-max, sees it.
        endpoint.answer = form -> json(200, "{\"active\":false}");
        time.advance(Duration.ofSeconds(2));
        refused(verifier, "tok", Reason.INVALID_TOKEN, "inactive");
        assertThat(endpoint.calls()).isEqualTo(2);
    }

    @Test
    void aPositiveAnswerIsNeverKeptPastTheTokensExp() throws Exception {
        String body = active(Map.of("exp", time.instant().plusSeconds(20).getEpochSecond()));
        FakeEndpoint endpoint = new FakeEndpoint(form -> json(200, body));
        TokenVerifier verifier = opaqueVerifier(endpoint, introspection(ENDPOINT, null, "5m", "10s"), time, time);

        checked(verifier, "short-lived");
        time.advance(Duration.ofSeconds(21));
        // Within the clock skew the cached claims would still pass; the entry itself is gone at exp.
        endpoint.answer = form -> json(200, "{\"active\":false}");
        refused(verifier, "short-lived", Reason.INVALID_TOKEN, "inactive");
        assertThat(endpoint.calls()).as("asked again once exp passed, though cache-max is 5m").isEqualTo(2);
    }

    @Test
    void aLyingEndpointsActiveTrueIsStillJudgedLikeJwtClaims() throws Exception {
        Instant now = time.instant();
        Map<String, Map<String, Object>> lies = new LinkedHashMap<>();
        lies.put("audience", Map.of("aud", "https://elsewhere.example.com/mcp"));
        lies.put("expired", Map.of("exp", now.minusSeconds(600).getEpochSecond(), "iat", now.minusSeconds(1200).getEpochSecond()));
        lies.put("not_yet_valid", Map.of("nbf", now.plusSeconds(600).getEpochSecond()));
        lies.put("untrusted_issuer", Map.of("iss", "https://evil.example.com"));
        lies.put("lifetime", Map.of("exp", now.plus(Duration.ofDays(30)).getEpochSecond()));
        lies.put("token_type", Map.of("token_type", "refresh_token"));
        lies.put("claim_type", Map.of("exp", "tomorrow"));
        for (Map.Entry<String, Map<String, Object>> lie : lies.entrySet()) {
            String body = active(lie.getValue());
            FakeEndpoint endpoint = new FakeEndpoint(form -> json(200, body));
            refused(opaqueVerifier(endpoint), "tok-" + lie.getKey(), Reason.INVALID_TOKEN, lie.getKey());
        }
        Map<String, Object> noExp = new LinkedHashMap<>();
        noExp.put("exp", null);
        String withoutExp = active(noExp);
        refused(opaqueVerifier(new FakeEndpoint(form -> json(200, withoutExp))), "tok", Reason.INVALID_TOKEN, "no_expiry");
        Map<String, Object> noAud = new LinkedHashMap<>();
        noAud.put("aud", null);
        String withoutAud = active(noAud);
        refused(opaqueVerifier(new FakeEndpoint(form -> json(200, withoutAud))), "tok", Reason.INVALID_TOKEN, "audience");
        Map<String, Object> noSub = new LinkedHashMap<>();
        noSub.put("sub", null);
        String withoutSub = active(noSub);
        refused(opaqueVerifier(new FakeEndpoint(form -> json(200, withoutSub))), "tok", Reason.INVALID_TOKEN, "no_subject");
    }

    @Test
    void aCachedAnswerIsJudgedAgainOnEveryRequestForTheRouteAsked() throws Exception {
        String body = active(Map.of());
        FakeEndpoint endpoint = new FakeEndpoint(form -> json(200, body));
        TokenVerifier verifier = opaqueVerifier(endpoint);
        checked(verifier, "tok");
        // PRM-08: the same token at another resource is refused from the cache, without a new call.
        assertThatThrownBy(() -> verifier.checkConfirmed(new BearerToken("tok"), Set.of("https://gw.example.com/other")))
                .isInstanceOfSatisfying(GatewayFailure.class, f -> assertThat(f.code()).isEqualTo("audience"));
        assertThat(endpoint.calls()).isEqualTo(1);
    }

    @Test
    void anAnswerThatIsNotAnIntrospectionResponseIs503AndNotKept() {
        Map<String, Mono<OutboundHttp.Response>> answers = new LinkedHashMap<>();
        answers.put("active missing", json(200, "{\"sub\":\"user-123\"}"));
        answers.put("active as a string", json(200, "{\"active\":\"true\"}"));
        answers.put("not JSON", Mono.just(new OutboundHttp.Response(200, "text/html", "<html>ok</html>".getBytes(StandardCharsets.UTF_8))));
        answers.put("a JSON array", json(200, "[true]"));
        answers.put("a member twice", json(200, "{\"active\":false,\"active\":true}"));
        answers.put("500", json(500, "{}"));
        answers.put("401 (the gateway's client refused)", json(401, "{\"error\":\"invalid_client\"}"));
        answers.put("timeout", Mono.error(new TimeoutException()));
        answers.put("connection refused", Mono.error(new java.net.ConnectException("refused")));
        for (Map.Entry<String, Mono<OutboundHttp.Response>> answer : answers.entrySet()) {
            FakeEndpoint endpoint = new FakeEndpoint(form -> answer.getValue());
            TokenVerifier verifier = opaqueVerifier(endpoint);
            assertThatThrownBy(() -> checked(verifier, "tok")).as(answer.getKey())
                    .isInstanceOfSatisfying(GatewayFailure.class, f -> {
                        assertThat(f.reason()).isEqualTo(Reason.INTROSPECTION_UNAVAILABLE);
                        assertThat(f.code()).isEqualTo("introspection_unavailable");
                    });
            assertThatThrownBy(() -> checked(verifier, "tok")).isInstanceOf(GatewayFailure.class);
            assertThat(endpoint.calls()).as(answer.getKey() + ": a failure is not kept").isEqualTo(2);
        }
    }

    @Test
    void concurrentRequestsForOneTokenMakeOneIntrospectionCall() throws Exception {
        Sinks.One<OutboundHttp.Response> pending = Sinks.one();
        FakeEndpoint endpoint = new FakeEndpoint(form -> pending.asMono());
        TokenVerifier verifier = opaqueVerifier(endpoint);
        List<java.util.concurrent.CompletableFuture<TokenVerifier.Checked>> waiting = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            Step<TokenVerifier.Checked> step = verifier.checkConfirmed(new BearerToken("shared-token"), AUDIENCES);
            assertThat(step.ready()).isFalse();
            waiting.add(step.future());
        }
        assertThat(endpoint.calls()).isEqualTo(1);
        pending.tryEmitValue(new OutboundHttp.Response(200, "application/json", active(Map.of()).getBytes(StandardCharsets.UTF_8)));
        for (var future : waiting) {
            assertThat(future.get(5, TimeUnit.SECONDS).principal().subject()).isEqualTo("user-123");
        }
        assertThat(verifier.checkConfirmed(new BearerToken("shared-token"), AUDIENCES).ready())
                .as("a kept answer is answered at once, like a cached JWT").isTrue();
        assertThat(endpoint.calls()).isEqualTo(1);
    }

    @Test
    void confirmationFromTheAnswerKeepsDpopAndCertificateBindings() throws Exception {
        String jkt = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I";
        String x5t = "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2";
        String dpop = active(Map.of("cnf", Map.of("jkt", jkt), "token_type", "DPoP"));
        String mtls = active(Map.of("cnf", Map.of("x5t#S256", x5t)));
        TokenVerifier.Checked bound = checked(opaqueVerifier(new FakeEndpoint(form -> json(200, dpop))), "dpop-token");
        assertThat(bound.confirmation().dpopBound()).isTrue();
        assertThat(bound.confirmation().jkt()).isEqualTo(jkt);
        TokenVerifier.Checked certificate = checked(opaqueVerifier(new FakeEndpoint(form -> json(200, mtls))), "mtls-token");
        assertThat(certificate.confirmation().certificateBound()).isTrue();
        assertThat(certificate.confirmation().x5tS256()).isEqualTo(x5t);
    }

    @Test
    void theEndpointIsDiscoveredWhenNotConfigured() throws Exception {
        String body = active(Map.of());
        FakeEndpoint endpoint = new FakeEndpoint(form -> json(200, body));
        IssuerConfig issuer = issuer(ISSUER, "https://idp.example.com/jwks", "generic", introspection(null, null, null, null));
        URI discovered = URI.create("https://idp.example.com/oauth2/introspect");
        Introspection introspection = new Introspection(issuer, () -> Mono.just(new IssuerMetadata(ISSUER, null, null,
                List.of("client_secret_basic"), discovered)), endpoint, BASIC, JSON, time, time, 100, null);
        TokenVerifier verifier = new TokenVerifier(List.of(), List.of(introspection), time, time, 100);
        checked(verifier, "tok");
        assertThat(endpoint.uris).containsExactly(discovered);

        Introspection none = new Introspection(issuer, () -> Mono.just(new IssuerMetadata(ISSUER, null, null, List.of())),
                endpoint, BASIC, JSON, time, time, 100, null);
        refused(new TokenVerifier(List.of(), List.of(none), time, time, 100), "tok", Reason.INTROSPECTION_UNAVAILABLE,
                "introspection_unavailable");
    }

    @Test
    void jwtsGoTheJwtPathUnlessTheIssuerIntrospectsThemToo() throws Exception {
        try (LocalIssuer idp = new LocalIssuer()) {
            OutboundHttp http = new OutboundHttp(Duration.ofSeconds(2), Duration.ofSeconds(2));
            try {
                String jwt = idp.valid();
                Map<String, Object> answer = new LinkedHashMap<>();
                answer.put("iss", idp.issuer());
                answer.put("aud", LocalIssuer.RESOURCE);
                String body = active(answer);
                for (String tokens : List.of("opaque", "all", "jwt")) {
                    FakeEndpoint endpoint = new FakeEndpoint(form -> json(200, body));
                    IssuerConfig issuer = new IssuerConfig(idp.issuer(), idp.jwksUri(), List.of("RS256", "ES256"), "generic",
                            null, null, null, null, true, null, null, false, null, null, null, null,
                            introspection(ENDPOINT, tokens, null, null));
                    JwksCache keys = new JwksCache(issuer, http, JSON, Ticker.systemTicker());
                    Introspection introspection = new Introspection(issuer, Mono::empty, endpoint, BASIC, JSON,
                            Clock.systemUTC(), Ticker.systemTicker(), 100, null);
                    TokenVerifier verifier = new TokenVerifier(List.of(keys), List.of(introspection), Clock.systemUTC(),
                            Ticker.systemTicker(), 100);
                    assertThat(checked(verifier, jwt).principal().subject()).isEqualTo("user-123");
                    assertThat(endpoint.calls()).as("tokens: " + tokens).isEqualTo(tokens.equals("opaque") ? 0 : 1);
                    // Revoked at the issuer: only an issuer that introspects its JWTs sees it (after the cache).
                    String revoked = idp.valid();
                    endpoint.answer = form -> json(200, "{\"active\":false}");
                    if (tokens.equals("opaque")) {
                        assertThat(checked(verifier, revoked).principal().subject()).isEqualTo("user-123");
                    } else {
                        refused(verifier, revoked, Reason.INVALID_TOKEN, "inactive");
                    }
                    // A JWT of the issuer with a bad signature never reaches introspection.
                    String[] parts = revoked.split("\\.");
                    int before = endpoint.calls();
                    refused(verifier, parts[0] + "." + parts[1] + "." + new StringBuilder(parts[2]).reverse(),
                            Reason.INVALID_TOKEN, "signature");
                    assertThat(endpoint.calls()).isEqualTo(before);
                    // An opaque token: introspected only where the issuer takes opaque tokens; else malformed.
                    endpoint.answer = form -> json(200, body);
                    if (tokens.equals("jwt")) {
                        refused(verifier, "opaque-token", Reason.INVALID_TOKEN, "malformed");
                    } else {
                        assertThat(checked(verifier, "opaque-token").principal().subject()).isEqualTo("user-123");
                    }
                }
            } finally {
                http.close();
            }
        }
    }

    /**
     * A JWE access token (five parts: some IdPs issue their access tokens encrypted) is opaque to the gateway: it is
     * introspected, and its cached answer serves the next request at once, as for any opaque token. So are a five-part
     * token whose header names a JWS algorithm and a four-part token: only three parts take the JWT path. (What a
     * cached JWE costs per request is measured in bench/, {@code IntrospectionBenchmark.opaqueJweCachedAnswer}.)
     */
    @Test
    void aJweAndEveryTokenOfOtherThanThreePartsIsIntrospectedAndItsAnswerReused() throws Exception {
        String body = active(Map.of());
        FakeEndpoint endpoint = new FakeEndpoint(form -> json(200, body));
        TokenVerifier verifier = opaqueVerifier(endpoint);
        com.nimbusds.jose.JWEObject jwe = new com.nimbusds.jose.JWEObject(new com.nimbusds.jose.JWEHeader(
                com.nimbusds.jose.JWEAlgorithm.DIR, com.nimbusds.jose.EncryptionMethod.A256GCM),
                new com.nimbusds.jose.Payload("{\"sub\":\"user-123\"}"));
        jwe.encrypt(new com.nimbusds.jose.crypto.DirectEncrypter(new byte[32]));
        String jwsHeader = com.nimbusds.jose.util.Base64URL.encode("{\"alg\":\"RS256\"}").toString();
        List<String> tokens = List.of(jwe.serialize(), jwsHeader + ".e30.c2ln.c2ln.c2ln", "part.two.three.four");
        for (int i = 0; i < tokens.size(); i++) {
            String token = tokens.get(i);
            assertThat(checked(verifier, token).principal().subject()).as(token).isEqualTo("user-123");
            assertThat(endpoint.calls()).as(token).isEqualTo(i + 1);
            assertThat(endpoint.forms.get(i)).containsEntry("token", token);
            Step<TokenVerifier.Checked> again = verifier.checkConfirmed(new BearerToken(token), AUDIENCES);
            assertThat(again.ready()).as("the cached answer, at once: " + token).isTrue();
            assertThat(again.value().principal().subject()).isEqualTo("user-123");
            assertThat(endpoint.calls()).as(token).isEqualTo(i + 1);
        }
    }

    /** AUTHN-04: an unsecured JWT ({@code alg: none}) is refused on the JWT path, never asked about at the issuer. */
    @Test
    void anUnsecuredJwtIsMalformedAndNeverIntrospected() throws Exception {
        FakeEndpoint endpoint = new FakeEndpoint(form -> json(200, "{\"active\":true}"));
        com.nimbusds.jwt.JWTClaimsSet claims = new com.nimbusds.jwt.JWTClaimsSet.Builder().issuer(ISSUER).subject("user-123")
                .audience(RESOURCE).expirationTime(java.util.Date.from(time.instant().plusSeconds(600))).build();
        refused(opaqueVerifier(endpoint), new com.nimbusds.jwt.PlainJWT(claims).serialize(), Reason.INVALID_TOKEN, "malformed");
        assertThat(endpoint.calls()).isZero();
    }

    @Test
    void aJwsOfAnUnknownIssuerIsNeverSentToTheIntrospectionEndpoint() throws Exception {
        try (LocalIssuer other = new LocalIssuer()) {
            FakeEndpoint endpoint = new FakeEndpoint(form -> json(200, "{\"active\":true}"));
            refused(opaqueVerifier(endpoint, introspection(ENDPOINT, "all", null, null), Clock.systemUTC(),
                    Ticker.systemTicker()), other.valid(), Reason.INVALID_TOKEN, "untrusted_issuer");
            assertThat(endpoint.calls()).isZero();
        }
    }
}
