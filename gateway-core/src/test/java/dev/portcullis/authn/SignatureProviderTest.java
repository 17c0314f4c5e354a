package dev.portcullis.authn;

import static org.assertj.core.api.Assertions.assertThat;

import com.amazon.corretto.crypto.provider.AmazonCorrettoCryptoProvider;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.JWSSigner;
import com.nimbusds.jose.JWSVerifier;
import com.nimbusds.jose.crypto.ECDSASigner;
import com.nimbusds.jose.crypto.ECDSAVerifier;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.crypto.RSASSAVerifier;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.jwk.gen.ECKeyGenerator;
import com.nimbusds.jose.jwk.gen.RSAKeyGenerator;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import java.security.Provider;
import java.util.Base64;
import java.util.Set;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The signature provider (issue 13, never-seen tokens): ACCP for every algorithm it verifies correctly
 * (Linux x86-64), the JDK's provider otherwise; both paths verify a good signature and reject a changed
 * one or another key's, for EC, RSA PKCS#1 and RSA-PSS tokens.
 */
class SignatureProviderTest {
    private static final ECKey EC = generateEc();
    private static final RSAKey RSA = generateRsa();

    private static ECKey generateEc() {
        try {
            return new ECKeyGenerator(Curve.P_256).keyID("ec").generate();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private static RSAKey generateRsa() {
        try {
            return new RSAKeyGenerator(2048).keyID("rsa").generate();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"ES256", "RS256", "PS256"})
    void adoptedNativeProviderVerifiesAndRejectsABadSignature(String name) throws Exception {
        assumeAccpLoads();
        JWSAlgorithm alg = JWSAlgorithm.parse(name);
        SignatureProvider.Choice choice = SignatureProvider.choose(() -> AmazonCorrettoCryptoProvider.INSTANCE);
        assertThat(choice.provider()).isSameAs(AmazonCorrettoCryptoProvider.INSTANCE);
        assertThat(choice.algorithms()).contains(JWSAlgorithm.ES256, JWSAlgorithm.RS256);

        JWSVerifier verifier = SignatureProvider.apply(verifier(alg), alg);
        assertThat(verifier.getJCAContext().getProvider()).isEqualTo(choice.providerFor(alg));
        tellsGoodFromBad(verifier, alg);
    }

    @Test
    void rs256GoesToTheNativeProviderOnceChosen() {
        assumeAccpLoads();
        SignatureProvider.Choice choice = SignatureProvider.get();
        assertThat(choice.providerFor(JWSAlgorithm.RS256)).isSameAs(AmazonCorrettoCryptoProvider.INSTANCE);
        JWSVerifier rsa = SignatureProvider.apply(verifier(JWSAlgorithm.RS256), JWSAlgorithm.RS256);
        assertThat(rsa.getJCAContext().getProvider()).isSameAs(AmazonCorrettoCryptoProvider.INSTANCE);
    }

    @ParameterizedTest
    @ValueSource(strings = {"ES256", "RS256", "PS256"})
    void fallsBackToTheJdkProviderWhenTheNativeLibraryCannotLoad(String name) throws Exception {
        SignatureProvider.Choice choice = SignatureProvider.choose(() -> {
            throw new UnsatisfiedLinkError("simulated: no libamazonCorrettoCryptoProvider.so for this platform");
        });
        assertThat(choice).isEqualTo(SignatureProvider.Choice.JDK);
        JWSAlgorithm alg = JWSAlgorithm.parse(name);
        assertThat(choice.providerFor(alg)).isNull();

        JWSVerifier verifier = verifier(alg);
        tellsGoodFromBad(verifier, alg);
    }

    /**
     * Issue 13: the verifier of a signing key gets the chosen provider's own key object, made once (for ACCP a native
     * key, which it would otherwise rebuild on every check), and verifies with it exactly as with the JDK's key.
     */
    @ParameterizedTest
    @ValueSource(strings = {"ES256", "RS256", "PS256"})
    void theVerifierGetsTheProvidersOwnKeyAndStillTellsGoodFromBad(String name) throws Exception {
        assumeAccpLoads();
        JWSAlgorithm alg = JWSAlgorithm.parse(name);
        SignatureProvider.get();
        boolean ec = JWSAlgorithm.Family.EC.contains(alg);
        java.security.Key jdkKey = ec ? EC.toECPublicKey() : RSA.toRSAPublicKey();
        java.security.Key key = SignatureProvider.providerKey(jdkKey, alg);
        assertThat(key).isNotSameAs(jdkKey);
        assertThat(key.getClass().getName()).startsWith("com.amazon.corretto.crypto.provider.");

        JWSVerifier verifier = SignatureProvider.apply(ec ? new ECDSAVerifier((java.security.interfaces.ECPublicKey) key)
                : new RSASSAVerifier((java.security.interfaces.RSAPublicKey) key), alg);
        tellsGoodFromBad(verifier, alg);
    }

    @Test
    void aKeyTheProviderCannotTranslateIsKeptAsItIs() throws Exception {
        Provider empty = new Provider("Empty", "1.0", "no key factories") {};
        java.security.Key key = RSA.toRSAPublicKey();
        assertThat(SignatureProvider.translated(empty, key)).isSameAs(key);
    }

    @Test
    void aCandidateWithoutAnAlgorithmKeepsTheJdkProviderForIt() {
        // A provider with no signature services fails every self-test: nothing is pointed at it.
        Provider empty = new Provider("Empty", "1.0", "no services") {};
        assertThat(SignatureProvider.choose(() -> empty)).isEqualTo(SignatureProvider.Choice.JDK);
    }

    @Test
    void onlyAlgorithmsThatPassedGetTheProvider() {
        Provider some = new Provider("Some", "1.0", "pretend") {};
        SignatureProvider.Choice choice = new SignatureProvider.Choice(some, Set.of(JWSAlgorithm.ES256));
        assertThat(choice.providerFor(JWSAlgorithm.ES256)).isSameAs(some);
        assertThat(choice.providerFor(JWSAlgorithm.RS256)).isNull();
        assertThat(choice.providerFor(JWSAlgorithm.PS256)).isNull();
    }

    private static void assumeAccpLoads() {
        Assumptions.assumeTrue(AmazonCorrettoCryptoProvider.INSTANCE.getLoadingError() == null,
                "ACCP's native library does not load on this platform");
    }

    /** A good signature verifies; one with a bit flipped, or another key's, does not. */
    private static void tellsGoodFromBad(JWSVerifier verifier, JWSAlgorithm alg) throws Exception {
        assertThat(signed(alg).verify(verifier)).isTrue();
        assertThat(tampered(alg).verify(verifier)).isFalse();
        assertThat(otherKey(alg).verify(verifier)).isFalse();
    }

    private static JWSVerifier verifier(JWSAlgorithm alg) {
        try {
            return JWSAlgorithm.Family.EC.contains(alg) ? new ECDSAVerifier(EC.toECPublicKey())
                    : new RSASSAVerifier(RSA.toRSAPublicKey());
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private static SignedJWT signed(JWSAlgorithm alg) throws Exception {
        return JWSAlgorithm.Family.EC.contains(alg) ? sign(alg, new ECDSASigner(EC)) : sign(alg, new RSASSASigner(RSA));
    }

    private static SignedJWT sign(JWSAlgorithm alg, JWSSigner signer) throws Exception {
        SignedJWT jwt = new SignedJWT(new JWSHeader.Builder(alg).keyID("k").build(),
                new JWTClaimsSet.Builder().subject("user-123").build());
        jwt.sign(signer);
        return SignedJWT.parse(jwt.serialize());
    }

    /** The same token with one bit of its signature flipped. */
    private static SignedJWT tampered(JWSAlgorithm alg) throws Exception {
        String token = signed(alg).serialize();
        int dot = token.lastIndexOf('.');
        byte[] signature = Base64.getUrlDecoder().decode(token.substring(dot + 1));
        signature[5] ^= 1;
        return SignedJWT.parse(token.substring(0, dot + 1) + Base64.getUrlEncoder().withoutPadding().encodeToString(signature));
    }

    /** A token signed by another key, checked against the test key. */
    private static SignedJWT otherKey(JWSAlgorithm alg) throws Exception {
        return JWSAlgorithm.Family.EC.contains(alg)
                ? sign(alg, new ECDSASigner(new ECKeyGenerator(Curve.P_256).generate()))
                : sign(alg, new RSASSASigner(new RSAKeyGenerator(2048).generate()));
    }
}
