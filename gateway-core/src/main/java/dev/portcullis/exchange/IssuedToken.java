package dev.portcullis.exchange;

import com.nimbusds.jwt.JWTParser;
import dev.portcullis.authn.BearerToken;
import java.time.Instant;

/**
 * A token the IdP issued for the upstream. Its value is reachable only through {@link #value()};
 * logs use {@link #fingerprint()} and {@link #tokenId()} (SECURITY-05).
 *
 * @param value        the access token
 * @param expiresAt    when it expires, from {@code expires_in}
 * @param grantedScope {@code scope} of the answer when present (what was actually granted), else ""
 */
public record IssuedToken(String value, Instant expiresAt, String grantedScope) {

    /** The first 12 hex digits of the token's SHA-256. */
    public String fingerprint() {
        return new BearerToken(value).sha256().substring(0, 12);
    }

    /** The {@code jti} when the token is a JWT that has one, else "-". The token is not verified: for logs only. */
    public String tokenId() {
        try {
            String jti = JWTParser.parse(value).getJWTClaimsSet().getJWTID();
            return jti == null ? "-" : jti;
        } catch (java.text.ParseException | RuntimeException e) {
            return "-";
        }
    }

    @Override
    public String toString() {
        return "IssuedToken[sha256:" + fingerprint() + ", expiresAt=" + expiresAt + ", scope=" + grantedScope + "]";
    }
}
