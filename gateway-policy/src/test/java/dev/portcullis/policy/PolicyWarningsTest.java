package dev.portcullis.policy;

import static dev.portcullis.policy.Policies.caller;
import static dev.portcullis.policy.Policies.loaded;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;

/** What loads but is probably a mistake: one warning each, with file, line and field. */
class PolicyWarningsTest {

    private static List<String> warnings(String yaml) {
        return loaded(yaml).warnings().stream().map(PolicyWarning::toString).toList();
    }

    @Test
    void aCleanFileHasNoWarnings() {
        assertThat(warnings("""
                default: deny
                agents: { allow: [ide] }
                tools:
                  a: { scopes: [x], agents: [ide] }
                  "export_*": {}
                  "*": { deny: true }
                resources:
                  "file:///ws/**": {}
                methods:
                  tools/list: { scopes: [x] }
                """)).isEmpty();
    }

    /**
     * Issue 12 item 12: a rule written twice was only a warning and the later (here: more permissive)
     * rule won. It is an error naming both lines; nothing is loaded.
     */
    @Test
    void aKeyWrittenTwiceIsAnErrorNotAWarningWhereTheMorePermissiveRuleWins() {
        assertThatThrownBy(() -> PolicyLoader.parse("""
                tools:
                  delete_todo: { roles: [admin] }
                  list_todos: {}
                  delete_todo: { scopes: [todo:write] }
                methods:
                  tools/list: {}
                  tools/list: { deny: true }
                """, "test.yaml"))
                .isInstanceOf(InvalidPolicyException.class)
                .hasMessage("test.yaml:4: tools.delete_todo: written twice in one mapping (first at line 2; expected: each key once)\n"
                        + "test.yaml:7: methods.\"tools/list\": written twice in one mapping (first at line 6; expected: each key once)");
        assertThatThrownBy(() -> PolicyLoader.parse("""
                tools:
                  t: { scopes: [a], scopes: [b] }
                """, "test.yaml")).hasMessageContaining("test.yaml:2: tools.t.scopes: written twice");
    }

    @Test
    void defaultAllowWarns() {
        assertThat(warnings("default: allow\n")).containsExactly("test.yaml:1: default: allow admits every tool, resource,"
                + " prompt and method that no rule names, including ones the server adds later (deny is safer: POLICY-03)");
    }

    @Test
    void twoGlobsOfEqualSpecificityThatOverlapWarn() {
        assertThat(warnings("""
                tools:
                  "exp*": { scopes: [a] }
                  "*csv": { scopes: [b] }
                  "abc?": { scopes: [c] }
                """)).containsExactly("test.yaml:3: tools.\"*csv\": ties with tools.\"exp*\" (line 2): both can match the"
                + " same tool with equal specificity, and the one written first wins");
    }

    @Test
    void globsOfEqualSpecificityThatCannotOverlapDoNotWarn() {
        assertThat(warnings("tools:\n  \"read_*\": {}\n  \"list_*\": {}\n")).isEmpty();
        assertThat(warnings("resources:\n  \"file:///a/*\": {}\n  \"file:///a/**\": {}\n")).as("* beats **").isEmpty();
    }

    @Test
    void aRuleAgentOutsideTheServerWideListWarns() {
        assertThat(warnings("""
                agents: { allow: [ide] }
                tools:
                  export:
                    agents: [ide, reporting-bot]
                """)).containsExactly("test.yaml:4: tools.export.agents: \"reporting-bot\" is not in agents.allow, so the"
                + " gateway refuses it before this rule is consulted");
    }

    @Test
    void aMethodRuleForAToolsCallNeverApplies() {
        assertThat(warnings("methods:\n  tools/call: { roles: [admin] }\n")).containsExactly(
                "test.yaml:2: methods.\"tools/call\": tools/call is decided by the tools rules; this rule is never used");
        assertThat(warnings("methods:\n  resources/read: {}\n")).containsExactly(
                "test.yaml:2: methods.\"resources/read\": resources/read is decided by the resources rules; this rule is never used");
    }

    @Test
    void restrictingPingOrInitializeWarns() {
        assertThat(warnings("methods:\n  ping: { roles: [admin] }\n  initialize: { deny: true }\n  tools/list: {}\n"))
                .containsExactly(
                        "test.yaml:2: methods.ping: restricts ping: clients refused here cannot use the server at all and"
                                + " ping must always be answered (JSONRPC-07)",
                        "test.yaml:3: methods.initialize: restricts initialize: clients refused here cannot use the server"
                                + " at all; agents.allow is the usual way to limit who may connect");
    }

    @Test
    void aResourcePatternWithoutASchemeCanNeverMatch() {
        assertThat(warnings("resources:\n  \"/public/**\": {}\n  \"file*\": {}\n  \"**\": {}\n  \"x:y\": {}\n")).containsExactly(
                "test.yaml:2: resources.\"/public/**\": a resource URI starts with a scheme such as file: or https:, so"
                        + " this pattern can never match");
        assertThat(warnings("resources:\n  \"public\": {}\n")).hasSize(1);
    }

    @Test
    void warningsComeInLineOrder() {
        assertThat(loaded("""
                default: allow
                methods:
                  tools/call: {}
                resources:
                  "/x": {}
                """).warnings()).extracting(PolicyWarning::line).containsExactly(1, 3, 5);
    }
}
