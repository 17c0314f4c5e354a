package dev.portcullis.policy;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The validated content of one policy file, as {@link PolicyReader} read it; {@link CompiledPolicy}
 * indexes it for decisions.
 *
 * @param source        the file name used in messages
 * @param defaultAllow  {@code default: allow}; false for {@code deny} or when absent
 * @param allowedAgents {@code agents.allow}, or empty when any agent may call
 * @param scopes        {@code scopes.implies}
 * @param rules         each section's rules in file order
 * @param limits        issue 18: rate and concurrency limits
 * @param delegation    issue 16: {@code delegation} and the rules' {@code actors}
 * @param approvals     issue 17: the tool rules' {@code approval}
 */
record PolicyFile(String source, boolean defaultAllow, Optional<Set<String>> allowedAgents, ScopeHierarchy scopes,
                  Map<Rule.Section, List<RuleSet.Entry>> rules, Limits limits, Delegation delegation, Approvals approvals) {
    PolicyFile(String source, boolean defaultAllow, Optional<Set<String>> allowedAgents, ScopeHierarchy scopes,
               Map<Rule.Section, List<RuleSet.Entry>> rules, Limits limits, Delegation delegation) {
        this(source, defaultAllow, allowedAgents, scopes, rules, limits, delegation, Approvals.NONE);
    }

    PolicyFile {
        approvals = approvals == null ? Approvals.NONE : approvals;
        allowedAgents = allowedAgents.map(Set::copyOf);
        rules = Map.copyOf(rules);
        delegation = delegation == null ? Delegation.NONE : delegation;
    }

    List<RuleSet.Entry> rules(Rule.Section section) {
        return rules.getOrDefault(section, List.of());
    }
}
