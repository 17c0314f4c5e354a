package dev.portcullis;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * SHA-256 for the whole gateway (token cache keys, the audit's argument digest, DPoP replay keys, certificate
 * thumbprints, policy file hashes): each digest is a copy of one made at start, so the security provider is looked up
 * once, not on every request.
 */
public final class Sha256 {
    /** Never updated, only copied: safe to clone from any thread. */
    private static final MessageDigest PROTOTYPE = create();

    private Sha256() {}

    /** A fresh SHA-256 digest. */
    public static MessageDigest newDigest() {
        try {
            return (MessageDigest) PROTOTYPE.clone();
        } catch (CloneNotSupportedException e) {
            return create();
        }
    }

    public static byte[] of(byte[] bytes) {
        return newDigest().digest(bytes);
    }

    /** Lower-case hex of the SHA-256 of {@code bytes}. */
    public static String hex(byte[] bytes) {
        return HexFormat.of().formatHex(of(bytes));
    }

    /** Lower-case hex of the SHA-256 of {@code text}'s UTF-8 bytes. */
    public static String hex(String text) {
        return hex(text.getBytes(StandardCharsets.UTF_8));
    }

    private static MessageDigest create() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
