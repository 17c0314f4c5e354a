package dev.portcullis.policy;

import java.util.List;
import java.util.Objects;

/**
 * A policy file that loaded: the policy, ready to decide, and the warnings found while loading
 * (empty for a clean file). Show the warnings to the operator ({@code check}, startup, reload log).
 *
 * @param source   the file name used in messages
 * @param policy   the policy
 * @param warnings in file order
 */
public record LoadedPolicy(String source, CompiledPolicy policy, List<PolicyWarning> warnings) {
    public LoadedPolicy {
        Objects.requireNonNull(source, "source");
        Objects.requireNonNull(policy, "policy");
        warnings = List.copyOf(warnings);
    }
}
