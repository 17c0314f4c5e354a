package dev.portcullis.policy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every kind of mistake in a policy file is an error naming file, line and field, and what was expected. */
class PolicyLoaderErrorsTest {

    private static void assertError(String yaml, String message) {
        assertThatThrownBy(() -> PolicyLoader.parse(yaml, "todo.yaml"))
                .isInstanceOfSatisfying(InvalidPolicyException.class,
                        e -> assertThat(e.problems()).containsExactly(message));
    }

    @Test
    void rolesAsAStringInsteadOfAList() {
        assertError("""
                default: deny
                tools:
                  delete_todo:
                    scopes: [todo:write]
                    roles: admin
                """, "todo.yaml:5: tools.delete_todo.roles: \"admin\" (expected: a list of role names)");
    }

    @Test
    void unknownTopLevelKey() {
        assertError("default: deny\ntool: {}\n",
                "todo.yaml:2: tool: unknown key (expected one of: agents, default, delegation, limits, methods, prompts, resources, scopes, tools)");
    }

    @Test
    void unknownRuleKey() {
        assertError("tools:\n  a: { role: [admin] }\n",
                "todo.yaml:2: tools.a.role: unknown key (expected one of: actors, agents, approval, arguments, deny, limits,"
                        + " roles, scopes)");
    }

    @Test
    void approvalRequiredWithoutApproversNamesTheMissingField() {
        // Issue 17: the shorthand of the issue text names nobody who could approve: refused, naming the line.
        assertError("tools:\n  pay: { approval: required }\n",
                "todo.yaml:2: tools.pay.approval: \"required\" (expected: a mapping naming the approvers, e.g."
                        + " { approvers: { roles: [finance-lead] }, expires: 15m })");
    }

    @Test
    void defaultOtherThanDenyOrAllow() {
        assertError("default: never\n", "todo.yaml:1: default: \"never\" (expected: deny or allow)");
    }

    @Test
    void yamlReadsAnUnquotedNoAsFalseAndTheMessageSaysSo() {
        assertError("default: no\n", "todo.yaml:1: default: false (expected: deny or allow; unquoted yes, no, on and off"
                + " are true/false in YAML, so quote them)");
    }

    @Test
    void emptyScopeString() {
        assertError("tools:\n  a: { scopes: [\"\"] }\n",
                "todo.yaml:2: tools.a.scopes[0]: \"\" (expected: a scope token: printable ASCII without spaces, quotes or backslashes)");
    }

    @Test
    void scopeWithASpaceWouldBreakTheChallengeHeader() {
        assertError("tools:\n  a:\n    scopes:\n      - todo:read\n      - \"todo:write todo:admin\"\n",
                "todo.yaml:5: tools.a.scopes[1]: \"todo:write todo:admin\" (expected: a scope token: printable ASCII"
                        + " without spaces, quotes or backslashes)");
    }

    @Test
    void scopesNotAList() {
        assertError("tools:\n  a: { scopes: todo:read }\n",
                "todo.yaml:2: tools.a.scopes: \"todo:read\" (expected: a list of scopes)");
    }

    @Test
    void emptyRoleName() {
        assertError("tools:\n  a: { roles: [\"\"] }\n", "todo.yaml:2: tools.a.roles[0]: \"\" (expected: a role name)");
    }

    @Test
    void agentsNotAList() {
        assertError("tools:\n  a: { agents: bot }\n",
                "todo.yaml:2: tools.a.agents: \"bot\" (expected: a list of agent ids (client_id))");
    }

    @Test
    void denyNotABoolean() {
        assertError("tools:\n  a: { deny: \"yes\" }\n", "todo.yaml:2: tools.a.deny: \"yes\" (expected: true or false)");
    }

    @Test
    void denyCombinedWithOtherChecks() {
        assertError("tools:\n  a: { deny: true, scopes: [x] }\n",
                "todo.yaml:2: tools.a.deny: true (expected: deny alone; a denying rule has no scopes, roles, agents, arguments or approval)");
    }

    @Test
    void ruleWithoutABody() {
        assertError("tools:\n  list_todos:\n",
                "todo.yaml:2: tools.list_todos: no value (expected: a rule mapping, e.g. { scopes: [...] }, or {} for any"
                        + " authenticated caller)");
    }

    @Test
    void sectionNotAMapping() {
        assertError("prompts: [summarize]\n",
                "todo.yaml:1: prompts: a list (expected: a mapping of prompt name or glob to rule)");
    }

    @Test
    void toolGlobWithDoubleStar() {
        assertError("tools:\n  \"export_**\": {}\n",
                "todo.yaml:2: tools.\"export_**\": not a valid tool pattern (expected: * or ? in a name; ** is for resource URIs)");
    }

    @Test
    void resourceGlobWithTripleStar() {
        assertError("resources:\n  \"file:///***\": {}\n",
                "todo.yaml:2: resources.\"file:///***\": not a valid resource pattern (expected: * within a path segment"
                        + " or ** across segments, not ***)");
    }

    @Test
    void emptyName() {
        assertError("methods:\n  \"\": {}\n",
                "todo.yaml:2: methods.\"\": not a valid method pattern (expected: a name or a glob with * and ?)");
    }

    @Test
    void argumentsOnAResourceRule() {
        assertError("resources:\n  \"file:///x\": { arguments: { a: { max: 1 } } }\n",
                "todo.yaml:2: resources.\"file:///x\".arguments: unknown key (arguments apply to tools and prompts only;"
                        + " expected one of: actors, agents, deny, limits, roles, scopes)");
    }

    @Test
    void argumentsNotAMapping() {
        assertError("tools:\n  a: { arguments: [limit] }\n",
                "todo.yaml:2: tools.a.arguments: a list (expected: a mapping of argument name to checks, e.g. { limit: { max: 100 } })");
    }

    @Test
    void argumentPathWithAnEmptySegment() {
        assertError("tools:\n  a:\n    arguments:\n      \"options..limit\": { max: 1 }\n",
                "todo.yaml:4: tools.a.arguments.\"options..limit\": not a valid argument path (expected: an argument name"
                        + " or a dotted path such as options.limit)");
    }

    @Test
    void maxOnSomethingThatIsNotANumber() {
        assertError("tools:\n  a:\n    arguments:\n      limit: { max: \"1000\" }\n",
                "todo.yaml:4: tools.a.arguments.limit.max: \"1000\" (expected: a number)");
    }

    @Test
    void minAboveMax() {
        assertError("tools:\n  a:\n    arguments:\n      limit: { min: 10, max: 5 }\n",
                "todo.yaml:4: tools.a.arguments.limit.max: 5 (expected: at least min 10)");
    }

    @Test
    void patternThatDoesNotCompile() {
        assertError("tools:\n  a:\n    arguments:\n      path: { pattern: \"/ws/(\" }\n",
                "todo.yaml:4: tools.a.arguments.path.pattern: \"/ws/(\" (expected: a Java regular expression;"
                        + " Unclosed group near index 5)");
    }

    @Test
    void maxLengthNegative() {
        assertError("tools:\n  a:\n    arguments:\n      title: { max-length: -1 }\n",
                "todo.yaml:4: tools.a.arguments.title.max-length: -1 (expected: a whole number, 0 or more)");
    }

    @Test
    void oneOfEmpty() {
        assertError("tools:\n  a:\n    arguments:\n      format: { one-of: [] }\n",
                "todo.yaml:4: tools.a.arguments.format.one-of: an empty list (expected: a non-empty list of strings,"
                        + " numbers or true/false)");
    }

    @Test
    void oneOfWithAMappingInside() {
        assertError("tools:\n  a:\n    arguments:\n      format:\n        one-of:\n          - csv\n          - { x: 1 }\n",
                "todo.yaml:7: tools.a.arguments.format.one-of[1]: a mapping (expected: a string, number or true/false)");
    }

    @Test
    void equalsAList() {
        assertError("tools:\n  a:\n    arguments:\n      mode: { equals: [fast] }\n",
                "todo.yaml:4: tools.a.arguments.mode.equals: a list (expected: a string, number or true/false)");
    }

    @Test
    void optionalNotABoolean() {
        assertError("tools:\n  a:\n    arguments:\n      mode: { equals: fast, optional: \"no\" }\n",
                "todo.yaml:4: tools.a.arguments.mode.optional: \"no\" (expected: true or false)");
    }

    @Test
    void constraintWithoutAnyCheck() {
        assertError("tools:\n  a:\n    arguments:\n      mode: { optional: true }\n",
                "todo.yaml:4: tools.a.arguments.mode: no checks (expected: at least one of equals, one-of, min, max,"
                        + " pattern, max-length)");
    }

    @Test
    void numberAndStringChecksOnOneArgument() {
        assertError("tools:\n  a:\n    arguments:\n      limit: { max: 5, pattern: \"[0-9]+\" }\n",
                "todo.yaml:4: tools.a.arguments.limit: number checks (min, max) and string checks (pattern, max-length)"
                        + " together can never pass (expected: one kind)");
    }

    @Test
    void unknownConstraintKey() {
        assertError("tools:\n  a:\n    arguments:\n      limit: { maximum: 5 }\n",
                "todo.yaml:4: tools.a.arguments.limit.maximum: unknown key (expected one of: equals, max, max-length, min,"
                        + " one-of, optional, pattern)");
    }

    @Test
    void agentsAllowEmpty() {
        assertError("agents:\n  allow: []\n",
                "todo.yaml:2: agents.allow: an empty list (expected: at least one agent id; remove agents to admit any agent)");
    }

    @Test
    void agentsAsAPlainList() {
        assertError("agents: [finance-bot]\n", "todo.yaml:1: agents: a list (expected: a mapping: { allow: [agent ids] })");
    }

    @Test
    void agentsWithoutAllow() {
        assertError("agents: {}\n",
                "todo.yaml:1: agents: no allow list (expected: allow: [agent ids]; remove agents to admit any agent)");
    }

    @Test
    void impliesKeyThatIsNotAScopeToken() {
        assertError("scopes:\n  implies:\n    \"todo admin\": [todo:write]\n",
                "todo.yaml:3: scopes.implies.\"todo admin\": not a scope token (expected: printable ASCII without spaces,"
                        + " quotes or backslashes)");
    }

    @Test
    void impliesValueNotAList() {
        assertError("scopes:\n  implies:\n    todo:admin: todo:write\n",
                "todo.yaml:3: scopes.implies.\"todo:admin\": \"todo:write\" (expected: a list of the scopes todo:admin implies)");
    }

    @Test
    void notValidYaml() {
        assertThatThrownBy(() -> PolicyLoader.parse("tools:\n  a: { scopes: [x }\n", "todo.yaml"))
                .isInstanceOf(InvalidPolicyException.class)
                .hasMessage("todo.yaml:2: not valid YAML (expected ',' or ']', but got })");
    }

    @Test
    void unquotedStarIsAYamlAliasAndTheMessageSaysToQuoteIt() {
        assertError("tools:\n  *: { deny: true }\n", "todo.yaml:2: not valid YAML (unexpected character found :(58);"
                + " a name starting with * must be quoted, e.g. \"*\" or \"*_csv\")");
    }

    @Test
    void anchorsAndAliasesAreRefused() {
        assertError("tools:\n  a: &reader { scopes: [r] }\n  b: *reader\n",
                "todo.yaml:3: tools.b: YAML alias *reader (expected: the value written out; anchors and aliases are not supported)");
    }

    @Test
    void moreThanOneDocument() {
        assertError("tools: {}\n---\ntools: {}\n",
                "todo.yaml:3: not valid YAML (more than one document (expected: one policy per file))");
    }

    @Test
    void emptyFile() {
        assertError("# nothing yet\n", "todo.yaml: is empty (expected: a mapping with default, agents, scopes, tools,"
                + " resources, prompts, methods)");
    }

    @Test
    void topLevelNotAMapping() {
        assertError("- tools\n", "todo.yaml:1: a list (expected: a mapping with default, agents, scopes, tools, resources,"
                + " prompts, methods)");
    }

    @Test
    void everyProblemIsReportedAtOnceInLineOrder() {
        assertThatThrownBy(() -> PolicyLoader.parse("""
                tools:
                  a: { roles: admin }
                  b: { scopes: [""] }
                default: sometimes
                """, "todo.yaml"))
                .isInstanceOfSatisfying(InvalidPolicyException.class, e -> {
                    assertThat(e.problems()).extracting(p -> p.split(": ")[0] + ": " + p.split(": ")[1])
                            .containsExactly("todo.yaml:2: tools.a.roles", "todo.yaml:3: tools.b.scopes[0]", "todo.yaml:4: default");
                    assertThat(e.getMessage()).contains("\n");
                });
    }

    @Test
    void loadNamesTheFileAsGiven(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("todo.yaml");
        Files.writeString(file, "tools:\n  a: { roles: admin }\n");
        assertThatThrownBy(() -> PolicyLoader.load(file))
                .hasMessage(file + ":2: tools.a.roles: \"admin\" (expected: a list of role names)");
    }

    @Test
    void unreadableFile(@TempDir Path dir) {
        Path missing = dir.resolve("missing.yaml");
        assertThatThrownBy(() -> PolicyLoader.load(missing))
                .isInstanceOf(InvalidPolicyException.class)
                .hasMessage(missing + ": cannot be read (NoSuchFileException)");
    }

    @Test
    void aKeyWithDotsIsOneSegmentInTheFieldPath() {
        assertError("tools:\n  github.create_issue: { roles: admin }\n",
                "todo.yaml:2: tools.\"github.create_issue\".roles: \"admin\" (expected: a list of role names)");
    }
}
