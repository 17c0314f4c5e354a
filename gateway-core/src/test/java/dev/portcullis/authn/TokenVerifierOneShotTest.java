package dev.portcullis.authn;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.benmanes.caffeine.cache.Ticker;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.jwk.KeyUse;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.jwk.gen.RSAKeyGenerator;
import dev.portcullis.FakeTime;
import dev.portcullis.Step;
import dev.portcullis.config.IssuerConfig;
import dev.portcullis.failure.GatewayFailure;
import dev.portcullis.failure.Reason;
import dev.portcullis.http.OutboundHttp;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Mono;

/**
 * Issue 13, a never-seen token: answered synchronously when its key is in the JWKS cache (only a JWKS miss waits),
 * and cached only at its second sight (the {@link Doorkeeper}), so one-shot tokens do not fill the verified-token
 * cache. Whether a check verified the signature again is observed, not asked: the IdP replaces its signing key under
 * the same {@code kid} and the gateway fetches the new set, so a re-verified token fails its signature check while a
 * cached one is still accepted.
 */
class TokenVerifierOneShotTest {
    private static final Set<String> AUDIENCES = Set.of(LocalIssuer.RESOURCE);

    private LocalIssuer idp;
    private OutboundHttp http;
    private JwksCache keys;
    private TokenVerifier verifier;

    @BeforeEach
    void start() throws Exception {
        idp = new LocalIssuer();
        http = new OutboundHttp(Duration.ofSeconds(2), Duration.ofSeconds(2));
        keys = new JwksCache(issuerConfig(), http, new ObjectMapper(), Ticker.systemTicker());
        verifier = new TokenVerifier(List.of(keys), Clock.systemUTC(), Ticker.systemTicker(), 1000);
    }

    @AfterEach
    void stop() {
        idp.close();
        http.close();
    }

    private IssuerConfig issuerConfig() {
        return new IssuerConfig(idp.issuer(), idp.jwksUri(), List.of("RS256", "ES256"), "generic", null, null, null,
                null, true, Duration.ofHours(1), Duration.ofSeconds(30), false, null);
    }

    private static Step<TokenVerifier.Checked> check(TokenVerifier verifier, String token) {
        return verifier.checkConfirmed(new BearerToken(token), AUDIENCES);
    }

    /** The principal, waiting if the answer comes later; a failure thrown as it is (unwrapped). */
    private static Principal principal(TokenVerifier verifier, String token) {
        return verifier.verify(new BearerToken(token), AUDIENCES).block(Duration.ofSeconds(5));
    }

    private static void refusedAs(TokenVerifier verifier, String token, String description) {
        assertThatThrownBy(() -> principal(verifier, token)).isInstanceOfSatisfying(GatewayFailure.class, f -> {
            assertThat(f.reason()).isEqualTo(Reason.INVALID_TOKEN);
            assertThat(f.description()).isEqualTo(description);
        });
    }

    private void keysLoaded() {
        assertThat(keys.keys().block(Duration.ofSeconds(5)).getKeyByKeyId("rsa-1")).isNotNull();
    }

    /**
     * The IdP replaces {@code rsa-1} with another key under the same kid, and the gateway fetches the new set (a token
     * of an unknown kid forces the re-fetch): from now on a token of the old key fails its signature check, unless it
     * is answered from the cache.
     */
    private void signingKeyReplacedUnderTheSameKid() throws Exception {
        RSAKey replacement = new RSAKeyGenerator(2048).keyID("rsa-1").keyUse(KeyUse.SIGNATURE).generate();
        idp.withdraw("rsa-1");
        idp.publish(replacement);
        RSAKey stranger = new RSAKeyGenerator(2048).keyID("stranger").generate();
        refusedAs(verifier, LocalIssuer.sign(stranger, JWSAlgorithm.RS256, idp.claims().build()),
                "The access token is signed with an unknown key");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (!(keys.keysNow().getKeyByKeyId("rsa-1") instanceof RSAKey key && key.getModulus().equals(replacement.getModulus()))) {
            assertThat(System.nanoTime()).as("the replaced key is fetched").isLessThan(deadline);
            Thread.sleep(10);
        }
    }

    // ---- 1. synchronous when the key is known ----

    @Test
    void aNeverSeenTokenWhoseKeyIsInTheJwksCacheIsAnsweredAtOnce() throws Exception {
        keysLoaded();
        for (String token : List.of(idp.valid(), LocalIssuer.sign(idp.ec, JWSAlgorithm.ES256, idp.claims().build()))) {
            Step<TokenVerifier.Checked> step = check(verifier, token);
            assertThat(step.ready()).as("answered now, no future").isTrue();
            assertThat(step.value().principal().subject()).isEqualTo("user-123");
            assertThat(step.value().issuer().issuer()).isEqualTo(idp.issuer());
        }
    }

    /** The same failures as before, known at once and thrown (as a cached token's claim failures always were). */
    @Test
    void aNeverSeenTokenWithAKnownKeyIsRefusedAtOnceWithTheSameFailures() throws Exception {
        keysLoaded();
        int fetches = idp.fetches();
        String[] parts = idp.valid().split("\\.");
        String badSignature = parts[0] + "." + parts[1] + "." + new StringBuilder(parts[2]).reverse();
        assertThatThrownBy(() -> check(verifier, badSignature)).isInstanceOfSatisfying(GatewayFailure.class, f -> {
            assertThat(f.reason()).isEqualTo(Reason.INVALID_TOKEN);
            assertThat(f.code()).isEqualTo("signature");
            assertThat(f.description()).isEqualTo("The access token signature is invalid");
        });
        String wrongAudience = idp.rs256(idp.claims().audience("https://elsewhere.example/mcp").build());
        assertThatThrownBy(() -> check(verifier, wrongAudience)).isInstanceOfSatisfying(GatewayFailure.class,
                f -> assertThat(f.description()).isEqualTo("The access token is not intended for this resource"));
        String expired = idp.rs256(idp.claims().expirationTime(Date.from(Instant.now().minusSeconds(120))).build());
        assertThatThrownBy(() -> check(verifier, expired)).isInstanceOfSatisfying(GatewayFailure.class,
                f -> assertThat(f.description()).isEqualTo("The access token is expired"));
        // Through the Mono API, the same failure as an error signal.
        refusedAs(verifier, badSignature, "The access token signature is invalid");
        assertThat(idp.fetches()).as("no fetch for a known key").isEqualTo(fetches);
    }

    @Test
    void aTokenOfAnUnknownKidTriggersExactlyOneJwksFetchAndIsAnsweredLater() throws Exception {
        keysLoaded();
        RSAKey next = new RSAKeyGenerator(2048).keyID("rsa-2").keyUse(KeyUse.SIGNATURE).generate();
        idp.publish(next);
        int before = idp.fetches();
        Step<TokenVerifier.Checked> step = check(verifier, LocalIssuer.sign(next, JWSAlgorithm.RS256, idp.claims().build()));
        assertThat(step.ready()).as("a JWKS miss waits for the fetch").isFalse();
        assertThat(step.future().get(5, TimeUnit.SECONDS).principal().subject()).isEqualTo("user-123");
        assertThat(idp.fetches() - before).isEqualTo(1);
        // Once Caffeine has swapped the fetched set in (just after the refresh's future completes), the next never-seen
        // token of the key is answered at once, with no fetch.
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (keys.keysNow().getKeyByKeyId("rsa-2") == null) {
            assertThat(System.nanoTime()).as("the fetched set is swapped in").isLessThan(deadline);
            Thread.sleep(5);
        }
        Step<TokenVerifier.Checked> again = check(verifier, LocalIssuer.sign(next, JWSAlgorithm.RS256, idp.claims().build()));
        assertThat(again.ready()).isTrue();
        assertThat(idp.fetches() - before).isEqualTo(1);
    }

    @Test
    void theFirstTokenBeforeAnyKeysAreLoadedWaitsForOneFetch() throws Exception {
        Step<TokenVerifier.Checked> step = check(verifier, idp.valid());
        assertThat(step.ready()).isFalse();
        assertThat(step.future().get(5, TimeUnit.SECONDS).principal().subject()).isEqualTo("user-123");
        assertThat(idp.fetches()).isEqualTo(1);
    }

    // ---- 2. the doorkeeper: cached at the second sight ----

    @Test
    void aTokenCheckedOnceIsNotCachedAndItsSecondCheckVerifiesTheSignatureAgain() throws Exception {
        String token = idp.valid();
        assertThat(principal(verifier, token).subject()).isEqualTo("user-123");
        assertThat(verifier.cached(new BearerToken(token))).as("seen once: not cached").isFalse();
        signingKeyReplacedUnderTheSameKid();
        // Not cached: verified again, now against the replaced key, and refused.
        refusedAs(verifier, token, "The access token signature is invalid");
        assertThat(verifier.cached(new BearerToken(token))).isFalse();
    }

    @Test
    void aTokenSeenTwiceIsCachedAndItsThirdCheckIsACacheHit() throws Exception {
        keysLoaded();
        String token = idp.valid();
        assertThat(check(verifier, token).ready()).isTrue();
        assertThat(verifier.cached(new BearerToken(token))).isFalse();
        assertThat(check(verifier, token).ready()).isTrue();
        assertThat(verifier.cached(new BearerToken(token))).as("seen twice: cached").isTrue();
        signingKeyReplacedUnderTheSameKid();
        // A cache hit: no signature check (one against the replaced key would fail).
        Step<TokenVerifier.Checked> third = check(verifier, token);
        assertThat(third.ready()).isTrue();
        assertThat(third.value().principal().subject()).isEqualTo("user-123");
        // The route- and time-dependent checks still run on the hit (PRM-08).
        assertThatThrownBy(() -> verifier.checkConfirmed(new BearerToken(token), Set.of("https://gw.example.com/other")))
                .isInstanceOfSatisfying(GatewayFailure.class,
                        f -> assertThat(f.description()).isEqualTo("The access token is not intended for this resource"));
    }

    /**
     * A one-slot doorkeeper, so every token lands in the same slot: a forged token (the remembered token's header and
     * claims, another signature) is refused every time, never cached, and never remembered (the real token, remembered
     * before it, is still in the slot and is cached at its second sight).
     */
    @Test
    void aForgedTokenIsNeverRememberedNorCached() throws Exception {
        keysLoaded();
        TokenVerifier oneSlot = new TokenVerifier(List.of(keys), List.of(), Clock.systemUTC(), Ticker.systemTicker(), 1000, 1);
        String token = idp.valid();
        String[] parts = token.split("\\.");
        String forged = parts[0] + "." + parts[1] + "." + new StringBuilder(parts[2]).reverse();
        assertThat(principal(oneSlot, token).subject()).isEqualTo("user-123");
        for (int i = 0; i < 3; i++) {
            refusedAs(oneSlot, forged, "The access token signature is invalid");
            assertThat(oneSlot.cached(new BearerToken(forged))).isFalse();
        }
        assertThat(principal(oneSlot, token).subject()).isEqualTo("user-123");
        assertThat(oneSlot.cached(new BearerToken(token))).as("the slot still holds the real token").isTrue();
    }

    /**
     * The doorkeeper decides caching, never acceptance: with one slot, a token whose slot holds another (remembered,
     * even cached) token is still verified — a forged one refused, a valid one accepted but not cached at first sight.
     */
    @Test
    void aTokenCollidingInTheDoorkeeperSlotIsStillVerified() throws Exception {
        keysLoaded();
        TokenVerifier oneSlot = new TokenVerifier(List.of(keys), List.of(), Clock.systemUTC(), Ticker.systemTicker(), 1000, 1);
        String remembered = idp.valid();
        principal(oneSlot, remembered);
        principal(oneSlot, remembered);
        assertThat(oneSlot.cached(new BearerToken(remembered))).isTrue();
        String forgedAdmin = idp.rs256(idp.claims().subject("admin").build()).split("\\.")[1];
        String[] parts = remembered.split("\\.");
        refusedAs(oneSlot, parts[0] + "." + forgedAdmin + "." + parts[2], "The access token signature is invalid");
        String other = idp.valid();
        assertThat(principal(oneSlot, other).subject()).isEqualTo("user-123");
        assertThat(oneSlot.cached(new BearerToken(other))).as("another token in the slot: seen once").isFalse();
        assertThat(principal(oneSlot, other).subject()).isEqualTo("user-123");
        assertThat(oneSlot.cached(new BearerToken(other))).isTrue();
    }

    /** AUTHN-08 on a cached token: expiry still refuses it and drops it from the cache, however often it is seen. */
    @Test
    void aCachedTokenThatExpiresIsRefusedAndDropped() throws Exception {
        keysLoaded();
        FakeTime time = new FakeTime(Instant.now());
        TokenVerifier timed = new TokenVerifier(List.of(keys), time, Ticker.systemTicker(), 1000);
        String token = idp.rs256(idp.claims().expirationTime(Date.from(time.instant().plusSeconds(60))).build());
        principal(timed, token);
        principal(timed, token);
        assertThat(timed.cached(new BearerToken(token))).isTrue();
        time.advance(Duration.ofMinutes(5));
        for (int i = 0; i < 3; i++) {
            refusedAs(timed, token, "The access token is expired");
            assertThat(timed.cached(new BearerToken(token))).isFalse();
        }
    }

    /**
     * Revocation at an issuer that introspects its JWTs ({@code tokens: jwt}): a never-seen JWT whose key is known
     * waits only for introspection; once cached (second sight), it is still asked about on every request, and refused
     * once the issuer says it is inactive.
     */
    @Test
    void aCachedJwtOfAnIssuerThatIntrospectsItsJwtsIsRefusedOnceRevoked() throws Exception {
        FakeTime time = new FakeTime(Instant.now());
        IntrospectionTest.FakeEndpoint endpoint = new IntrospectionTest.FakeEndpoint(form -> IntrospectionTest.json(200,
                "{\"active\":true,\"iss\":\"" + idp.issuer() + "\",\"sub\":\"user-123\",\"aud\":\"" + LocalIssuer.RESOURCE
                        + "\",\"client_id\":\"agent-1\",\"token_type\":\"Bearer\",\"iat\":" + time.instant().getEpochSecond()
                        + ",\"exp\":" + time.instant().plusSeconds(3600).getEpochSecond() + "}"));
        IssuerConfig issuer = new IssuerConfig(idp.issuer(), idp.jwksUri(), List.of("RS256", "ES256"), "generic",
                null, null, null, null, true, null, null, false, null, null, null, null,
                IntrospectionTest.introspection("https://idp.example.com/introspect", "jwt", "1m", "10s"));
        JwksCache introspectingKeys = new JwksCache(issuer, http, new ObjectMapper(), Ticker.systemTicker());
        introspectingKeys.keys().block(Duration.ofSeconds(5));
        Introspection introspection = new Introspection(issuer, Mono::empty, endpoint,
                (form, headers, uri) -> headers.put("Authorization", "Basic cG9ydGN1bGxpczpndy1zZWNyZXQ="),
                new ObjectMapper(), time, time, 100, null);
        TokenVerifier introspecting = new TokenVerifier(List.of(introspectingKeys), List.of(introspection), time, time, 100);
        String token = idp.valid();
        Step<TokenVerifier.Checked> first = check(introspecting, token);
        assertThat(first.ready()).as("waits for introspection only").isFalse();
        assertThat(first.future().get(5, TimeUnit.SECONDS).principal().subject()).isEqualTo("user-123");
        Step<TokenVerifier.Checked> second = check(introspecting, token);
        assertThat(second.ready()).as("key known, answer cached").isTrue();
        assertThat(introspecting.cached(new BearerToken(token))).isTrue();
        assertThat(endpoint.calls()).isEqualTo(1);
        endpoint.answer = form -> IntrospectionTest.json(200, "{\"active\":false}");
        time.advance(Duration.ofMinutes(2)); // past cache-max: the issuer is asked again
        assertThatThrownBy(() -> check(introspecting, token).future().join())
                .hasRootCauseInstanceOf(GatewayFailure.class)
                .rootCause().satisfies(e -> assertThat(((GatewayFailure) e).code()).isEqualTo("inactive"));
    }

    @Test
    void theFingerprintIsTheFirst64BitsOfTheHash() {
        assertThat(Doorkeeper.fingerprint("0123456789abcdef" + "f".repeat(48))).isEqualTo(0x0123456789abcdefL);
        assertThat(Doorkeeper.fingerprint("ffffffffffffffff" + "0".repeat(48))).isEqualTo(-1L);
        Doorkeeper doorkeeper = new Doorkeeper(4);
        assertThat(doorkeeper.seenBefore(5)).isFalse();
        assertThat(doorkeeper.seenBefore(5)).isTrue();
        assertThat(doorkeeper.seenBefore(9)).as("same slot, other token").isFalse();
        assertThat(doorkeeper.seenBefore(5)).as("overwritten").isFalse();
        assertThatThrownBy(() -> new Doorkeeper(3)).isInstanceOf(IllegalArgumentException.class);
    }
}
