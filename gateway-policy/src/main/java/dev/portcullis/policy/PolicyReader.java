package dev.portcullis.policy;

import com.fasterxml.jackson.databind.JsonNode;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Predicate;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * Reads the YAML tree of a policy file into a {@link PolicyFile}, checking every key, type and value
 * on the way. It does not stop at the first problem: every problem is collected, each as
 * {@code file:line: field: problem (expected: …)}.
 */
final class PolicyReader {
    private static final List<String> TOP_KEYS = List.of("default", "agents", "scopes", "tools", "resources",
            "prompts", "methods", "limits", "delegation");
    private static final List<String> RULE_KEYS = List.of("deny", "scopes", "roles", "agents", "actors", "limits");
    private static final List<String> RULE_KEYS_WITH_ARGUMENTS = List.of("deny", "scopes", "roles", "agents", "actors",
            "arguments", "limits");
    /** Issue 17: tool rules may also hold {@code approval}. */
    private static final List<String> TOOL_RULE_KEYS = List.of("deny", "scopes", "roles", "agents", "actors",
            "arguments", "limits", "approval");
    private static final List<String> APPROVAL_KEYS = List.of("required", "approvers", "count", "expires",
            "self-approval", "single-use", "when", "mask");
    private static final List<String> APPROVER_KEYS = List.of("roles", "groups", "claim");
    private static final List<String> CONSTRAINT_KEYS = List.of("equals", "one-of", "min", "max", "pattern",
            "max-length", "optional");
    static final String SCOPE_TOKEN = "a scope token: printable ASCII without spaces, quotes or backslashes";

    private final String source;
    private final LineIndex lines;
    private final List<Problem> problems = new ArrayList<>();
    /** Issue 18: each rule's {@code limits}, by rule id, in file order. */
    private final Map<String, List<Limit>> ruleLimits = new LinkedHashMap<>();
    /** Issue 16: each rule's {@code actors}, by rule id. */
    private final Map<String, Set<String>> ruleActors = new LinkedHashMap<>();
    /** Issue 17: each tool rule's {@code approval}, by rule id. */
    private final Map<String, ApprovalRule> ruleApprovals = new LinkedHashMap<>();

    private record Problem(int line, String text) {}

    PolicyReader(String source, LineIndex lines) {
        this.source = source;
        this.lines = lines;
    }

    /** The problems found by {@link #read}, in line order; the file is usable only when there are none. */
    List<String> problems() {
        return problems.stream().sorted(java.util.Comparator.comparingInt(Problem::line)).map(Problem::text).toList();
    }

    PolicyFile read(JsonNode root) {
        if (root == null || root.isMissingNode() || root.isNull()) {
            problems.add(new Problem(0, source + ": is empty (expected: a mapping with default, agents, scopes, tools,"
                    + " resources, prompts, methods)"));
            return null;
        }
        List<Object> top = List.of();
        if (!root.isObject()) {
            expected(top, root, "a mapping with default, agents, scopes, tools, resources, prompts, methods");
            return null;
        }
        onlyKeys(top, root, TOP_KEYS);
        boolean defaultAllow = readDefault(root.get("default"));
        Optional<Set<String>> agents = readAgents(root.get("agents"));
        ScopeHierarchy scopes = readScopes(root.get("scopes"));
        Map<Rule.Section, List<RuleSet.Entry>> rules = new EnumMap<>(Rule.Section.class);
        for (Rule.Section section : Rule.Section.values()) {
            rules.put(section, readSection(section, root.get(section.key())));
        }
        Limits limits = readLimits(root.get("limits"));
        Delegation delegation = readDelegation(root.get("delegation"));
        return new PolicyFile(source, defaultAllow, agents, scopes, rules, limits, delegation,
                new Approvals(ruleApprovals));
    }

    /** Issue 16: {@code delegation: { max-depth: N, narrowing: true|false }}. */
    private Delegation readDelegation(JsonNode node) {
        if (node == null || node.isNull()) {
            return new Delegation(null, false, ruleActors);
        }
        List<Object> path = List.of("delegation");
        if (!node.isObject()) {
            expected(path, node, "a mapping: { max-depth: N, narrowing: true or false }");
            return new Delegation(null, false, ruleActors);
        }
        onlyKeys(path, node, List.of("max-depth", "narrowing"));
        Integer maxDepth = null;
        JsonNode depth = node.get("max-depth");
        if (depth != null) {
            if (depth.isIntegralNumber() && depth.asInt() >= 0 && depth.asInt() <= Delegation.MAX_CHAIN) {
                maxDepth = depth.asInt();
            } else {
                expected(child(path, "max-depth"), depth, "0.." + Delegation.MAX_CHAIN + " actors (0: no delegated tokens)");
            }
        }
        boolean narrowing = false;
        JsonNode narrow = node.get("narrowing");
        if (narrow != null) {
            if (narrow.isBoolean()) {
                narrowing = narrow.booleanValue();
            } else {
                expected(child(path, "narrowing"), narrow, "true or false");
            }
        }
        return new Delegation(maxDepth, narrowing, ruleActors);
    }

    private boolean readDefault(JsonNode node) {
        if (node == null) {
            return false;
        }
        if (node.isTextual() && (node.textValue().equals("deny") || node.textValue().equals("allow"))) {
            return node.textValue().equals("allow");
        }
        expected(List.of("default"), node, "deny or allow");
        return false;
    }

    private Optional<Set<String>> readAgents(JsonNode node) {
        if (node == null) {
            return Optional.empty();
        }
        List<Object> path = List.of("agents");
        if (!node.isObject()) {
            expected(path, node, "a mapping: { allow: [agent ids] }");
            return Optional.empty();
        }
        onlyKeys(path, node, List.of("allow"));
        JsonNode allow = node.get("allow");
        if (allow == null) {
            problem(path, "no allow list (expected: allow: [agent ids]; remove agents to admit any agent)");
            return Optional.empty();
        }
        List<Object> allowPath = List.of("agents", "allow");
        Set<String> ids = strings(allowPath, allow, "a list of agent ids (client_id)", AgentIds.EXPECTED, AgentIds::valid);
        if (allow.isArray() && allow.isEmpty()) {
            expected(allowPath, allow, "at least one agent id; remove agents to admit any agent");
        }
        return Optional.of(ids);
    }

    private ScopeHierarchy readScopes(JsonNode node) {
        if (node == null) {
            return ScopeHierarchy.none();
        }
        List<Object> path = List.of("scopes");
        if (!node.isObject()) {
            expected(path, node, "a mapping: { implies: { broader-scope: [narrower scopes] } }");
            return ScopeHierarchy.none();
        }
        onlyKeys(path, node, List.of("implies"));
        JsonNode implies = node.get("implies");
        if (implies == null) {
            return ScopeHierarchy.none();
        }
        List<Object> impliesPath = List.of("scopes", "implies");
        if (!implies.isObject()) {
            expected(impliesPath, implies, "a mapping of a broader scope to the list of scopes it implies");
            return ScopeHierarchy.none();
        }
        Map<String, Set<String>> map = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> entry : fields(implies)) {
            List<Object> scopePath = child(impliesPath, entry.getKey());
            if (!isScopeToken(entry.getKey())) {
                problem(scopePath, "not a scope token (expected: printable ASCII without spaces, quotes or backslashes)");
                continue;
            }
            map.put(entry.getKey(), strings(scopePath, entry.getValue(), "a list of the scopes "
                    + entry.getKey() + " implies", SCOPE_TOKEN, PolicyReader::isScopeToken));
        }
        return ScopeHierarchy.of(map);
    }

    private List<RuleSet.Entry> readSection(Rule.Section section, JsonNode node) {
        List<RuleSet.Entry> entries = new ArrayList<>();
        if (node == null || node.isNull()) {
            return entries;
        }
        List<Object> path = List.of(section.key());
        if (!node.isObject()) {
            expected(path, node, "a mapping of " + section.noun() + " name or glob to rule");
            return entries;
        }
        for (Map.Entry<String, JsonNode> entry : fields(node)) {
            readRule(section, entry.getKey(), entry.getValue(), entries.size()).ifPresent(entries::add);
        }
        return entries;
    }

    private Optional<RuleSet.Entry> readRule(Rule.Section section, String name, JsonNode node, int order) {
        List<Object> path = List.of(section.key(), name);
        Glob glob;
        try {
            glob = section == Rule.Section.RESOURCES ? Glob.uri(name) : Glob.name(name);
        } catch (IllegalArgumentException e) {
            problem(path, "not a valid " + section.noun() + " pattern (" + e.getMessage() + ")");
            return Optional.empty();
        }
        if (section == Rule.Section.RESOURCES) {
            // Requests must name URIs in normal form (ResourceUri), so a pattern that is not could never match.
            Optional<String> notNormal = ResourceUri.problem(name);
            if (notNormal.isPresent()) {
                problem(path, "not a resource URI pattern in normal form (" + notNormal.get()
                        + "; expected: lower-case scheme and host, no dot segments, no %2F, backslash or //,"
                        + " no percent-encoded letters or digits)");
                return Optional.empty();
            }
        }
        if (!node.isObject()) {
            expected(path, node, "a rule mapping, e.g. { scopes: [...] }, or {} for any authenticated caller");
            return Optional.empty();
        }
        boolean arguments = section == Rule.Section.TOOLS || section == Rule.Section.PROMPTS;
        if (!arguments && node.has("arguments")) {
            problem(child(path, "arguments"), "unknown key (arguments apply to tools and prompts only; expected one of: "
                    + String.join(", ", RULE_KEYS.stream().sorted().toList()) + ")");
        }
        if (section != Rule.Section.TOOLS && node.has("approval")) {
            problem(child(path, "approval"), "unknown key (approval applies to tools only; expected one of: "
                    + String.join(", ", (arguments ? RULE_KEYS_WITH_ARGUMENTS : RULE_KEYS).stream().sorted().toList()) + ")");
        }
        // arguments outside tools and prompts, approval outside tools: reported just above
        if (section == Rule.Section.TOOLS) {
            onlyKeys(path, node, TOOL_RULE_KEYS);
        } else {
            for (Map.Entry<String, JsonNode> entry : fields(node)) {
                if (!RULE_KEYS_WITH_ARGUMENTS.contains(entry.getKey()) && !entry.getKey().equals("approval")) {
                    problem(child(path, entry.getKey()), "unknown key (expected one of: "
                            + String.join(", ", RULE_KEYS_WITH_ARGUMENTS.stream().sorted().toList()) + ")");
                }
            }
        }
        boolean deny = false;
        JsonNode denyNode = node.get("deny");
        if (denyNode != null) {
            if (denyNode.isBoolean()) {
                deny = denyNode.booleanValue();
            } else {
                expected(child(path, "deny"), denyNode, "true or false");
            }
            if (deny && node.size() > 1) {
                problem(child(path, "deny"), "true (expected: deny alone; a denying rule has no scopes, roles, agents,"
                        + " arguments or approval)");
            }
        }
        Set<String> scopes = optionalStrings(path, node, "scopes", "a list of scopes", SCOPE_TOKEN,
                PolicyReader::isScopeToken);
        Set<String> roles = optionalStrings(path, node, "roles", "a list of role names", "a role name",
                s -> !s.isEmpty());
        Set<String> agents = optionalStrings(path, node, "agents", "a list of agent ids (client_id)", AgentIds.EXPECTED,
                AgentIds::valid);
        List<ArgumentConstraint> constraints = arguments ? readArguments(child(path, "arguments"), node.get("arguments"))
                : List.of();
        String id = Rule.idOf(section, name);
        Set<String> actors = optionalStrings(path, node, "actors", "a list of actor ids (the act chain's sub or client_id)",
                AgentIds.EXPECTED, AgentIds::valid);
        if (!actors.isEmpty()) {
            ruleActors.put(id, actors);
        }
        List<Limit> limits = limitList(child(path, "limits"), node.get("limits"), id);
        if (!limits.isEmpty()) {
            ruleLimits.put(id, limits);
        }
        if (section == Rule.Section.TOOLS && node.has("approval") && !deny) {
            readApproval(child(path, "approval"), node.get("approval"), id).ifPresent(a -> ruleApprovals.put(id, a));
        }
        Rule rule = new Rule(id, section, name, lines.lineOf(path), deny, scopes, roles, agents,
                constraints);
        return Optional.of(new RuleSet.Entry(rule, glob, order));
    }

    /**
     * Issue 17: {@code approval: { required, approvers: { roles, groups, claim }, count, expires, self-approval,
     * single-use, when, mask }}; empty when {@code required: false} or the mapping has problems (reported).
     */
    private Optional<ApprovalRule> readApproval(List<Object> path, JsonNode node, String ruleId) {
        int before = problems.size();
        if (node.isTextual() && node.textValue().equals("required")) {
            problem(path, "\"required\" (expected: a mapping naming the approvers, e.g."
                    + " { approvers: { roles: [finance-lead] }, expires: 15m })");
            return Optional.empty();
        }
        if (!node.isObject()) {
            expected(path, node, "a mapping: { approvers: { roles: [...], groups: [...] }, count, expires, self-approval,"
                    + " single-use, when, mask }");
            return Optional.empty();
        }
        onlyKeys(path, node, APPROVAL_KEYS);
        boolean required = bool(path, node, "required", true);
        Set<String> roles = Set.of();
        Set<String> groups = Set.of();
        String claim = null;
        JsonNode approvers = node.get("approvers");
        List<Object> approversPath = child(path, "approvers");
        if (approvers == null) {
            if (required) {
                problem(path, "no approvers (expected: approvers: { roles: [...] } or { groups: [...] }; nobody could approve)");
            }
        } else if (!approvers.isObject()) {
            expected(approversPath, approvers, "a mapping: { roles: [role names], groups: [group names], claim: roles claim }");
        } else {
            onlyKeys(approversPath, approvers, APPROVER_KEYS);
            roles = optionalStrings(approversPath, approvers, "roles", "a list of role names", "a role name",
                    s -> !s.isEmpty());
            groups = optionalStrings(approversPath, approvers, "groups", "a list of group names", "a group name",
                    s -> !s.isEmpty());
            JsonNode claimNode = approvers.get("claim");
            if (claimNode != null) {
                if (claimNode.isTextual() && claimNode.textValue().matches("[A-Za-z0-9_:/.-]+")
                        && !claimNode.textValue().startsWith(".") && !claimNode.textValue().endsWith(".")) {
                    claim = claimNode.textValue();
                } else {
                    expected(child(approversPath, "claim"), claimNode, "a claim name or dotted path, e.g. realm_access.roles");
                }
            }
            if (roles.isEmpty() && groups.isEmpty() && problems.size() == before) {
                problem(approversPath, "no roles or groups (expected: at least one; nobody could approve)");
            }
        }
        int count = 1;
        JsonNode countNode = node.get("count");
        if (countNode != null) {
            if (countNode.isIntegralNumber() && countNode.canConvertToInt() && countNode.intValue() >= 1
                    && countNode.intValue() <= ApprovalRule.MAX_COUNT) {
                count = countNode.intValue();
            } else {
                expected(child(path, "count"), countNode, "a whole number of distinct approvers, 1.." + ApprovalRule.MAX_COUNT);
            }
        }
        java.time.Duration expires = ApprovalRule.DEFAULT_EXPIRY;
        JsonNode expiresNode = node.get("expires");
        if (expiresNode != null) {
            Optional<java.time.Duration> parsed = expiresNode.isTextual() ? duration(expiresNode.textValue())
                    : Optional.empty();
            if (parsed.isPresent() && parsed.get().compareTo(ApprovalRule.MIN_EXPIRY) >= 0
                    && parsed.get().compareTo(ApprovalRule.MAX_EXPIRY) <= 0) {
                expires = parsed.get();
            } else {
                expected(child(path, "expires"), expiresNode, "a duration from 1s to 7d, such as 90s, 15m, 2h or 1d");
            }
        }
        boolean selfApproval = bool(path, node, "self-approval", false);
        boolean singleUse = bool(path, node, "single-use", true);
        List<ArgumentConstraint> when = new ArrayList<>();
        JsonNode whenNode = node.get("when");
        if (whenNode != null) {
            List<Object> whenPath = child(path, "when");
            if (whenNode.isObject()) {
                for (Map.Entry<String, JsonNode> entry : fields(whenNode)) {
                    if (entry.getValue().isObject() && entry.getValue().has("optional")) {
                        problem(child(whenPath, entry.getKey(), "optional"), "unknown key (in when, an argument the call"
                                + " does not send always counts as matching; expected one of: equals, max, max-length, min,"
                                + " one-of, pattern)");
                        continue;
                    }
                    readConstraint(child(whenPath, entry.getKey()), entry.getKey(), entry.getValue())
                            .ifPresent(c -> when.add(c.absentMatches()));
                }
                if (whenNode.isEmpty()) {
                    expected(whenPath, whenNode, "at least one argument condition; remove when to hold every call");
                }
            } else {
                expected(whenPath, whenNode, "a mapping of argument name to conditions, e.g. { amount: { min: 1000 } }");
            }
        }
        Set<String> mask = optionalStrings(path, node, "mask", "a list of argument paths (dotted, e.g. card.number)",
                "an argument name or dotted path", s -> !s.isEmpty() && !s.startsWith(".") && !s.endsWith(".")
                        && !s.contains(".."));
        if (problems.size() > before || !required) {
            return Optional.empty();
        }
        return Optional.of(new ApprovalRule(ruleId, roles, groups, claim, count, expires, selfApproval, singleUse, when,
                List.copyOf(mask)));
    }

    /** {@code 90s}, {@code 15m}, {@code 2h}, {@code 1d}. */
    static Optional<java.time.Duration> duration(String text) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("([1-9][0-9]{0,6})\\s*(s|m|h|d)").matcher(text.trim());
        if (!m.matches()) {
            return Optional.empty();
        }
        long n = Long.parseLong(m.group(1));
        return Optional.of(switch (m.group(2)) {
            case "s" -> java.time.Duration.ofSeconds(n);
            case "m" -> java.time.Duration.ofMinutes(n);
            case "h" -> java.time.Duration.ofHours(n);
            default -> java.time.Duration.ofDays(n);
        });
    }

    private boolean bool(List<Object> path, JsonNode node, String key, boolean otherwise) {
        JsonNode value = node.get(key);
        if (value == null) {
            return otherwise;
        }
        if (value.isBoolean()) {
            return value.booleanValue();
        }
        expected(child(path, key), value, "true or false");
        return otherwise;
    }

    /** Issue 18: {@code limits: { default: [...], fail: local|closed }}. */
    private Limits readLimits(JsonNode node) {
        if (node == null || node.isNull()) {
            return ruleLimits.isEmpty() ? Limits.NONE : new Limits(List.of(), ruleLimits, Limits.FailMode.LOCAL);
        }
        List<Object> path = List.of("limits");
        if (!node.isObject()) {
            expected(path, node, "a mapping: { default: [limits every allowed call counts against], fail: local or closed }");
            return Limits.NONE;
        }
        onlyKeys(path, node, List.of("default", "fail"));
        List<Limit> defaults = limitList(child(path, "default"), node.get("default"), "limits.default");
        Limits.FailMode fail = Limits.FailMode.LOCAL;
        JsonNode failNode = node.get("fail");
        if (failNode != null) {
            if (failNode.isTextual() && failNode.textValue().equals("closed")) {
                fail = Limits.FailMode.CLOSED;
            } else if (!(failNode.isTextual() && failNode.textValue().equals("local"))) {
                expected(child(path, "fail"), failNode, "local (each replica enforces its share of the limits) or closed"
                        + " (calls that count against a limit are refused while the shared store is down)");
            }
        }
        return new Limits(defaults, ruleLimits, fail);
    }

    /** A limit's text, or a list of them; each bad one is a problem naming its line. */
    private List<Limit> limitList(List<Object> path, JsonNode node, String ownerId) {
        List<Limit> out = new ArrayList<>();
        if (node == null) {
            return out;
        }
        if (node.isTextual()) {
            limit(path, node, ownerId + "#0").ifPresent(out::add);
            return out;
        }
        if (!node.isArray() || node.isEmpty()) {
            expected(path, node, Limit.EXPECTED + "; or a list of them");
            return out;
        }
        for (int i = 0; i < node.size(); i++) {
            limit(child(path, i), node.get(i), ownerId + "#" + i).ifPresent(out::add);
        }
        return out;
    }

    private Optional<Limit> limit(List<Object> path, JsonNode node, String id) {
        if (!node.isTextual()) {
            expected(path, node, Limit.EXPECTED);
            return Optional.empty();
        }
        try {
            return Optional.of(Limit.parse(id, node.textValue()));
        } catch (IllegalArgumentException e) {
            expected(path, node, Limit.EXPECTED + "; found " + e.getMessage());
            return Optional.empty();
        }
    }

    private List<ArgumentConstraint> readArguments(List<Object> path, JsonNode node) {
        List<ArgumentConstraint> out = new ArrayList<>();
        if (node == null) {
            return out;
        }
        if (!node.isObject()) {
            expected(path, node, "a mapping of argument name to checks, e.g. { limit: { max: 100 } }");
            return out;
        }
        for (Map.Entry<String, JsonNode> entry : fields(node)) {
            readConstraint(child(path, entry.getKey()), entry.getKey(), entry.getValue()).ifPresent(out::add);
        }
        return out;
    }

    private Optional<ArgumentConstraint> readConstraint(List<Object> path, String argument, JsonNode node) {
        int before = problems.size();
        for (String segment : argument.split("\\.", -1)) {
            if (segment.isEmpty()) {
                problem(path, "not a valid argument path (expected: an argument name or a dotted path such as options.limit)");
                return Optional.empty();
            }
        }
        if (!node.isObject()) {
            expected(path, node, "a mapping of checks: equals, one-of, min, max, pattern, max-length, optional");
            return Optional.empty();
        }
        onlyKeys(path, node, CONSTRAINT_KEYS);
        JsonNode equalTo = node.get("equals");
        if (equalTo != null && !JsonValues.isScalar(equalTo)) {
            expected(child(path, "equals"), equalTo, "a string, number or true/false");
        }
        List<JsonNode> oneOf = null;
        JsonNode oneOfNode = node.get("one-of");
        if (oneOfNode != null) {
            oneOf = new ArrayList<>();
            if (!oneOfNode.isArray() || oneOfNode.isEmpty()) {
                expected(child(path, "one-of"), oneOfNode, "a non-empty list of strings, numbers or true/false");
            } else {
                for (int i = 0; i < oneOfNode.size(); i++) {
                    if (JsonValues.isScalar(oneOfNode.get(i))) {
                        oneOf.add(oneOfNode.get(i));
                    } else {
                        expected(child(path, "one-of", i), oneOfNode.get(i), "a string, number or true/false");
                    }
                }
            }
        }
        BigDecimal min = number(child(path, "min"), node.get("min"));
        BigDecimal max = number(child(path, "max"), node.get("max"));
        if (min != null && max != null && min.compareTo(max) > 0) {
            expected(child(path, "max"), node.get("max"), "at least min " + min.toPlainString());
        }
        Pattern pattern = null;
        JsonNode patternNode = node.get("pattern");
        if (patternNode != null) {
            if (!patternNode.isTextual()) {
                expected(child(path, "pattern"), patternNode, "a Java regular expression in a string");
            } else {
                try {
                    pattern = Pattern.compile(patternNode.textValue());
                } catch (PatternSyntaxException e) {
                    expected(child(path, "pattern"), patternNode, "a Java regular expression; "
                            + e.getDescription() + " near index " + e.getIndex());
                }
            }
        }
        Integer maxLength = null;
        JsonNode maxLengthNode = node.get("max-length");
        if (maxLengthNode != null) {
            if (maxLengthNode.isIntegralNumber() && maxLengthNode.canConvertToInt() && maxLengthNode.intValue() >= 0) {
                maxLength = maxLengthNode.intValue();
            } else {
                expected(child(path, "max-length"), maxLengthNode, "a whole number, 0 or more");
            }
        }
        boolean optional = false;
        JsonNode optionalNode = node.get("optional");
        if (optionalNode != null) {
            if (optionalNode.isBoolean()) {
                optional = optionalNode.booleanValue();
            } else {
                expected(child(path, "optional"), optionalNode, "true or false");
            }
        }
        boolean numberChecks = node.has("min") || node.has("max");
        boolean stringChecks = node.has("pattern") || node.has("max-length");
        if (numberChecks && stringChecks) {
            problem(path, "number checks (min, max) and string checks (pattern, max-length) together can never pass"
                    + " (expected: one kind)");
        }
        if (problems.size() == before && !node.has("equals") && oneOfNode == null && !numberChecks && !stringChecks) {
            problem(path, "no checks (expected: at least one of equals, one-of, min, max, pattern, max-length)");
        }
        if (problems.size() > before) {
            return Optional.empty();
        }
        return Optional.of(new ArgumentConstraint(argument, equalTo, oneOf, min, max, pattern, maxLength, optional));
    }

    private BigDecimal number(List<Object> path, JsonNode node) {
        if (node == null) {
            return null;
        }
        Optional<BigDecimal> value = JsonValues.decimal(node);
        if (value.isEmpty()) {
            expected(path, node, "a number");
            return null;
        }
        return value.get();
    }

    private Set<String> optionalStrings(List<Object> rulePath, JsonNode rule, String key, String listExpectation,
                                        String elementExpectation, Predicate<String> valid) {
        JsonNode node = rule.get(key);
        return node == null ? Set.of()
                : strings(child(rulePath, key), node, listExpectation, elementExpectation, valid);
    }

    /** A list of strings, each checked; problems are reported and the bad elements dropped. */
    private Set<String> strings(List<Object> path, JsonNode node, String listExpectation, String elementExpectation,
                                Predicate<String> valid) {
        Set<String> out = new LinkedHashSet<>();
        if (!node.isArray()) {
            expected(path, node, listExpectation);
            return out;
        }
        for (int i = 0; i < node.size(); i++) {
            JsonNode element = node.get(i);
            if (element.isTextual() && valid.test(element.textValue())) {
                out.add(element.textValue());
            } else {
                expected(child(path, i), element, elementExpectation);
            }
        }
        return out;
    }

    /** RFC 6749 §3.3 scope-token: %x21 / %x23-5B / %x5D-7E, at least one. Safe inside a quoted challenge. */
    static boolean isScopeToken(String scope) {
        if (scope.isEmpty()) return false;
        for (int i = 0; i < scope.length(); i++) {
            char c = scope.charAt(i);
            if (c < 0x21 || c > 0x7e || c == '"' || c == '\\') return false;
        }
        return true;
    }

    private void onlyKeys(List<Object> path, JsonNode node, List<String> allowed) {
        for (Map.Entry<String, JsonNode> entry : fields(node)) {
            if (!allowed.contains(entry.getKey())) {
                problem(child(path, entry.getKey()), "unknown key (expected one of: "
                        + String.join(", ", allowed.stream().sorted().toList()) + ")");
            }
        }
    }

    private static List<Map.Entry<String, JsonNode>> fields(JsonNode node) {
        List<Map.Entry<String, JsonNode>> out = new ArrayList<>();
        out.addAll(node.properties());
        return out;
    }

    private void expected(List<Object> path, JsonNode value, String expectation) {
        String hint = value != null && value.isBoolean() && !expectation.contains("true")
                ? "; unquoted yes, no, on and off are true/false in YAML, so quote them" : "";
        problem(path, shown(value) + " (expected: " + expectation + hint + ")");
    }

    private void problem(List<Object> path, String message) {
        String field = path.isEmpty() ? "" : Text.path(path) + ": ";
        int line = Math.max(1, lines.lineOf(path));
        problems.add(new Problem(line, source + ":" + line + ": " + field + message));
    }

    static String shown(JsonNode value) {
        if (value == null || value.isNull() || value.isMissingNode()) return "no value";
        if (value.isTextual()) return Text.quoted(value.textValue());
        if (value.isArray()) return value.isEmpty() ? "an empty list" : "a list";
        if (value.isObject()) return value.isEmpty() ? "an empty mapping" : "a mapping";
        return value.asText();
    }

    private static List<Object> child(List<Object> path, Object... more) {
        List<Object> out = new ArrayList<>(path);
        out.addAll(List.of(more));
        return List.copyOf(out);
    }
}
