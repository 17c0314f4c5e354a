package dev.portcullis.authn;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.ECDSASigner;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.jwk.gen.ECKeyGenerator;
import com.nimbusds.jose.jwk.gen.RSAKeyGenerator;
import com.nimbusds.jose.util.Base64URL;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import java.util.Base64;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The signature check of {@link JwsSignatures} (no sockets): a verifier made once per key and reused, with the
 * provider's own key once the provider is chosen (issue 13), and the signature decoded by the JDK's strict decoder.
 * Every case runs twice on one instance, so the second run goes through the kept verifier.
 */
class JwsSignaturesTest {
    private static ECKey ec;
    private static RSAKey rsa;

    @BeforeAll
    static void keys() throws Exception {
        SignatureProvider.get(); // decided: verifiers are kept from the first check on
        ec = new ECKeyGenerator(Curve.P_256).keyID("ec").generate();
        rsa = new RSAKeyGenerator(2048).keyID("rsa").generate();
    }

    @ParameterizedTest
    @ValueSource(strings = {"ES256", "RS256", "PS256"})
    void aGoodSignatureVerifiesAndAChangedOneOrAnotherKeysDoesNot(String name) throws Exception {
        JWSAlgorithm alg = JWSAlgorithm.parse(name);
        JwsSignatures signatures = new JwsSignatures();
        JWK key = key(alg).toPublicJWK();
        for (int i = 0; i < 2; i++) {
            assertThat(signatures.verifies(signed(alg, key(alg)), key)).isTrue();
            assertThat(signatures.verifies(tampered(signed(alg, key(alg))), key)).isFalse();
            assertThat(signatures.verifies(signed(alg, other(alg)), key)).isFalse();
        }
    }

    /** Nimbus's own decoder skips characters outside the alphabet; the JDK's refuses them, and the check fails. */
    @ParameterizedTest
    @ValueSource(strings = {"RS256", "ES256"})
    void aSignatureWithACharacterOutsideTheAlphabetFails(String name) throws Exception {
        JWSAlgorithm alg = JWSAlgorithm.parse(name);
        JwsSignatures signatures = new JwsSignatures();
        String token = signed(alg, key(alg)).serialize();
        int dot = token.lastIndexOf('.');
        String signature = token.substring(dot + 1);
        String withJunk = token.substring(0, dot + 1) + signature.substring(0, 10) + "*" + signature.substring(10);
        assertThat(new Base64URL(signature.substring(0, 10) + "*" + signature.substring(10)).decode())
                .as("Nimbus's decoder ignores the '*'").isEqualTo(Base64.getUrlDecoder().decode(signature));
        assertThat(signatures.verifies(SignedJWT.parse(token), key(alg).toPublicJWK())).isTrue();
        assertThat(signatures.verifies(SignedJWT.parse(withJunk), key(alg).toPublicJWK())).isFalse();
    }

    @org.junit.jupiter.api.Test
    void aDecodedSignatureHandsOutItsBytesAndRefusesAMalformedOne() {
        byte[] bytes = {1, 2, 3, (byte) 0xff};
        Base64URL text = Base64URL.encode(bytes);
        assertThat(JwsSignatures.decoded(text).decode()).isEqualTo(bytes);
        assertThat(JwsSignatures.decoded(text)).hasToString(text.toString());
        assertThatThrownBy(() -> JwsSignatures.decoded(new Base64URL("AQID/w"))).isInstanceOf(IllegalArgumentException.class);
    }

    private static JWK key(JWSAlgorithm alg) {
        return JWSAlgorithm.Family.EC.contains(alg) ? ec : rsa;
    }

    private static JWK other(JWSAlgorithm alg) throws Exception {
        return JWSAlgorithm.Family.EC.contains(alg) ? new ECKeyGenerator(Curve.P_256).keyID("ec").generate()
                : new RSAKeyGenerator(2048).keyID("rsa").generate();
    }

    private static SignedJWT signed(JWSAlgorithm alg, JWK key) throws Exception {
        SignedJWT jwt = new SignedJWT(new JWSHeader.Builder(alg).keyID(key.getKeyID()).build(),
                new JWTClaimsSet.Builder().subject("user-123").build());
        jwt.sign(key instanceof ECKey e ? new ECDSASigner(e) : new RSASSASigner((RSAKey) key));
        return SignedJWT.parse(jwt.serialize());
    }

    /** The same token with one bit of its signature flipped. */
    private static SignedJWT tampered(SignedJWT jwt) throws Exception {
        String token = jwt.serialize();
        int dot = token.lastIndexOf('.');
        byte[] signature = Base64.getUrlDecoder().decode(token.substring(dot + 1));
        signature[5] ^= 1;
        return SignedJWT.parse(token.substring(0, dot + 1) + Base64.getUrlEncoder().withoutPadding().encodeToString(signature));
    }
}
