package dev.portcullis.policy;

import static dev.portcullis.policy.Policies.loaded;
import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class ExplainTest {
    private static final LoadedPolicy TODO = loaded("""
            agents: { allow: [ide, reporting-bot] }
            scopes:
              implies: { "todo:admin": ["todo:write"] }
            tools:
              delete_todo: { scopes: [todo:write, todo:delete], roles: [admin] }
              "export_*":
                scopes: [todo:read]
                agents: [reporting-bot, other-bot]
                arguments: { limit: { max: 1000 } }
            """);

    @Test
    void explainsAStepUpWithTheRuleItsLineAndTheMissingScopes() {
        Subject subject = SubjectClaims.fromJson("""
                {"iss":"https://idp.example.com","sub":"alice","client_id":"ide","scope":"todo:admin","roles":["admin"]}
                """);
        assertThat(Explain.explain(TODO, subject, Policies.tool("delete_todo"))).isEqualTo("""
                operation:       tools/call "delete_todo"
                caller:          sub "alice", agent "ide", iss "https://idp.example.com"
                scopes:          todo:admin
                                 with implied: todo:admin, todo:write
                roles:           admin
                decision:        STEP_UP (403 insufficient_scope: the client can obtain the missing scopes and retry)
                rule:            tools.delete_todo (test.yaml:5)
                reason:          tool "delete_todo" requires scopes todo:delete, todo:write (missing: todo:delete)
                rule requires:   all of scopes todo:delete, todo:write; any of roles admin
                missing scopes:  todo:delete
                listed:          no, hidden from tools/list
                """);
    }

    @Test
    void explainsAnAllowWithTheScopesTheUpstreamTokenNeeds() {
        Subject subject = Policies.caller("reporting-bot", "todo:read", "");
        String text = Explain.explain(TODO, subject, Policies.tool("export_csv", "{\"limit\":10}"));
        assertThat(text)
                .contains("arguments:       {\"limit\":10}\n")
                .contains("decision:        ALLOW (forwarded)\n")
                .contains("rule:            tools.\"export_*\" (test.yaml:6)\n")
                .contains("                 argument limit: max 1000\n")
                .contains("upstream scopes: todo:read (the exchanged token needs only these)\n")
                .contains("listed:          yes, shown in tools/list\n");
    }

    @Test
    void explainsAVisibleArgumentDenialAndTheWarningsAboutTheRule() {
        Subject subject = Policies.caller("reporting-bot", "todo:read", "");
        String text = Explain.explain(TODO, subject, Policies.tool("export_csv", "{\"limit\":5000}"));
        assertThat(text)
                .contains("decision:        DENY (visible: answered \"Denied by gateway policy\")\n")
                .contains("reason:          tool \"export_csv\": argument limit is above max 1000\n")
                .contains("warning:         test.yaml:8: tools.\"export_*\".agents: \"other-bot\" is not in agents.allow");
    }

    @Test
    void explainsAHiddenDenialByTheDefault() {
        String text = Explain.explain(TODO, Policies.caller("ide", "", ""), Policies.tool("drop_all"));
        assertThat(text)
                .contains("decision:        DENY (hidden: answered as if it did not exist, -32602 Unknown tool)\n")
                .contains("rule:            default\n")
                .contains("reason:          no rule covers tool \"drop_all\"; default is deny\n");
    }

    @Test
    void explainingTwiceGivesTheSameText() {
        Subject subject = Policies.caller("ide", "todo:read todo:write", "admin user");
        Operation operation = Policies.tool("delete_todo");
        assertThat(Explain.explain(TODO, subject, operation)).isEqualTo(Explain.explain(TODO, subject, operation));
    }

    /** Issue 17: explain says what run does: a call the rule holds is not "forwarded" until someone approves it. */
    @Test
    void explainsACallHeldForApprovalAndOneWhoseArgumentsNeedNone() {
        LoadedPolicy pay = loaded("""
                tools:
                  pay:
                    approval:
                      approvers: { roles: [finance-lead] }
                      when: { amount: { min: 1000 } }
                """);
        Subject subject = Policies.caller("ide", "", "");
        assertThat(Explain.explain(pay, subject, Policies.tool("pay", "{\"amount\":5000}")))
                .contains("decision:        ALLOW (held for approval: the call reaches the upstream only once approved)\n")
                .contains("approval:        1 of roles finance-lead, expires 900s, single-use, when ");
        assertThat(Explain.explain(pay, subject, Policies.tool("pay", "{\"amount\":10}")))
                .contains("decision:        ALLOW (forwarded)\n")
                .contains("approval:        not needed for these arguments; the rule asks 1 of roles finance-lead");
    }
}
