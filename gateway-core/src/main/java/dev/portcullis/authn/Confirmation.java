package dev.portcullis.authn;

import com.nimbusds.jwt.JWTClaimsSet;
import java.util.Map;
import java.util.Set;

/**
 * What a token's {@code cnf} (RFC 7800 confirmation) claim binds it to, read once per token.
 *
 * @param present   the token has a {@code cnf} claim at all: it is sender-constrained, never a bearer token (RFC 9449
 *                  §7.2; the same for a certificate-bound token, RFC 8705, whose certificate this gateway does not see)
 * @param jkt       {@code cnf.jkt}, the RFC 7638 SHA-256 thumbprint of the DPoP key (RFC 9449 §6.1), or null
 * @param other     {@code cnf} names a confirmation method other than {@code jkt} ({@code x5t#S256}, {@code jwk},
 *                  {@code jwe}, {@code jku}, {@code kid}) that this gateway cannot check
 * @param malformed {@code cnf} is not an object, or its {@code jkt} is not a base64url SHA-256 thumbprint
 */
public record Confirmation(boolean present, String jkt, boolean other, boolean malformed) {
    public static final Confirmation NONE = new Confirmation(false, null, false, false);
    private static final Set<String> OTHER_METHODS = Set.of("x5t#S256", "jwk", "jwe", "jku", "kid");

    static Confirmation of(JWTClaimsSet claims) {
        Object cnf = claims.getClaim("cnf");
        if (cnf == null) {
            return NONE;
        }
        if (!(cnf instanceof Map<?, ?> members)) {
            return new Confirmation(true, null, false, true);
        }
        boolean other = members.keySet().stream().anyMatch(OTHER_METHODS::contains);
        Object jkt = members.get("jkt");
        if (jkt == null) {
            return new Confirmation(true, null, other, false);
        }
        if (!(jkt instanceof String thumbprint) || !isSha256Thumbprint(thumbprint)) {
            return new Confirmation(true, null, other, true);
        }
        return new Confirmation(true, thumbprint, other, false);
    }

    /** Whether this is a DPoP binding the gateway can check: {@code jkt} and nothing it cannot. */
    public boolean dpopBound() {
        return jkt != null && !other && !malformed;
    }

    /** 43 base64url characters: an unpadded SHA-256 digest. */
    static boolean isSha256Thumbprint(String value) {
        if (value.length() != 43) {
            return false;
        }
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) {
                return false;
            }
        }
        return true;
    }
}
