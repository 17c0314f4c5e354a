package dev.portcullis.authn;

import com.github.benmanes.caffeine.cache.Cache;
import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.JWSVerifier;
import com.nimbusds.jose.crypto.factories.DefaultJWSVerifierFactory;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKMatcher;
import com.nimbusds.jose.jwk.JWKSelector;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.KeyConverter;
import com.nimbusds.jose.util.Base64URL;
import com.nimbusds.jwt.SignedJWT;
import dev.portcullis.Caches;
import java.security.Key;
import java.util.List;
import java.util.Optional;

/**
 * Checks a JWS against an issuer's published keys: which keys may have signed it, and whether one did. Shared by the
 * access-token check ({@link TokenVerifier}) and the approval page's ID-token check.
 *
 * <p>Issue 13 (a never-seen token): the verifier of each signing key and algorithm is made once. Making one converts
 * the JWK into a Java key (decoding and checking an RSA modulus or an EC point), translates it into the chosen
 * provider's own key object ({@link SignatureProvider#providerKey}: for ACCP a native key, which it would otherwise
 * build again on every check, with a native allocation and a cleaner registration each time) and looks the
 * algorithm's provider up: work that was repeated for every new token. A verifier is kept only once the signature
 * provider is chosen (until then it uses the JDK's), the cache is bounded, and keys the issuer no longer publishes
 * drop out by size (they are never selected again: {@link #candidates} reads the issuer's current set).
 *
 * <p>The signature is decoded by the JDK's base64url decoder (strict: a character outside the alphabet fails the
 * check), then handed to Nimbus's verifier with the header and signing input, as {@code SignedJWT.verify} would hand
 * them; Nimbus's own decoder took ~3 µs per token in the profile of a never-seen token.
 */
public final class JwsSignatures {
    private final DefaultJWSVerifierFactory verifiers = new DefaultJWSVerifierFactory();

    /** A verifier is made for one signing key and one algorithm (Nimbus's verifiers keep no state between calls). */
    private record VerifierKey(JWK jwk, JWSAlgorithm alg) {}

    private final Cache<VerifierKey, Optional<JWSVerifier>> cache = Caches.onCallingThread().maximumSize(256).build();

    /** The keys of {@code keys} that may have signed a JWS with {@code header}: its kid (if any), key type and curve, "use": "sig". */
    public static List<JWK> candidates(JWKSet keys, JWSHeader header) {
        return new JWKSelector(JWKMatcher.forJWSHeader(header)).select(keys);
    }

    /** Whether {@code key} verifies {@code jwt}'s signature (false for a key that cannot verify its algorithm). */
    public boolean verifies(SignedJWT jwt, JWK key) {
        return verifies(jwt.getHeader(), jwt.getSigningInput(), jwt.getSignature(), key);
    }

    /**
     * Whether {@code key} verifies {@code signature} over {@code signingInput} (a compact JWS's ASCII bytes up to its
     * second dot) for a JWS with {@code header}; false for a key that cannot verify its algorithm.
     */
    public boolean verifies(JWSHeader header, byte[] signingInput, Base64URL signature, JWK key) {
        try {
            JWSVerifier verifier = verifierFor(key, header);
            return verifier != null && verifier.verify(header, signingInput, decoded(signature));
        } catch (JOSEException | IllegalArgumentException | IllegalStateException e) {
            return false;
        }
    }

    /** {@code signature} decoded once, by the JDK's strict decoder (throws {@link IllegalArgumentException} if malformed). */
    static Base64URL decoded(Base64URL signature) {
        String text = signature.toString();
        return new Decoded(text, java.util.Base64.getUrlDecoder().decode(text));
    }

    /** A signature whose bytes are already decoded: Nimbus's verifiers read them through {@link #decode()}. */
    private static final class Decoded extends Base64URL {
        private final transient byte[] bytes;

        Decoded(String text, byte[] bytes) {
            super(text);
            this.bytes = bytes;
        }

        @Override
        public byte[] decode() {
            return bytes.clone();
        }
    }

    private JWSVerifier verifierFor(JWK jwk, JWSHeader header) throws JOSEException {
        VerifierKey key = new VerifierKey(jwk, header.getAlgorithm());
        Optional<JWSVerifier> known = cache.getIfPresent(key);
        if (known != null) {
            return known.orElse(null);
        }
        List<Key> keys = KeyConverter.toJavaKeys(List.of(jwk));
        JWSVerifier verifier = keys.isEmpty() ? null
                : SignatureProvider.apply(verifiers.createJWSVerifier(header,
                        SignatureProvider.providerKey(keys.get(0), header.getAlgorithm())), header.getAlgorithm());
        if (SignatureProvider.decided()) {
            cache.put(key, Optional.ofNullable(verifier));
        }
        return verifier;
    }
}
