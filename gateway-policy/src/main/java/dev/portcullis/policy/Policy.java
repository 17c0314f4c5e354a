package dev.portcullis.policy;

/**
 * Decides one operation for one subject. Implementations are pure: no I/O, no clock, no
 * mutable state, so a decision can be reproduced by {@code check} and {@code explain} without a
 * server. A policy loaded from a file is a {@link CompiledPolicy} (see {@link PolicyLoader}).
 */
@FunctionalInterface
public interface Policy {

    Decision decide(Subject subject, Operation operation);

    /**
     * Whether a list response may show this item to this caller (POLICY-05): true when the caller
     * may use the item ignoring argument constraints, i.e. using it without arguments would be
     * allowed, or denied only because of its arguments. Items that need a step-up are not visible.
     *
     * @param kind {@code tool}, {@code resource}, {@code resource-template} or {@code prompt}
     * @param name the tool name, resource URI, URI template or prompt name, exactly as listed
     * @throws IllegalArgumentException for an unknown kind
     */
    default boolean visible(Subject subject, String kind, String name) {
        return visible(subject, ItemKind.of(kind), name);
    }

    /** As {@link #visible(Subject, String, String)}. */
    default boolean visible(Subject subject, ItemKind kind, String name) {
        return decide(subject, kind.use(name)).visible();
    }

    /**
     * What {@code subject} may see of items of {@code kind} (V26-5: capabilities it can never use are
     * not offered; V26-34: a reload that changes this value changes the caller's lists). This default
     * knows no per-item rules: everything is visible when the list method is allowed.
     */
    default Visibility visibility(Subject subject, ItemKind kind) {
        return Visibility.everything(decide(subject, Operation.method(kind.listMethod())).allowed());
    }

    /** Issue 18: the rate and concurrency limits calls it allows count against ({@link Limits#NONE}: none). */
    default Limits limits() {
        return Limits.NONE;
    }

    /** Issue 17: which rules hold the calls they allow for human approval ({@link Approvals#NONE}: none). */
    default Approvals approvals() {
        return Approvals.NONE;
    }

    /** Issue 17: what approvals are bound to, so a changed policy does not honour approvals given under another. */
    default String version() {
        return "";
    }

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
