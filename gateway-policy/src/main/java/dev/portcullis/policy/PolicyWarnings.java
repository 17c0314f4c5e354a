package dev.portcullis.policy;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Finds what loads but is probably a mistake. Each check is cheap (pairs of globs at worst):
 * <ol>
 *   <li>a key written twice in one mapping (the later value silently replaces the earlier one);</li>
 *   <li>{@code default: allow};</li>
 *   <li>two globs in one section with equal specificity that can match the same name (file order decides);</li>
 *   <li>a rule's {@code agents} naming an agent that {@code agents.allow} refuses anyway;</li>
 *   <li>a {@code methods} rule for a method decided by another section ({@code tools/call} …), never used;</li>
 *   <li>a {@code methods} rule restricting {@code initialize} or {@code ping};</li>
 *   <li>a resource pattern that can never match an absolute URI (no {@code scheme:}).</li>
 * </ol>
 */
final class PolicyWarnings {
    private static final Pattern SCHEME = Pattern.compile("[A-Za-z][A-Za-z0-9+.-]*");
    private static final Pattern SCHEME_CHARS = Pattern.compile("[A-Za-z0-9+.-]*");

    private final PolicyFile file;
    private final LineIndex lines;
    private final List<PolicyWarning> out = new ArrayList<>();

    private PolicyWarnings(PolicyFile file, LineIndex lines) {
        this.file = file;
        this.lines = lines;
    }

    static List<PolicyWarning> find(PolicyFile file, LineIndex lines) {
        PolicyWarnings warnings = new PolicyWarnings(file, lines);
        warnings.defaultAllow();
        for (Rule.Section section : Rule.Section.values()) {
            warnings.ties(section);
            for (RuleSet.Entry entry : file.rules(section)) {
                warnings.unknownAgents(entry.rule());
            }
        }
        warnings.methodRules();
        warnings.resourcePatterns();
        List<PolicyWarning> sorted = new ArrayList<>(warnings.out);
        sorted.sort(Comparator.comparingInt(PolicyWarning::line));
        return List.copyOf(sorted);
    }

    private void defaultAllow() {
        if (file.defaultAllow()) {
            add(lines.lineOf(List.of("default")), "default", "allow admits every tool, resource, prompt and method"
                    + " that no rule names, including ones the server adds later (deny is safer: POLICY-03)");
        }
    }

    private void ties(Rule.Section section) {
        List<RuleSet.Entry> globs = file.rules(section).stream().filter(e -> !e.glob().isExact()).toList();
        for (int j = 0; j < globs.size(); j++) {
            for (int i = 0; i < j; i++) {
                RuleSet.Entry first = globs.get(i);
                RuleSet.Entry later = globs.get(j);
                if (RuleSet.SPECIFICITY.compare(withOrder(first, 0), withOrder(later, 0)) == 0
                        && first.glob().overlaps(later.glob())) {
                    add(later.rule().line(), later.rule().id(), "ties with " + first.rule().id() + " (line "
                            + first.rule().line() + "): both can match the same " + section.noun()
                            + " with equal specificity, and the one written first wins");
                }
            }
        }
    }

    private static RuleSet.Entry withOrder(RuleSet.Entry entry, int order) {
        return new RuleSet.Entry(entry.rule(), entry.glob(), order);
    }

    private void unknownAgents(Rule rule) {
        if (file.allowedAgents().isEmpty()) {
            return;
        }
        Set<String> allowed = file.allowedAgents().get();
        for (String agent : rule.agents()) {
            if (!AgentIds.matches(allowed, agent)) {
                List<Object> path = List.of(rule.section().key(), rule.pattern(), "agents");
                add(lines.lineOf(path), Text.path(path), Text.quoted(agent) + " is not in agents.allow, so the"
                        + " gateway refuses it before this rule is consulted");
            }
        }
    }

    private void methodRules() {
        for (RuleSet.Entry entry : file.rules(Rule.Section.METHODS)) {
            Rule rule = entry.rule();
            CompiledPolicy.sectionOf(rule.pattern()).ifPresent(section -> add(rule.line(), rule.id(),
                    rule.pattern() + " is decided by the " + section.key() + " rules; this rule is never used"));
            boolean restricts = rule.deny() || !rule.scopes().isEmpty() || !rule.roles().isEmpty()
                    || !rule.agents().isEmpty();
            if (restricts && (rule.pattern().equals("initialize") || rule.pattern().equals("ping"))) {
                add(rule.line(), rule.id(), "restricts " + rule.pattern() + ": clients refused here cannot use the"
                        + " server at all" + (rule.pattern().equals("ping") ? " and ping must always be answered"
                        + " (JSONRPC-07)" : "; agents.allow is the usual way to limit who may connect"));
            }
        }
    }

    private void resourcePatterns() {
        for (RuleSet.Entry entry : file.rules(Rule.Section.RESOURCES)) {
            if (!canStartWithScheme(entry.glob())) {
                add(entry.rule().line(), entry.rule().id(), "a resource URI starts with a scheme such as file: or"
                        + " https:, so this pattern can never match");
            }
        }
    }

    /** False when the literal start of the pattern already rules out {@code scheme:}. */
    private static boolean canStartWithScheme(Glob glob) {
        String prefix = glob.literalPrefix();
        int colon = prefix.indexOf(':');
        if (colon >= 0) {
            return SCHEME.matcher(prefix.substring(0, colon)).matches();
        }
        if (glob.isExact()) {
            return false;
        }
        return prefix.isEmpty() || SCHEME.matcher(prefix.substring(0, 1)).matches()
                && SCHEME_CHARS.matcher(prefix).matches();
    }

    private void add(int line, String field, String message) {
        out.add(new PolicyWarning(file.source(), line, field, message));
    }
}
