package dev.portcullis.policy;

import java.util.List;
import java.util.Map;

/**
 * The limits of a policy file (issue 18): those of each rule ({@code limits:} next to its checks), the
 * route's default ({@code limits.default}), and what happens when the shared store cannot be reached
 * ({@code limits.fail}).
 *
 * <p>Which limits a message counts against: only a request the policy allowed (a denied call consumes
 * nothing; notifications and responses are never counted): the limits of the rule that allowed it, and
 * the route's default unless the request is protocol plumbing ({@code initialize}, {@code ping}, the lists,
 * ...: decided by rule {@code plumbing}).
 *
 * @param defaults every non-plumbing request the policy allows counts against these
 * @param byRule   the limits of each rule, by {@link Rule#id()}
 * @param fail     what the route does when the shared store is down
 */
public final class Limits {
    /** No limits. */
    public static final Limits NONE = new Limits(List.of(), Map.of(), FailMode.LOCAL);

    /** The rule id of decisions that protocol plumbing gets; the default does not count them. */
    public static final String PLUMBING = "plumbing";

    /** When the shared store is unreachable: {@code local} (default) or {@code closed}. */
    public enum FailMode {
        /** Each replica enforces the limits alone, each count divided by the configured replica count. */
        LOCAL,
        /** Calls that count against a limit are refused (503) until the store is back. */
        CLOSED
    }

    private final List<Limit> defaults;
    private final Map<String, List<Limit>> byRule;
    private final FailMode fail;
    /** Each rule's own limits followed by the defaults, built once (no list is built per request). */
    private final Map<String, List<Limit>> applying;

    public Limits(List<Limit> defaults, Map<String, List<Limit>> byRule, FailMode fail) {
        this.defaults = List.copyOf(defaults);
        this.byRule = Map.copyOf(byRule);
        this.fail = fail;
        Map<String, List<Limit>> all = new java.util.HashMap<>();
        this.byRule.forEach((rule, own) -> {
            List<Limit> both = new java.util.ArrayList<>(own);
            both.addAll(this.defaults);
            all.put(rule, List.copyOf(both));
        });
        this.applying = Map.copyOf(all);
    }

    public List<Limit> defaults() {
        return defaults;
    }

    public Map<String, List<Limit>> byRule() {
        return byRule;
    }

    public FailMode fail() {
        return fail;
    }

    /** Every limit of the file: the rules' in file order, then the defaults. */
    public List<Limit> all() {
        List<Limit> out = new java.util.ArrayList<>();
        byRule.values().forEach(out::addAll);
        out.addAll(defaults);
        return out;
    }

    public boolean isEmpty() {
        return defaults.isEmpty() && byRule.isEmpty();
    }

    /** The limits an allowed request decided by {@code ruleId} counts against, the rule's first. */
    public List<Limit> applying(String ruleId) {
        if (PLUMBING.equals(ruleId) || "response".equals(ruleId)) {
            return List.of();
        }
        List<Limit> both = applying.get(ruleId);
        return both != null ? both : defaults;
    }
}
