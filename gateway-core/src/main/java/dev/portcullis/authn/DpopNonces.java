package dev.portcullis.authn;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.util.Base64;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Server-provided DPoP nonces (RFC 9449 §9), without state: a nonce is the time it was issued and a MAC over that
 * time and the route's name, under a key only the gateway holds. So it is unpredictable (§8: "Nonce values MUST be
 * unpredictable"), valid at the route that issued it only, for a bounded time, and any replica holding the same key
 * accepts it (SEP-1932 suggests such a self-contained nonce for servers without shared state).
 *
 * <p>The key: derived from {@code sessions.key-file} when there is one (shared by the replicas), else random per
 * process (a client that meets another replica is simply handed a new nonce).
 */
public final class DpopNonces {
    private static final int TIME_BYTES = 8;
    private static final int MAC_BYTES = 16;
    /** A nonce issued by a replica whose clock runs this much ahead is still accepted. */
    private static final Duration AHEAD = Duration.ofSeconds(5);
    private static final Base64.Encoder ENCODER = Base64.getUrlEncoder().withoutPadding();
    private static final Base64.Decoder DECODER = Base64.getUrlDecoder();

    private final SecretKeySpec key;
    private final Clock clock;
    private final ThreadLocal<Mac> macs;

    private DpopNonces(byte[] key, Clock clock) {
        this.key = new SecretKeySpec(key, "HmacSHA256");
        this.clock = clock;
        this.macs = ThreadLocal.withInitial(this::newMac);
    }

    /** Nonces under a key derived from {@code secret} (the sessions key): the same on every replica. */
    public static DpopNonces derivedFrom(byte[] secret, Clock clock) {
        try {
            Mac derive = Mac.getInstance("HmacSHA256");
            derive.init(new SecretKeySpec(secret, "HmacSHA256"));
            return new DpopNonces(derive.doFinal("portcullis dpop-nonce v1".getBytes(StandardCharsets.US_ASCII)), clock);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Nonces under a random key of this process's. */
    public static DpopNonces withRandomKey(Clock clock) {
        byte[] key = new byte[32];
        new SecureRandom().nextBytes(key);
        return new DpopNonces(key, clock);
    }

    /** A fresh nonce for {@code route}: 32 base64url characters (RFC 9449 §8.1 NQCHAR). */
    public String issue(String route) {
        long now = clock.instant().getEpochSecond();
        ByteBuffer out = ByteBuffer.allocate(TIME_BYTES + MAC_BYTES);
        out.putLong(now).put(mac(route, now));
        return ENCODER.encodeToString(out.array());
    }

    /** Whether {@code nonce} was issued by {@link #issue} for {@code route} no longer than {@code lifetime} ago. */
    public boolean valid(String route, String nonce, Duration lifetime) {
        if (nonce == null || nonce.length() != 32) {
            return false;
        }
        byte[] raw;
        try {
            raw = DECODER.decode(nonce);
        } catch (IllegalArgumentException notBase64) {
            return false;
        }
        ByteBuffer in = ByteBuffer.wrap(raw);
        long issued = in.getLong();
        byte[] mac = new byte[MAC_BYTES];
        in.get(mac);
        if (!MessageDigest.isEqual(mac, mac(route, issued))) {
            return false;
        }
        long now = clock.instant().getEpochSecond();
        return issued <= now + AHEAD.toSeconds() && issued >= now - lifetime.toSeconds();
    }

    private byte[] mac(String route, long issued) {
        Mac mac = macs.get();
        mac.update(ByteBuffer.allocate(TIME_BYTES).putLong(issued).array());
        byte[] full = mac.doFinal(route.getBytes(StandardCharsets.UTF_8));
        byte[] out = new byte[MAC_BYTES];
        System.arraycopy(full, 0, out, 0, MAC_BYTES);
        return out;
    }

    private Mac newMac() {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(key);
            return mac;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }
}
