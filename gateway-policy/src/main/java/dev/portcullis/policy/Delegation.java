package dev.portcullis.policy;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.SortedSet;
import java.util.TreeSet;

/**
 * Who may act for whom (issue 16): the policy's {@code delegation} section and the rules' {@code actors}.
 *
 * <pre>
 * delegation:
 *   max-depth: 2          # at most two actors in a token's act chain; 0 refuses every delegated token
 *   narrowing: true       # along the chain, each link's declared scopes within the next older link's
 * tools:
 *   deploy: { actors: ["spiffe://prod.acme/ns/agents/deployer"] }   # a delegated call only through these actors
 * </pre>
 *
 * A token without {@code act} is a direct call: depth 0, and a rule's {@code actors} does not apply to it. With
 * {@code act}, the current actor (the top-level {@code act}) must be one of the rule's {@code actors} (exact ids or
 * {@code /*} prefixes, as for agents: {@link AgentIds}), matched by its {@code sub} or its {@code client_id}.
 *
 * <p>RFC 8693 §4.1 (EXCHANGE-08): access decisions use the top-level claims and the current actor; prior actors
 * (nested {@code act}) are informational. So {@code actors} admits by the current actor only, and the two checks that
 * read the nested chain — {@code max-depth} and {@code narrowing} — are opt-in and can only refuse, never admit: an
 * operator who asks for them accepts that a longer or widening chain, as the IdP signed it, is refused.
 *
 * @param maxDepth   the deepest act chain accepted, or null for no limit
 * @param narrowing  whether scopes may only narrow along the chain
 * @param ruleActors rule id → the actors its rule admits
 */
public record Delegation(Integer maxDepth, boolean narrowing, Map<String, Set<String>> ruleActors) {
    public static final Delegation NONE = new Delegation(null, false, Map.of());
    /** Chains are read at most this deep; deeper ones are refused whenever a limit applies. */
    public static final int MAX_CHAIN = 32;

    public Delegation {
        ruleActors = Map.copyOf(ruleActors);
    }

    /** The server-wide checks ({@code max-depth}, {@code narrowing}), or empty when the chain passes. */
    Optional<Decision> check(Subject subject) {
        List<Actor> chain = subject.actors();
        if (maxDepth != null && (chain.size() > maxDepth || subject.chainDepth() > maxDepth)) {
            return Optional.of(Decision.deny("delegation.max-depth", "the token's delegation chain has "
                    + subject.chainDepth() + (subject.chainDepth() == 1 ? " actor" : " actors") + "; delegation.max-depth is "
                    + maxDepth));
        }
        if (narrowing) {
            Set<String> previous = subject.scopes();
            String previousName = "the token";
            for (int i = 0; i < chain.size(); i++) {
                Set<String> declared = chain.get(i).scopes();
                if (declared == null) {
                    continue;
                }
                SortedSet<String> widened = new TreeSet<>(previous);
                widened.removeAll(declared);
                if (!widened.isEmpty()) {
                    return Optional.of(Decision.deny("delegation.narrowing", previousName + " carries "
                            + Text.plural(widened.size(), "scope ", "scopes ") + Text.list(widened) + " that actor "
                            + Text.quoted(chain.get(i).subject()) + " (link " + (i + 1) + " of the act chain) lacked;"
                            + " delegation may only narrow"));
                }
                previous = declared;
                previousName = "actor " + Text.quoted(chain.get(i).subject());
            }
        }
        return Optional.empty();
    }

    /** A rule's {@code actors} check, or empty when it passes (no actors named, or a direct call). */
    Optional<Decision> checkRule(Rule rule, String what, Subject subject) {
        Set<String> allowed = ruleActors.get(rule.id());
        if (allowed == null || allowed.isEmpty() || subject.actors().isEmpty()) {
            return Optional.empty();
        }
        Actor current = subject.actors().get(0);
        if (AgentIds.matches(allowed, current.subject())
                || !current.clientId().isEmpty() && AgentIds.matches(allowed, current.clientId())) {
            return Optional.empty();
        }
        return Optional.of(Decision.deny(rule.id(), what + " is limited to " + Text.plural(allowed.size(), "actor ", "actors ")
                + Text.list(allowed) + "; the current actor is " + Text.quoted(current.subject())));
    }
}
