package dev.portcullis.policy;

/**
 * Decides one operation for one subject. Implementations are pure: no I/O, no clock, no
 * mutable state, so a decision can be reproduced by {@code check} and {@code explain} without a
 * server.
 */
@FunctionalInterface
public interface Policy {

    Decision decide(Subject subject, Operation operation);

    /**
     * The policy of a route that names no policy file: every authenticated caller may send
     * every message. Authentication (issuer, audience, expiry, signature) still applies in
     * full; this only means no per-tool rules exist yet for that route.
     */
    static Policy authenticatedOnly() {
        return (subject, operation) -> Decision.allow("authenticated-only",
                "route has no policy file; any authenticated caller is allowed");
    }
}
