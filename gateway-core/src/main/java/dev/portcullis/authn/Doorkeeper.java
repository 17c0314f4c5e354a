package dev.portcullis.authn;

/**
 * Which verified tokens have been seen once: a direct-mapped table of 64-bit fingerprints (the first 64 bits of a
 * token's SHA-256), fixed in size and allocation-free. {@link TokenVerifier} caches a verified token only when it is
 * seen a second time, so one-shot tokens (a token spray, a client that never reuses its token) do not fill the
 * verified-token cache, where every entry would live long enough to be promoted by the garbage collector (issue 13).
 *
 * <p>It decides caching only, never acceptance: a token is looked up here after its signature has been checked.
 * A collision (two tokens in one slot) costs one more signature check (the slot was overwritten) or caches a token
 * at its first sight (same 64 bits, or 64 zero bits: an empty slot), never a wrong answer: the cache is keyed by the
 * full SHA-256 and the claim checks that depend on time and route run on every request.
 *
 * <p>Thread-safe without locks: plain stores to the table. A lost race costs a signature check; a torn
 * {@code long} (allowed by JLS §17.7 on 32-bit JVMs) matches no token's fingerprint and costs the same.
 */
final class Doorkeeper {
    /** 32,768 slots: 256 KiB, one array, kept for the gateway's life (no young-generation churn). */
    static final int DEFAULT_SLOTS = 1 << 15;

    private final long[] slots;
    private final int mask;

    Doorkeeper(int slots) {
        if (slots <= 0 || Integer.bitCount(slots) != 1) {
            throw new IllegalArgumentException("slots must be a power of two: " + slots);
        }
        this.slots = new long[slots];
        this.mask = slots - 1;
    }

    /** Whether {@code fingerprint} was seen before (then it is admitted); else it is remembered, replacing its slot's. */
    boolean seenBefore(long fingerprint) {
        int slot = (int) fingerprint & mask;
        if (slots[slot] == fingerprint) {
            return true;
        }
        slots[slot] = fingerprint;
        return false;
    }

    /** The first 64 bits of a hex SHA-256 ({@link BearerToken#sha256()}), read without allocating. */
    static long fingerprint(String sha256Hex) {
        long bits = 0;
        for (int i = 0; i < 16; i++) {
            bits = (bits << 4) | Character.digit(sha256Hex.charAt(i), 16);
        }
        return bits;
    }
}
