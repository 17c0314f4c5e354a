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
 * the JWK into a Java key (decoding and checking an RSA modulus or an EC point) and looks the algorithm's provider up:
 * work that was repeated for every new token. A verifier is kept only once the signature provider is chosen (until
 * then it uses the JDK's), the cache is bounded, and keys the issuer no longer publishes drop out by size (they are
 * never selected again: {@link #candidates} reads the issuer's current set).
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
        try {
            JWSVerifier verifier = verifierFor(key, jwt.getHeader());
            return verifier != null && jwt.verify(verifier);
        } catch (JOSEException | IllegalStateException e) {
            return false;
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
                : SignatureProvider.apply(verifiers.createJWSVerifier(header, keys.get(0)), header.getAlgorithm());
        if (SignatureProvider.decided()) {
            cache.put(key, Optional.ofNullable(verifier));
        }
        return verifier;
    }
}
