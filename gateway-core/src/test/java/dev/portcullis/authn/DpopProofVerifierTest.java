package dev.portcullis.authn;

import static dev.portcullis.authn.DpopProofs.proof;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.jwk.gen.ECKeyGenerator;
import com.nimbusds.jose.jwk.gen.RSAKeyGenerator;
import dev.portcullis.FakeTime;
import dev.portcullis.Step;
import dev.portcullis.config.DpopMode;
import dev.portcullis.failure.GatewayFailure;
import dev.portcullis.failure.Reason;
import dev.portcullis.route.RouteDpop;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Every check of RFC 9449 §4.3 on its own (AUTHN-13), without sockets: a valid proof passes, and each hostile
 * variant of it is refused with its reason and its code. The verifier runs per request whatever the token cache
 * holds, so these are the checks a cached DPoP-bound token meets on every request.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class DpopProofVerifierTest {
    private static final String URL = "https://gw.example.com/mcp";
    private static final String TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyIn0.c2lnbmF0dXJl";
    private static final List<String> ALGS = List.of("RS256", "PS256", "ES256");

    private final FakeTime time = new FakeTime(Instant.parse("2026-12-05T12:00:00Z"));
    private ECKey client;
    private ECKey other;
    private RSAKey rsaClient;
    private String jkt;
    private InMemoryReplayGuard replay;
    private DpopNonces nonces;
    private DpopProofVerifier verifier;


    @BeforeAll
    void keys() throws Exception {
        client = new ECKeyGenerator(Curve.P_256).generate();
        other = new ECKeyGenerator(Curve.P_256).generate();
        rsaClient = new RSAKeyGenerator(2048).generate();
        jkt = client.computeThumbprint().toString();
    }

    @org.junit.jupiter.api.BeforeEach
    void fresh() {
        replay = new InMemoryReplayGuard(10_000, time);
        nonces = DpopNonces.withRandomKey(time);
        verifier = new DpopProofVerifier(time, replay, nonces);
    }

    private static RouteDpop rules(boolean nonce) {
        return new RouteDpop(DpopMode.ALLOWED, true, true, ALGS, nonce, Duration.ofMinutes(5));
    }

    private DpopProofVerifier.Expected expected(String jkt, boolean nonce) {
        return new DpopProofVerifier.Expected("POST", URL, "notes", TOKEN, jkt, ALGS, rules(nonce));
    }

    private DpopProofs.Proof valid() {
        return proof(client, "ES256", "POST", URL, time.instant(), TOKEN);
    }

    private boolean check(String proof) {
        return check(proof, expected(jkt, false));
    }

    private boolean check(String proof, DpopProofVerifier.Expected expected) {
        Step<Boolean> step = verifier.verify(proof, expected);
        assertThat(step.ready()).as("the in-memory replay guard answers at once").isTrue();
        return step.value();
    }

    private void assertRefused(String proof, Reason reason, String code) {
        assertRefused(proof, expected(jkt, false), reason, code);
    }

    private void assertRefused(String proof, DpopProofVerifier.Expected expected, Reason reason, String code) {
        assertThatThrownBy(() -> check(proof, expected)).isInstanceOfSatisfying(GatewayFailure.class, f -> {
            assertThat(f.reason()).as(f.getMessage()).isEqualTo(reason);
            assertThat(f.code()).isEqualTo(code);
        });
    }

    @Test
    void validEs256ProofPasses() {
        assertThat(check(valid().sign())).isTrue();
    }

    @Test
    void validRs256AndPs256ProofsPass() throws Exception {
        String rsaJkt = rsaClient.computeThumbprint().toString();
        assertThat(check(proof(rsaClient, "RS256", "POST", URL, time.instant(), TOKEN).sign(), expected(rsaJkt, false))).isTrue();
        assertThat(check(proof(rsaClient, "PS256", "POST", URL, time.instant(), TOKEN).sign(), expected(rsaJkt, false))).isTrue();
    }

    // --- replay (§11.1) -----------------------------------------------------------------------------

    @Test
    void authn13ReplayedProofIsRefused() {
        String proof = valid().sign();
        assertThat(check(proof)).isTrue();
        assertRefused(proof, Reason.INVALID_DPOP_PROOF, "proof_replay");
        time.advance(Duration.ofSeconds(299));
        assertRefused(proof, Reason.INVALID_DPOP_PROOF, "proof_replay");
    }

    @Test
    void sameJtiFromAnotherKeyIsAnotherProof() throws Exception {
        assertThat(check(valid().claim("jti", "shared-jti").sign())).isTrue();
        String otherJkt = other.computeThumbprint().toString();
        assertThat(check(proof(other, "ES256", "POST", URL, time.instant(), TOKEN).claim("jti", "shared-jti").sign(),
                expected(otherJkt, false))).isTrue();
    }

    @Test
    void aRefusedProofDoesNotUseUpItsJti() {
        DpopProofs.Proof proof = valid().claim("jti", "once");
        assertRefused(proof.claim("htm", "GET").sign(), Reason.INVALID_DPOP_PROOF, "proof_htm");
        assertThat(check(proof.claim("htm", "POST").sign())).isTrue();
    }

    @Test
    void fullReplayRecordRefusesRatherThanForgets() {
        verifier = new DpopProofVerifier(time, new InMemoryReplayGuard(1, time), nonces);
        assertThat(check(valid().sign())).isTrue();
        assertRefused(valid().sign(), Reason.REPLAY_CHECK_UNAVAILABLE, "replay_cache_full");
    }

    @Test
    void replayRecordForgetsAProofOnceItsWindowIsOver() {
        DpopProofs.Proof proof = valid();
        assertThat(check(proof.sign())).isTrue();
        assertThat(replay.size()).isEqualTo(1);
        time.advance(Duration.ofMinutes(6));
        replay.firstUse("another", Duration.ofSeconds(1)); // a write runs the cache's expiry
        assertThat(replay.firstUse(DpopProofVerifier.replayKey(jkt, URL, String.valueOf(proof.claims.get("jti"))),
                Duration.ofSeconds(1)).value()).as("the record has expired").isTrue();
    }

    // --- htm, htu (§4.3 checks 8, 9) -----------------------------------------------------------------

    @Test
    void authn13ProofForAnotherMethodIsRefused() {
        assertRefused(valid().claim("htm", "GET").sign(), Reason.INVALID_DPOP_PROOF, "proof_htm");
        assertRefused(valid().claim("htm", "post").sign(), Reason.INVALID_DPOP_PROOF, "proof_htm");
    }

    @ParameterizedTest
    @CsvSource({
            "https://gw.example.com/other",
            "https://gw.example.com/mcp/",
            "https://gw.example.com/mcp/x",
            "http://gw.example.com/mcp",
            "https://gw.example.com:8443/mcp",
            "https://evil.example.com/mcp",
            "https://gw.example.com.evil.example/mcp",
            "https://user@gw.example.com/mcp",
            "/mcp",
            "not a url",
    })
    void authn13ProofForAnotherUrlIsRefused(String htu) {
        assertRefused(valid().claim("htu", htu).sign(), Reason.INVALID_DPOP_PROOF, "proof_htu");
    }

    @ParameterizedTest
    @CsvSource({
            "https://gw.example.com/mcp?tenant=a",
            "https://gw.example.com/mcp#part",
            "HTTPS://GW.EXAMPLE.COM/mcp",
            "https://gw.example.com:443/mcp",
            "https://gw.example.com/%6Dcp",
            "https://gw.example.com/x/../mcp",
            "https://gw.example.com/./mcp",
    })
    void htuIsComparedAfterNormalisationIgnoringQueryAndFragment(String htu) {
        assertThat(check(valid().claim("htu", htu).sign())).isTrue();
    }

    @Test
    void htuNormalisation() {
        assertThat(DpopProofVerifier.normalizeHtu("HTTP://Example.COM:80")).isEqualTo("http://example.com/");
        assertThat(DpopProofVerifier.normalizeHtu("https://example.com/a%2fb")).isEqualTo("https://example.com/a%2Fb");
        assertThat(DpopProofVerifier.normalizeHtu("https://example.com/a/b/../c/./d/..")).isEqualTo("https://example.com/a/c/");
        assertThat(DpopProofVerifier.normalizeHtu("https://[::1]:8443/mcp")).isEqualTo("https://[::1]:8443/mcp");
        assertThat(DpopProofVerifier.normalizeHtu("ftp://example.com/")).isNull();
        assertThat(DpopProofVerifier.normalizeHtu("https://example.com/%zz")).isNull();
    }

    // --- iat (§4.3 check 11, SEP-1932: ±5 minutes) ---------------------------------------------------

    @Test
    void authn13StaleIatIsRefused() {
        assertRefused(proof(client, "ES256", "POST", URL, time.instant().minusSeconds(301), TOKEN).sign(),
                Reason.INVALID_DPOP_PROOF, "proof_stale");
        assertThat(check(proof(client, "ES256", "POST", URL, time.instant().minusSeconds(299), TOKEN).sign())).isTrue();
    }

    @Test
    void authn13FutureIatIsRefused() {
        assertRefused(proof(client, "ES256", "POST", URL, time.instant().plusSeconds(301), TOKEN).sign(),
                Reason.INVALID_DPOP_PROOF, "proof_future");
        assertThat(check(proof(client, "ES256", "POST", URL, time.instant().plusSeconds(299), TOKEN).sign())).isTrue();
    }

    @Test
    void aStricterWindowIsHonoured() {
        var strict = new DpopProofVerifier.Expected("POST", URL, "notes", TOKEN, jkt, ALGS,
                new RouteDpop(DpopMode.ALLOWED, true, true, ALGS, false, Duration.ofSeconds(30)));
        assertRefused(proof(client, "ES256", "POST", URL, time.instant().minusSeconds(31), TOKEN).sign(), strict,
                Reason.INVALID_DPOP_PROOF, "proof_stale");
    }

    // --- ath and the key binding (§4.3 check 12) -----------------------------------------------------

    @Test
    void authn13WrongAthIsRefused() {
        assertRefused(valid().claim("ath", DpopProofs.ath("another-token")).sign(), Reason.INVALID_DPOP_PROOF, "proof_ath");
        assertRefused(valid().claim("ath", null).sign(), Reason.INVALID_DPOP_PROOF, "proof_ath");
    }

    @Test
    void authn13KeyNotTheTokensBindingIsRefused() throws Exception {
        assertRefused(valid().sign(), expected(other.computeThumbprint().toString(), false), Reason.INVALID_DPOP_TOKEN,
                "key_mismatch");
        // the same proof key swapped in for another's header key: the signature no longer verifies
        assertRefused(valid().header("jwk", other.toPublicJWK().toJSONObject()).sign(),
                expected(other.computeThumbprint().toString(), false), Reason.INVALID_DPOP_PROOF, "proof_signature");
    }

    // --- typ, alg, jwk (§4.3 checks 4-7) --------------------------------------------------------------

    @Test
    void authn13SymmetricAlgIsRefused() {
        assertRefused(valid().header("alg", "HS256").hmac(new byte[32]).sign(), Reason.INVALID_DPOP_PROOF, "proof_algorithm");
    }

    @Test
    void algNoneIsRefused() {
        String unsigned = valid().header("alg", "none").sign();
        assertRefused(unsigned.substring(0, unsigned.lastIndexOf('.') + 1), Reason.INVALID_DPOP_PROOF, "proof_malformed");
    }

    @Test
    void algOutsideTheIssuersListIsRefused() throws Exception {
        ECKey p384 = new ECKeyGenerator(Curve.P_384).generate();
        assertRefused(proof(p384, "ES384", "POST", URL, time.instant(), TOKEN).sign(),
                expected(p384.computeThumbprint().toString(), false), Reason.INVALID_DPOP_PROOF, "proof_algorithm");
    }

    /** The parsed header is kept per header text; the issuer's algorithm list and the signature are checked every time. */
    @Test
    void aKeptHeaderStillMeetsEachIssuersAlgorithmsAndEachSignature() {
        assertThat(check(valid().sign())).isTrue();
        var rsaOnly = new DpopProofVerifier.Expected("POST", URL, "notes", TOKEN, jkt, List.of("RS256"), rules(false));
        assertRefused(valid().sign(), rsaOnly, Reason.INVALID_DPOP_PROOF, "proof_algorithm");
        assertRefused(valid().signedBy(other).sign(), Reason.INVALID_DPOP_PROOF, "proof_signature");
        assertThat(check(valid().sign())).isTrue();
    }

    @Test
    void authn13JwkWithPrivateKeyIsRefused() {
        assertRefused(valid().header("jwk", client.toJSONObject()).sign(), Reason.INVALID_DPOP_PROOF, "proof_private_key");
        assertRefused(valid().header("jwk", Map.of("kty", "oct", "k", "c2VjcmV0")).sign(), Reason.INVALID_DPOP_PROOF,
                "proof_private_key");
    }

    @Test
    void missingOrMismatchedJwkIsRefused() throws Exception {
        assertRefused(valid().header("jwk", null).sign(), Reason.INVALID_DPOP_PROOF, "proof_key");
        String rsaJkt = rsaClient.computeThumbprint().toString();
        assertRefused(proof(rsaClient, "RS256", "POST", URL, time.instant(), TOKEN).header("alg", "ES256").signedBy(client).sign(),
                expected(rsaJkt, false), Reason.INVALID_DPOP_PROOF, "proof_key");
        RSAKey small = new RSAKeyGenerator(1024, true).generate();
        assertRefused(proof(small, "RS256", "POST", URL, time.instant(), TOKEN).sign(),
                expected(small.computeThumbprint().toString(), false), Reason.INVALID_DPOP_PROOF, "proof_key");
    }

    @Test
    void typOtherThanDpopJwtIsRefused() {
        assertRefused(valid().header("typ", "JWT").sign(), Reason.INVALID_DPOP_PROOF, "proof_type");
        assertRefused(valid().header("typ", "at+jwt").sign(), Reason.INVALID_DPOP_PROOF, "proof_type");
        assertRefused(valid().header("typ", null).sign(), Reason.INVALID_DPOP_PROOF, "proof_type");
        assertThat(check(valid().header("typ", "application/dpop+jwt").sign())).isTrue();
    }

    @Test
    void signatureByAnotherKeyIsRefused() {
        assertRefused(valid().signedBy(other).sign(), Reason.INVALID_DPOP_PROOF, "proof_signature");
        String proof = valid().sign();
        String tampered = proof.substring(0, proof.length() - 4) + (proof.endsWith("AAAA") ? "BBBB" : "AAAA");
        assertRefused(tampered, Reason.INVALID_DPOP_PROOF, "proof_signature");
    }

    /**
     * Strict decoding: a character outside base64url inserted into a valid proof's signature (which Nimbus's own
     * decoder skips, leaving the same bytes) fails the signature check. The sibling of an access token's strict
     * signature decoding (JwsSignaturesTest).
     */
    @Test
    void aSignatureWithACharacterOutsideTheAlphabetIsRefused() {
        String proof = valid().sign();
        int dot = proof.lastIndexOf('.');
        String respelled = proof.substring(0, dot + 6) + "*" + proof.substring(dot + 6);
        assertRefused(respelled, Reason.INVALID_DPOP_PROOF, "proof_signature");
        assertRefused("*" + proof, Reason.INVALID_DPOP_PROOF, "proof_malformed");
    }

    // --- structure and claims (§4.3 checks 2, 3) -------------------------------------------------------

    @ParameterizedTest
    @CsvSource({"jti", "htm", "htu", "iat"})
    void missingRequiredClaimIsRefused(String claim) {
        assertRefused(valid().claim(claim, null).sign(), Reason.INVALID_DPOP_PROOF, "proof_claims");
    }

    @Test
    void claimsOfTheWrongTypeAreRefused() {
        assertRefused(valid().claim("iat", "1765000000").sign(), Reason.INVALID_DPOP_PROOF, "proof_claims");
        assertRefused(valid().claim("jti", 42).sign(), Reason.INVALID_DPOP_PROOF, "proof_claims");
        assertRefused(valid().claim("iat", Long.MAX_VALUE).sign(), Reason.INVALID_DPOP_PROOF, "proof_claims");
        assertRefused(valid().claim("iat", 1e300).sign(), Reason.INVALID_DPOP_PROOF, "proof_claims");
        assertRefused(valid().claim("iat", new java.math.BigInteger("123456789012345678901234567890")).sign(),
                Reason.INVALID_DPOP_PROOF, "proof_claims");
        assertRefused(valid().claim("ath", List.of("x")).sign(), Reason.INVALID_DPOP_PROOF, "proof_claims");
        assertRefused(valid().claim("htu", List.of(URL)).sign(), Reason.INVALID_DPOP_PROOF, "proof_claims");
        assertRefused(valid().claim("jti", "j".repeat(DpopProofVerifier.MAX_JTI_LENGTH + 1)).sign(),
                Reason.INVALID_DPOP_PROOF, "proof_claims");
    }

    @Test
    void memberWrittenTwiceIsRefused() throws Exception {
        DpopProofs.Proof proof = valid();
        String claims = com.nimbusds.jose.util.JSONObjectUtils.toJSONString(proof.claims);
        assertRefused(proof.rawClaims(claims.substring(0, claims.length() - 1) + ",\"htu\":\"https://evil.example/mcp\"}").sign(),
                Reason.INVALID_DPOP_PROOF, "proof_malformed");
    }

    @Test
    void malformedProofsAreRefused() {
        assertRefused("this-is-not-a-jwt", Reason.INVALID_DPOP_PROOF, "proof_malformed");
        assertRefused(valid().sign() + ".extra", Reason.INVALID_DPOP_PROOF, "proof_malformed");
        assertRefused("e30.e30.", Reason.INVALID_DPOP_PROOF, "proof_malformed");
        assertRefused("x".repeat(DpopProofVerifier.MAX_PROOF_LENGTH + 1), Reason.INVALID_DPOP_PROOF, "proof_size");
    }

    // --- server-provided nonce (§9) -------------------------------------------------------------------

    @Test
    void nonceRouteAsksForANonceAndAcceptsItsOwn() {
        assertRefused(valid().sign(), expected(jkt, true), Reason.DPOP_NONCE_REQUIRED, "nonce_missing");
        assertRefused(valid().claim("nonce", "made-up").sign(), expected(jkt, true), Reason.DPOP_NONCE_REQUIRED, "nonce_invalid");
        assertRefused(valid().claim("nonce", nonces.issue("another-route")).sign(), expected(jkt, true),
                Reason.DPOP_NONCE_REQUIRED, "nonce_invalid");
        String nonce = nonces.issue("notes");
        assertThat(check(valid().claim("nonce", nonce).sign(), expected(jkt, true))).isTrue();
        time.advance(Duration.ofMinutes(6));
        assertRefused(proof(client, "ES256", "POST", URL, time.instant(), TOKEN).claim("nonce", nonce).sign(),
                expected(jkt, true), Reason.DPOP_NONCE_REQUIRED, "nonce_invalid");
    }

    @Test
    void noncesOfAnotherKeyAreRefused() {
        String foreign = DpopNonces.withRandomKey(time).issue("notes");
        assertThat(nonces.valid("notes", foreign, Duration.ofMinutes(5))).isFalse();
        byte[] secret = new byte[32];
        assertThat(DpopNonces.derivedFrom(secret, time).valid("notes", DpopNonces.derivedFrom(secret, time).issue("notes"),
                Duration.ofMinutes(5))).as("replicas sharing the sessions key accept each other's nonces").isTrue();
    }
}
