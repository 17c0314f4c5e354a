package dev.portcullis.policy;

import java.util.Collections;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.SortedSet;

/**
 * A policy file ready to decide: immutable, no I/O, no clock, so the same subject and operation
 * always get the same decision (safe to share between threads).
 *
 * <p>Which rules a method consults:
 * <ul>
 *   <li>{@code tools/call} → {@code tools} by {@code params.name}; {@code resources/read},
 *       {@code resources/subscribe}, {@code resources/unsubscribe} → {@code resources} by
 *       {@code params.uri}; {@code prompts/get} → {@code prompts} by {@code params.name}.</li>
 *   <li>Protocol plumbing ({@code initialize}, {@code ping}, {@code notifications/*}, {@code tools/list},
 *       {@code resources/list}, {@code resources/templates/list}, {@code prompts/list}, and responses
 *       (method "")) → allowed to any authenticated caller, unless {@code methods} names the method
 *       exactly. Globs under {@code methods} never match plumbing.</li>
 *   <li>Any other method ({@code completion/complete}, {@code logging/setLevel}, {@code tasks/*}, …)
 *       → {@code methods}.</li>
 *   <li>Nothing matched → {@code default} (deny unless the file says allow).</li>
 * </ul>
 *
 * <p>A resource URI not in normal form ({@link ResourceUri}) is denied, hidden, before any rule is
 * consulted (rule id {@value #NOT_NORMAL}), and a resource template whose literal text is not is hidden.
 *
 * <p>Decision order: the server-wide {@code agents.allow} (deny) → the most specific rule →
 * {@code deny: true} (deny) → the rule's {@code agents} (deny) → its {@code roles}, any of (deny) →
 * its {@code scopes}, all of, counting implied scopes (step-up naming every missing scope) → its
 * {@code arguments} (deny, visible) → allow, carrying the rule's scopes.
 */
public final class CompiledPolicy implements Policy {
    /**
     * Protocol plumbing every authenticated caller may send unless a {@code methods} rule names it:
     * the handshake and discovery of each revision ({@code initialize}, and 2026-07-28's
     * {@code server/discover}, whose refusal would make dual-era clients fall back to the older
     * revision), liveness, the lists (filtered to what the caller may use), and 2026-07-28's
     * {@code subscriptions/listen} (the successor of the legacy GET stream).
     */
    private static final Set<String> PLUMBING = Set.of("initialize", "server/discover", "ping", "tools/list",
            "resources/list", "resources/templates/list", "prompts/list", "subscriptions/listen");
    private static final Map<String, Rule.Section> TARGETED = Map.of(
            "tools/call", Rule.Section.TOOLS,
            "resources/read", Rule.Section.RESOURCES,
            "resources/subscribe", Rule.Section.RESOURCES,
            "resources/unsubscribe", Rule.Section.RESOURCES,
            "prompts/get", Rule.Section.PROMPTS);

    /** The rule id of a refusal of a resource URI that is not in normal form ({@link ResourceUri}). */
    public static final String NOT_NORMAL = "uri-normal-form";

    private final String source;
    private final boolean defaultAllow;
    private final Optional<Set<String>> allowedAgents;
    /** Issue 16: {@code delegation} and the rules' {@code actors}. */
    private final Delegation delegation;
    private final ScopeHierarchy scopes;
    private final Map<Rule.Section, RuleSet> sections;
    private final Map<String, Rule> rulesById;
    private final Limits limits;
    /** Issue 17: the tool rules' approvals, and the version approvals are bound to. */
    private final Approvals approvals;
    private final String version;

    CompiledPolicy(PolicyFile file) {
        this(file, "");
    }

    /** @param version identifies the file's content (a digest of its text); approvals are bound to it */
    CompiledPolicy(PolicyFile file, String version) {
        this.source = file.source();
        this.defaultAllow = file.defaultAllow();
        this.allowedAgents = file.allowedAgents();
        this.scopes = file.scopes();
        Map<Rule.Section, RuleSet> bySection = new EnumMap<>(Rule.Section.class);
        Map<String, Rule> byId = new LinkedHashMap<>();
        for (Rule.Section section : Rule.Section.values()) {
            List<RuleSet.Entry> entries = file.rules(section);
            bySection.put(section, new RuleSet(entries));
            entries.forEach(entry -> byId.put(entry.rule().id(), entry.rule()));
        }
        this.sections = Collections.unmodifiableMap(bySection);
        this.rulesById = Collections.unmodifiableMap(byId);
        this.limits = file.limits() == null ? Limits.NONE : file.limits();
        this.delegation = file.delegation();
        this.approvals = file.approvals();
        this.version = version;
    }

    /** Issue 17: which rules hold calls for approval. */
    @Override
    public Approvals approvals() {
        return approvals;
    }

    /** Issue 17: a digest of the policy file's text; an approval given under one version does not pass another. */
    @Override
    public String version() {
        return version;
    }

    /** Issue 18: the file's rate and concurrency limits. */
    @Override
    public Limits limits() {
        return limits;
    }

    /** Whether {@code method} is protocol plumbing, allowed unless {@code methods} names it exactly. */
    public static boolean isPlumbing(String method) {
        return method.isEmpty() || PLUMBING.contains(method) || method.startsWith("notifications/");
    }

    /** The section {@code method} is decided by ({@code tools/call} → tools …), or empty for other methods. */
    public static Optional<Rule.Section> sectionOf(String method) {
        return Optional.ofNullable(TARGETED.get(method));
    }

    /** The server-wide checks before any rule: {@code agents.allow}, then {@code delegation} (issue 16). */
    private Optional<Decision> serverWide(Subject subject) {
        if (allowedAgents.isPresent() && !AgentIds.matches(allowedAgents.get(), subject.agent())) {
            return Optional.of(Decision.deny("agents.allow", "agent " + Text.quoted(subject.agent())
                    + " is not in the server-wide agents.allow list"));
        }
        return delegation.check(subject);
    }

    @Override
    public Decision decide(Subject subject, Operation operation) {
        Optional<Decision> refused = serverWide(subject);
        if (refused.isPresent()) {
            return refused.get();
        }
        String method = operation.method();
        Optional<Rule.Section> section = sectionOf(method);
        if (section.isPresent()) {
            return decideTarget(section.get(), subject, operation);
        }
        String what = "method " + Text.quoted(method);
        RuleSet methods = sections.get(Rule.Section.METHODS);
        if (isPlumbing(method)) {
            Optional<Rule> named = methods.exact(method);
            return named.isPresent()
                    ? apply(named.get(), what, subject, operation)
                    : Decision.allow("plumbing", (method.isEmpty() ? "a response" : what)
                            + " is protocol plumbing, allowed to any authenticated caller");
        }
        Optional<Rule> rule = methods.match(method);
        return rule.isPresent() ? apply(rule.get(), what, subject, operation) : byDefault(what);
    }

    private Decision decideTarget(Rule.Section section, Subject subject, Operation operation) {
        if (operation.target().isEmpty()) {
            return Decision.deny("default", operation.method() + " names no " + section.noun());
        }
        String what = section.noun() + " " + Text.quoted(operation.target().get());
        if (section == Rule.Section.RESOURCES) {
            // Issue 12: decided only on URIs the upstream cannot resolve to another resource.
            Optional<String> problem = ResourceUri.problem(operation.target().get());
            if (problem.isPresent()) {
                return Decision.deny(NOT_NORMAL, what + " is not in normal form: " + problem.get());
            }
        }
        Optional<Rule> rule = sections.get(section).match(operation.target().get());
        return rule.isPresent() ? apply(rule.get(), what, subject, operation) : byDefault(what);
    }

    private Decision byDefault(String what) {
        return defaultAllow
                ? Decision.allow("default", "no rule covers " + what + "; default is allow")
                : Decision.deny("default", "no rule covers " + what + "; default is deny");
    }

    /** The checks of one rule, in order; the first that fails decides. */
    private Decision apply(Rule rule, String what, Subject subject, Operation operation) {
        if (rule.deny()) {
            return Decision.deny(rule.id(), what + " is denied by " + rule.id());
        }
        if (!rule.agents().isEmpty() && !AgentIds.matches(rule.agents(), subject.agent())) {
            return Decision.deny(rule.id(), what + " is limited to " + Text.plural(rule.agents().size(), "agent ", "agents ")
                    + Text.list(rule.agents()) + "; caller's agent is " + Text.quoted(subject.agent()));
        }
        Optional<Decision> actors = delegation.checkRule(rule, what, subject);
        if (actors.isPresent()) {
            return actors.get();
        }
        if (!rule.roles().isEmpty() && Collections.disjoint(rule.roles(), subject.roles())) {
            return Decision.deny(rule.id(), what + " requires " + Text.plural(rule.roles().size(), "role ", "one of roles ")
                    + Text.list(rule.roles()));
        }
        SortedSet<String> missing = scopes.missing(rule.scopes(), subject.scopes());
        if (!missing.isEmpty()) {
            return Decision.stepUp(rule.id(), what + " requires " + Text.plural(rule.scopes().size(), "scope ", "scopes ")
                    + Text.list(rule.scopes()) + " (missing: " + Text.list(missing) + ")", missing);
        }
        for (ArgumentConstraint constraint : rule.arguments()) {
            Optional<String> violation = constraint.violation(operation.arguments());
            if (violation.isPresent()) {
                return Decision.denyVisible(rule.id(), what + ": " + violation.get());
            }
        }
        return Decision.allow(rule.id(), what + " is allowed by " + rule.id(), rule.scopes());
    }

    /**
     * As {@link Policy#visible(Subject, ItemKind, String)}. A resource template is visible when the
     * most specific rules it overlaps let the caller through: rules are tried most specific first;
     * the first overlapping rule the caller passes makes it visible; the first overlapping rule the
     * caller fails that matches the template's own text (so covers, as far as a glob can tell, every
     * URI it produces: {@code file:///secret/**} covers {@code file:///secret/{name}}) hides it;
     * with neither, {@code default} decides.
     */
    @Override
    public boolean visible(Subject subject, ItemKind kind, String name) {
        if (kind != ItemKind.RESOURCE_TEMPLATE) {
            return Policy.super.visible(subject, kind, name);
        }
        if (serverWide(subject).isPresent()) {
            return false;
        }
        if (ResourceUri.templateProblem(name).isPresent()) {
            return false; // the URIs it makes would be refused (issue 12)
        }
        Glob template = Glob.uriTemplate(name);
        Operation read = Operation.resourceRead(name);
        for (RuleSet.Entry entry : sections.get(Rule.Section.RESOURCES).byPriority()) {
            if (!entry.glob().overlaps(template)) {
                continue;
            }
            if (apply(entry.rule(), "resource template", subject, read).visible()) {
                return true;
            }
            if (entry.glob().matches(name)) {
                return false;
            }
        }
        return defaultAllow;
    }

    /**
     * As {@link Policy#visibility(Subject, ItemKind)}: each rule of the kind's section with its verdict
     * for this caller on a use without arguments, the default, and whether the list method is allowed.
     */
    @Override
    public Visibility visibility(Subject subject, ItemKind kind) {
        if (serverWide(subject).isPresent()) {
            return Visibility.none();
        }
        boolean listable = decide(subject, Operation.method(kind.listMethod())).allowed();
        if (!listable) {
            return Visibility.none();
        }
        Rule.Section section = sectionOf(kind.use("x").method()).orElseThrow();
        Map<String, Boolean> verdicts = new LinkedHashMap<>();
        for (RuleSet.Entry entry : sections.get(section).byPriority()) {
            Operation use = kind.use(entry.rule().pattern());
            verdicts.put(entry.rule().pattern(), apply(entry.rule(), "item", subject, use).visible());
        }
        return Visibility.of(true, defaultAllow, verdicts);
    }

    /** The rule with this id ({@link Decision#ruleId()}), if a file rule decided. */
    public Optional<Rule> rule(String ruleId) {
        return Optional.ofNullable(rulesById.get(ruleId));
    }

    /** Every rule, section by section, in file order. */
    public List<Rule> rules() {
        return List.copyOf(rulesById.values());
    }

    /** {@code default: allow}. */
    public boolean defaultAllows() {
        return defaultAllow;
    }

    /** {@code agents.allow}, or empty when any agent may call. */
    public Optional<Set<String>> allowedAgents() {
        return allowedAgents;
    }

    public ScopeHierarchy scopeHierarchy() {
        return scopes;
    }

    /** The file name the policy came from (for messages). */
    public String source() {
        return source;
    }
}
