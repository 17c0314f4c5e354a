package dev.portcullis.authn;


/**
 * A raw bearer token. Its value is reachable only through {@link #value()} (for verification and,
 * later, token exchange); {@link #toString()} shows a SHA-256 prefix, which is also what logs use
 * (SECURITY-05).
 */
public final class BearerToken {
    private final String value;
    private final String sha256;

    public BearerToken(String value) {
        this.value = value;
        this.sha256 = dev.portcullis.Sha256.hex(value);
    }

    /** {@code value} whose bytes were already read: {@code ascii} is its ASCII, i.e. its UTF-8 (a checked b64token). */
    BearerToken(String value, byte[] ascii) {
        this.value = value;
        this.sha256 = dev.portcullis.Sha256.hex(ascii);
    }

    public String value() {
        return value;
    }

    /** Hex SHA-256 of the token: the cache key, and the only form that may be logged. */
    public String sha256() {
        return sha256;
    }

    @Override
    public String toString() {
        return "BearerToken[sha256:" + sha256.substring(0, 12) + "]";
    }
}
