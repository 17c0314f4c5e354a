package dev.portcullis.approval;

import com.fasterxml.jackson.databind.JsonNode;
import dev.portcullis.audit.ArgumentLogging;
import dev.portcullis.authn.Principal;

/**
 * Issue 17: what an approval is bound to. The same person through another agent, another tool, other
 * arguments (by the canonical JSON digest the audit trail uses: key order and whitespace do not matter,
 * every value does), another route or another version of the policy file is another call, and an approval
 * for one never lets the other through.
 */
public final class ApprovalBinding {
    private ApprovalBinding() {}

    /**
     * A CSPRNG that never blocks an event loop once made: Hash_DRBG, seeded once (here, off the loop). The default
     * {@code SecureRandom} (NativePRNG) reads {@code /dev/urandom} on every call, which BlockHound reports.
     */
    public static java.security.SecureRandom nonBlockingRandom() {
        try {
            java.security.SecureRandom random = java.security.SecureRandom.getInstance("DRBG",
                    java.security.DrbgParameters.instantiation(256, java.security.DrbgParameters.Capability.NONE, null));
            random.nextBytes(new byte[32]); // instantiate (and seed) now
            return random;
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The digest of {@code arguments} ({@code params.arguments}); an absent argument object is its own value. */
    public static String argumentsDigest(JsonNode arguments) {
        return arguments == null || arguments.isMissingNode() || arguments.isNull() ? "none"
                : ArgumentLogging.digest(arguments);
    }

    /**
     * SHA-256 (hex) over issuer, subject, agent, route, tool, argument digest and policy version, each
     * length-prefixed, so no choice of values (a subject holding a line break, say) can make two calls collide.
     */
    public static String of(Principal principal, String route, String tool, String argumentsDigest, String policyVersion) {
        StringBuilder text = new StringBuilder("approval-v1");
        for (String part : new String[] {principal.issuer(), principal.subject(), principal.agent(), route, tool,
                argumentsDigest, policyVersion}) {
            String value = part == null ? "" : part;
            text.append('|').append(value.length()).append(':').append(value);
        }
        return dev.portcullis.Sha256.hex(text.toString());
    }
}
