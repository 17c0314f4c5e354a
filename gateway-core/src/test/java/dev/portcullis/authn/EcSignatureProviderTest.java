package dev.portcullis.authn;

import static org.assertj.core.api.Assertions.assertThat;

import com.amazon.corretto.crypto.provider.AmazonCorrettoCryptoProvider;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.JWSVerifier;
import com.nimbusds.jose.crypto.ECDSASigner;
import com.nimbusds.jose.crypto.ECDSAVerifier;
import com.nimbusds.jose.crypto.RSASSAVerifier;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.gen.ECKeyGenerator;
import com.nimbusds.jose.jwk.gen.RSAKeyGenerator;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import java.security.Provider;
import java.util.Base64;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * The EC signature provider: ACCP when it loads (Linux x86-64), the JDK's provider otherwise; both
 * must verify a good ES256 signature and reject a changed one.
 */
class EcSignatureProviderTest {
    private static final ECKey KEY = generate();

    private static ECKey generate() {
        try {
            return new ECKeyGenerator(Curve.P_256).keyID("ec").generate();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    @Test
    void adoptedNativeProviderVerifiesAndRejectsABadSignature() throws Exception {
        Assumptions.assumeTrue(AmazonCorrettoCryptoProvider.INSTANCE.getLoadingError() == null,
                "ACCP's native library does not load on this platform");
        Provider chosen = EcSignatureProvider.choose(() -> AmazonCorrettoCryptoProvider.INSTANCE);
        assertThat(chosen).isSameAs(AmazonCorrettoCryptoProvider.INSTANCE);
        assertThat(EcSignatureProvider.get()).isSameAs(AmazonCorrettoCryptoProvider.INSTANCE);

        ECDSAVerifier verifier = verifier(chosen);
        assertThat(signed().verify(verifier)).isTrue();
        assertThat(tampered().verify(verifier)).isFalse();
        assertThat(otherKey().verify(verifier)).isFalse();
    }

    @Test
    void fallsBackToTheJdkProviderWhenTheNativeLibraryCannotLoad() throws Exception {
        Provider chosen = EcSignatureProvider.choose(() -> {
            throw new UnsatisfiedLinkError("simulated: no libamazonCorrettoCryptoProvider.so for this platform");
        });
        assertThat(chosen).isNull();

        ECDSAVerifier verifier = verifier(chosen);
        assertThat(signed().verify(verifier)).isTrue();
        assertThat(tampered().verify(verifier)).isFalse();
        assertThat(otherKey().verify(verifier)).isFalse();
    }

    @Test
    void fallsBackWhenTheCandidateFailsTheSelfTest() {
        // A provider without SHA256withECDSA cannot verify anything: the self-test refuses it.
        Provider empty = new Provider("Empty", "1.0", "no services") {};
        assertThat(EcSignatureProvider.choose(() -> empty)).isNull();
    }

    @Test
    void onlyEcVerifiersGetTheProvider() throws Exception {
        EcSignatureProvider.get(); // the choice made (apply() alone would start it in the background)
        JWSVerifier rsa = new RSASSAVerifier(new RSAKeyGenerator(2048).generate().toRSAPublicKey());
        assertThat(EcSignatureProvider.apply(rsa).getJCAContext().getProvider()).isNull();
        JWSVerifier ec = EcSignatureProvider.apply(new ECDSAVerifier(KEY.toECPublicKey()));
        assertThat(ec.getJCAContext().getProvider()).isSameAs(EcSignatureProvider.get());
        assertThat(signed().verify((ECDSAVerifier) ec)).isTrue();
        assertThat(tampered().verify((ECDSAVerifier) ec)).isFalse();
    }

    private static ECDSAVerifier verifier(Provider provider) throws Exception {
        ECDSAVerifier verifier = new ECDSAVerifier(KEY.toECPublicKey());
        if (provider != null) {
            verifier.getJCAContext().setProvider(provider);
        }
        return verifier;
    }

    private static SignedJWT signed() throws Exception {
        return sign(KEY);
    }

    private static SignedJWT sign(ECKey key) throws Exception {
        SignedJWT jwt = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.ES256).keyID("ec").build(),
                new JWTClaimsSet.Builder().subject("user-123").build());
        jwt.sign(new ECDSASigner(key));
        return SignedJWT.parse(jwt.serialize());
    }

    /** The same token with one bit of its signature flipped. */
    private static SignedJWT tampered() throws Exception {
        String token = signed().serialize();
        int dot = token.lastIndexOf('.');
        byte[] signature = Base64.getUrlDecoder().decode(token.substring(dot + 1));
        signature[5] ^= 1;
        return SignedJWT.parse(token.substring(0, dot + 1) + Base64.getUrlEncoder().withoutPadding().encodeToString(signature));
    }

    /** A token signed by another key, checked against KEY. */
    private static SignedJWT otherKey() throws Exception {
        return sign(new ECKeyGenerator(Curve.P_256).generate());
    }
}
