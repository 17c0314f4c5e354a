package dev.portcullis.authn;

import com.nimbusds.jwt.JWTClaimsSet;
import java.util.Map;
import java.util.Set;

/**
 * What a token's {@code cnf} (RFC 7800 confirmation) claim binds it to, read once per token.
 *
 * @param present   the token has a {@code cnf} claim at all: it is sender-constrained, never a plain bearer token
 *                  (RFC 9449 §7.2; a certificate-bound token, RFC 8705, is presented as Bearer only over a connection
 *                  with its certificate)
 * @param jkt       {@code cnf.jkt}, the RFC 7638 SHA-256 thumbprint of the DPoP key (RFC 9449 §6.1), or null
 * @param other     {@code cnf} names a confirmation method this gateway cannot check ({@code jwk}, {@code jwe},
 *                  {@code jku}, {@code kid}), or more than one method
 * @param malformed {@code cnf} is not an object, or its {@code jkt} or {@code x5t#S256} is not a base64url SHA-256
 *                  thumbprint
 * @param x5tS256   {@code cnf["x5t#S256"]}, the SHA-256 thumbprint of the client certificate the token is bound to
 *                  (RFC 8705 §3.1), or null
 */
public record Confirmation(boolean present, String jkt, boolean other, boolean malformed, String x5tS256) {
    public static final Confirmation NONE = new Confirmation(false, null, false, false, null);
    private static final Set<String> OTHER_METHODS = Set.of("jwk", "jwe", "jku", "kid");

    public Confirmation(boolean present, String jkt, boolean other, boolean malformed) {
        this(present, jkt, other, malformed, null);
    }

    static Confirmation of(JWTClaimsSet claims) {
        Object cnf = claims.getClaim("cnf");
        if (cnf == null) {
            return NONE;
        }
        if (!(cnf instanceof Map<?, ?> members)) {
            return new Confirmation(true, null, false, true);
        }
        Object x5t = members.get("x5t#S256");
        Object jkt = members.get("jkt");
        // A token bound two ways (a key and a certificate) is not one this gateway can judge: refused as "other".
        boolean other = members.keySet().stream().anyMatch(OTHER_METHODS::contains) || (x5t != null && jkt != null);
        if (x5t != null) {
            if (!(x5t instanceof String certificate) || !isSha256Thumbprint(certificate)) {
                return new Confirmation(true, null, other, true);
            }
            return new Confirmation(true, null, other, false, certificate);
        }
        if (jkt == null) {
            return new Confirmation(true, null, other, false);
        }
        if (!(jkt instanceof String thumbprint) || !isSha256Thumbprint(thumbprint)) {
            return new Confirmation(true, null, other, true);
        }
        return new Confirmation(true, thumbprint, other, false);
    }

    /** Whether this is an RFC 8705 certificate binding the gateway can check: {@code x5t#S256} and nothing else. */
    public boolean certificateBound() {
        return x5tS256 != null && !other && !malformed;
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
