package dev.portcullis.policy;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Explains one decision in plain text, for the {@code explain} command: what was asked, who asked,
 * the decision, the rule that made it (with its line), why, which scopes were required or missing,
 * whether the item is listed for this caller, and the load warnings about that rule. A pure
 * function: the same input gives the same text.
 */
public final class Explain {
    private static final String INDENT = "                 ";

    private Explain() {}

    public static String explain(LoadedPolicy loaded, Subject subject, Operation operation) {
        CompiledPolicy policy = loaded.policy();
        Decision decision = policy.decide(subject, operation);
        Optional<Rule> rule = policy.rule(decision.ruleId());
        List<String> out = new ArrayList<>();

        line(out, "operation", operation.method().isEmpty() ? "(a response)" : operation.method()
                + operation.target().map(t -> " " + Text.quoted(t)).orElse(""));
        if (!operation.arguments().isMissingNode()) {
            line(out, "arguments", operation.arguments().toString());
        }
        line(out, "caller", "sub " + Text.quoted(subject.subject()) + ", agent " + Text.quoted(subject.agent())
                + (subject.issuer().isEmpty() ? "" : ", iss " + Text.quoted(subject.issuer())));
        line(out, "scopes", listOrNone(subject.scopes()));
        Set<String> effective = policy.scopeHierarchy().effective(subject.scopes());
        if (!effective.equals(Set.copyOf(subject.scopes()))) {
            line(out, "", "with implied: " + Text.list(effective));
        }
        line(out, "roles", listOrNone(subject.roles()));

        // Issue 17: an allowed call whose rule holds it for a human's approval (for these arguments).
        Optional<ApprovalRule> approval = decision.allowed() ? policy.approvals().of(decision.ruleId()) : Optional.empty();
        boolean held = approval.isPresent() && approval.get().applies(operation.arguments());
        line(out, "decision", decision.outcome() + " (" + (held
                ? "held for approval: the call reaches the upstream only once approved"
                : answer(decision, operation)) + ")");
        line(out, "rule", decision.ruleId() + rule.map(r -> " (" + loaded.source() + ":" + r.line() + ")").orElse(""));
        line(out, "reason", decision.reason());
        rule.ifPresent(r -> requirements(out, r));
        if (rule.isPresent() && !rule.get().scopes().isEmpty()) {
            Set<String> missing = policy.scopeHierarchy().missing(rule.get().scopes(), subject.scopes());
            line(out, "missing scopes", listOrNone(missing));
        }
        if (decision.allowed() && !decision.requiredScopes().isEmpty()) {
            line(out, "upstream scopes", Text.list(decision.requiredScopes()) + " (the exchanged token needs only these)");
        }
        approval.ifPresent(a -> line(out, "approval", (held ? "" : "not needed for these arguments; the rule asks ")
                + a.describe()));
        listed(policy, subject, operation).ifPresent(listed -> line(out, "listed", listed));
        if (decision.allowed()) {
            // Issue 18: what this call counts against (nothing for a denied call).
            for (Limit limit : policy.limits().applying(decision.ruleId())) {
                line(out, "limit", limit.id() + ": " + limit.describe());
            }
        }
        for (PolicyWarning warning : loaded.warnings()) {
            if (rule.isPresent() && warning.field().startsWith(rule.get().id())) {
                line(out, "warning", warning.toString());
            }
        }
        return String.join("\n", out) + "\n";
    }

    private static String answer(Decision decision, Operation operation) {
        return switch (decision.outcome()) {
            case ALLOW -> "forwarded";
            case STEP_UP -> "403 insufficient_scope: the client can obtain the missing scopes and retry";
            case DENY -> decision.hidden()
                    ? "hidden: answered as if it did not exist" + ("tools/call".equals(operation.method())
                            ? ", -32602 Unknown tool" : "")
                    : "visible: answered \"Denied by gateway policy\"";
        };
    }

    private static void requirements(List<String> out, Rule rule) {
        if (rule.deny()) {
            line(out, "rule requires", "nothing can pass (deny: true)");
            return;
        }
        List<String> parts = new ArrayList<>();
        if (!rule.scopes().isEmpty()) parts.add("all of scopes " + Text.list(rule.scopes()));
        if (!rule.roles().isEmpty()) parts.add("any of roles " + Text.list(rule.roles()));
        if (!rule.agents().isEmpty()) parts.add("any of agents " + Text.list(rule.agents()));
        line(out, "rule requires", parts.isEmpty() ? "an authenticated caller" : String.join("; ", parts));
        for (ArgumentConstraint constraint : rule.arguments()) {
            line(out, "", "argument " + constraint.describe());
        }
    }

    private static Optional<String> listed(Policy policy, Subject subject, Operation operation) {
        Optional<ItemKind> kind = switch (operation.method()) {
            case "tools/call" -> Optional.of(ItemKind.TOOL);
            case "resources/read" -> Optional.of(ItemKind.RESOURCE);
            case "prompts/get" -> Optional.of(ItemKind.PROMPT);
            default -> Optional.empty();
        };
        if (kind.isEmpty() || operation.target().isEmpty()) {
            return Optional.empty();
        }
        boolean visible = policy.visible(subject, kind.get(), operation.target().get());
        return Optional.of((visible ? "yes, shown in " : "no, hidden from ") + kind.get().listMethod());
    }

    private static String listOrNone(Set<String> values) {
        return values.isEmpty() ? "(none)" : Text.list(values);
    }

    private static void line(List<String> out, String label, String value) {
        String head = label.isEmpty() ? INDENT : (label + ":" + INDENT).substring(0, INDENT.length());
        out.add(head + value);
    }
}
