package dev.portcullis.policy;

import static dev.portcullis.policy.Policies.caller;
import static dev.portcullis.policy.Policies.policy;
import static dev.portcullis.policy.Policies.tool;
import static org.assertj.core.api.Assertions.assertThat;

import dev.portcullis.policy.Decision.Outcome;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** Decisions of a loaded policy, rule kind by rule kind, in the documented order. */
class PolicyDecisionTest {

    private static final CompiledPolicy TODO = policy("""
            default: deny
            scopes:
              implies: { "todo:admin": ["todo:write", "todo:read"], "todo:write": ["todo:read"] }
            tools:
              list_todos:  { scopes: [todo:read] }
              create_todo: { scopes: [todo:write] }
              delete_todo: { scopes: [todo:write], roles: [admin, owner] }
              sync_todos:  { scopes: [todo:read, todo:sync] }
              report_todos: { agents: [reporting-bot] }
              ping_todos:  {}
              drop_all:    { deny: true }
              "export_*":  { scopes: [todo:export], arguments: { limit: { max: 1000 } } }
            resources:
              "file:///public/**": { scopes: [files:read] }
            prompts:
              summarize: { scopes: [todo:read] }
            methods:
              completion/complete: { scopes: [todo:read] }
              logging/setLevel: { roles: [admin] }
            """);

    // --- tools: scopes, roles, agents, deny, {} ---

    @Test
    void toolWithItsScopeIsAllowedAndTheDecisionCarriesTheRuleScopes() {
        Decision decision = TODO.decide(caller("todo:read"), tool("list_todos"));
        assertThat(decision.outcome()).isEqualTo(Outcome.ALLOW);
        assertThat(decision.ruleId()).isEqualTo("tools.list_todos");
        assertThat(decision.requiredScopes()).containsExactly("todo:read");
        assertThat(decision.reason()).isEqualTo("tool \"list_todos\" is allowed by tools.list_todos");
    }

    @Test
    void challenge04MissingScopeIsAStepUpNamingIt() {
        Decision decision = TODO.decide(caller("todo:read"), tool("create_todo"));
        assertThat(decision.outcome()).isEqualTo(Outcome.STEP_UP);
        assertThat(decision.requiredScopes()).containsExactly("todo:write");
        assertThat(decision.reason()).isEqualTo("tool \"create_todo\" requires scope todo:write (missing: todo:write)");
    }

    @Test
    void v2638ScopesAreAllOfAndAStepUpNamesEveryMissingScopeAtOnce() {
        Decision none = TODO.decide(caller(""), tool("sync_todos"));
        assertThat(none.outcome()).isEqualTo(Outcome.STEP_UP);
        assertThat(none.requiredScopes()).containsExactlyInAnyOrder("todo:read", "todo:sync");
        Decision one = TODO.decide(caller("todo:read"), tool("sync_todos"));
        assertThat(one.requiredScopes()).containsExactly("todo:sync");
        assertThat(TODO.decide(caller("todo:read todo:sync"), tool("sync_todos")).allowed()).isTrue();
    }

    @Test
    void v2639ABroaderScopeFromTheHierarchySatisfiesTheRule() {
        Decision decision = TODO.decide(caller("todo:admin"), tool("create_todo"));
        assertThat(decision.allowed()).isTrue();
        // The exchange narrows to what the rule asked for, not to the broader scope held.
        assertThat(decision.requiredScopes()).containsExactly("todo:write");
        assertThat(TODO.decide(caller("todo:write"), tool("list_todos")).allowed()).isTrue();
    }

    @Test
    void authn12ScopesCompareCaseSensitively() {
        assertThat(TODO.decide(caller("TODO:READ"), tool("list_todos")).outcome()).isEqualTo(Outcome.STEP_UP);
    }

    @Test
    void rolesAreAnyOfAndAMissingRoleIsAHiddenDenialNotAStepUp() {
        Decision noRole = TODO.decide(caller("agent-1", "todo:write", "viewer"), tool("delete_todo"));
        assertThat(noRole.outcome()).isEqualTo(Outcome.DENY);
        assertThat(noRole.hidden()).isTrue();
        assertThat(noRole.reason()).isEqualTo("tool \"delete_todo\" requires one of roles admin, owner");
        assertThat(TODO.decide(caller("agent-1", "todo:write", "owner"), tool("delete_todo")).allowed()).isTrue();
    }

    @Test
    void rolesAreCheckedBeforeScopesSoNoStepUpIsOfferedThatCouldNotHelp() {
        Decision decision = TODO.decide(caller("agent-1", "", "viewer"), tool("delete_todo"));
        assertThat(decision.outcome()).isEqualTo(Outcome.DENY);
    }

    @Test
    void ruleAgentsLimitWhichClientsMayUseTheTool() {
        assertThat(TODO.decide(caller("reporting-bot", "", ""), tool("report_todos")).allowed()).isTrue();
        Decision other = TODO.decide(caller("chat-bot", "", ""), tool("report_todos"));
        assertThat(other.outcome()).isEqualTo(Outcome.DENY);
        assertThat(other.reason()).contains("is limited to agent reporting-bot");
    }

    @Test
    void anEmptyRuleAdmitsAnyAuthenticatedCaller() {
        Decision decision = TODO.decide(caller(""), tool("ping_todos"));
        assertThat(decision.allowed()).isTrue();
        assertThat(decision.requiredScopes()).isEmpty();
    }

    @Test
    void denyTrueRefusesEveryoneEvenWithEveryScopeAndRole() {
        Decision decision = TODO.decide(caller("agent-1", "todo:admin", "admin"), tool("drop_all"));
        assertThat(decision.outcome()).isEqualTo(Outcome.DENY);
        assertThat(decision.ruleId()).isEqualTo("tools.drop_all");
        assertThat(decision.hidden()).isTrue();
    }

    // --- default, POLICY-03, POLICY-04 ---

    @Test
    void policy03UncoveredToolFallsToDefaultDeny() {
        Decision decision = TODO.decide(caller("todo:admin"), tool("rename_todo"));
        assertThat(decision.outcome()).isEqualTo(Outcome.DENY);
        assertThat(decision.ruleId()).isEqualTo("default");
        assertThat(decision.hidden()).isTrue();
        assertThat(decision.reason()).isEqualTo("no rule covers tool \"rename_todo\"; default is deny");
    }

    @Test
    void policy03NameThatDiffersOnlyInCaseIsNotCoveredByTheRule() {
        CompiledPolicy files = policy("""
                default: allow
                tools:
                  delete_file: { roles: [admin] }
                """);
        Subject user = caller("agent-1", "", "user");
        assertThat(files.decide(user, tool("delete_file")).outcome()).isEqualTo(Outcome.DENY);
        Decision decision = files.decide(user, tool("Delete_File"));
        assertThat(decision.ruleId()).isEqualTo("default");
        assertThat(decision.allowed()).isTrue();
    }

    @Test
    void absentDefaultMeansDeny() {
        CompiledPolicy minimal = policy("tools: { a: {} }");
        assertThat(minimal.defaultAllows()).isFalse();
        assertThat(minimal.decide(caller(""), tool("b")).outcome()).isEqualTo(Outcome.DENY);
    }

    @Test
    void defaultAllowAdmitsUncoveredToolsResourcesPromptsAndMethods() {
        CompiledPolicy open = policy("default: allow");
        assertThat(open.decide(caller(""), tool("anything")).allowed()).isTrue();
        assertThat(open.decide(caller(""), Operation.resourceRead("file:///x")).allowed()).isTrue();
        assertThat(open.decide(caller(""), Operation.promptGet("p", null)).allowed()).isTrue();
        assertThat(open.decide(caller(""), Operation.method("tasks/list")).allowed()).isTrue();
    }

    @Test
    void policy04ProtocolPlumbingIsAllowedToAnyAuthenticatedCaller() {
        for (String method : new String[] {"initialize", "ping", "notifications/initialized",
                "notifications/cancelled", "tools/list", "resources/list", "resources/templates/list", "prompts/list"}) {
            Decision decision = TODO.decide(caller(""), Operation.method(method));
            assertThat(decision.allowed()).as(method).isTrue();
            assertThat(decision.ruleId()).isEqualTo("plumbing");
        }
        assertThat(TODO.decide(caller(""), Operation.method("")).allowed()).as("a response").isTrue();
    }

    @Test
    void policy04UnknownMethodUnderDefaultDenyIsDeniedAndHidden() {
        Decision decision = TODO.decide(caller("todo:admin"), Operation.method("tasks/cancel"));
        assertThat(decision.outcome()).isEqualTo(Outcome.DENY);
        assertThat(decision.hidden()).isTrue();
        assertThat(decision.reason()).isEqualTo("no rule covers method \"tasks/cancel\"; default is deny");
    }

    @Test
    void policy04OtherMethodsAreDecidedByMethodRules() {
        assertThat(TODO.decide(caller("todo:read"), Operation.method("completion/complete")).allowed()).isTrue();
        assertThat(TODO.decide(caller(""), Operation.method("completion/complete")).outcome()).isEqualTo(Outcome.STEP_UP);
        assertThat(TODO.decide(caller("agent-1", "", "admin"), Operation.method("logging/setLevel")).allowed()).isTrue();
        Decision decision = TODO.decide(caller("agent-1", "", "user"), Operation.method("logging/setLevel"));
        assertThat(decision.outcome()).isEqualTo(Outcome.DENY);
        assertThat(decision.ruleId()).isEqualTo("methods.\"logging/setLevel\"");
    }

    @Test
    void plumbingCanBeRestrictedByNamingItExactlyButNotByAGlob() {
        CompiledPolicy restricted = policy("""
                methods:
                  tools/list: { roles: [admin] }
                  "*": { deny: true }
                """);
        assertThat(restricted.decide(caller(""), Operation.method("tools/list")).outcome()).isEqualTo(Outcome.DENY);
        assertThat(restricted.decide(caller("agent-1", "", "admin"), Operation.method("tools/list")).allowed()).isTrue();
        assertThat(restricted.decide(caller(""), Operation.method("ping")).allowed()).isTrue();
        assertThat(restricted.decide(caller(""), Operation.method("initialize")).allowed()).isTrue();
        Decision other = restricted.decide(caller(""), Operation.method("completion/complete"));
        assertThat(other.outcome()).isEqualTo(Outcome.DENY);
        assertThat(other.ruleId()).isEqualTo("methods.\"*\"");
    }

    @Test
    void methodGlobsMatchFamiliesOfMethods() {
        CompiledPolicy tasks = policy("methods: { \"tasks/*\": { scopes: [tasks] } }");
        assertThat(tasks.decide(caller("tasks"), Operation.method("tasks/get")).allowed()).isTrue();
        assertThat(tasks.decide(caller("tasks"), Operation.method("tasks/result")).ruleId()).isEqualTo("methods.\"tasks/*\"");
        assertThat(tasks.decide(caller("tasks"), Operation.method("sampling/createMessage")).outcome()).isEqualTo(Outcome.DENY);
    }

    // --- resources and prompts ---

    @Test
    void resourceReadSubscribeAndUnsubscribeAreDecidedByResourceRulesOnTheUri() {
        for (String method : new String[] {"resources/read", "resources/subscribe", "resources/unsubscribe"}) {
            Operation inside = new Operation(method, Optional.of("file:///public/docs/a.md"));
            assertThat(TODO.decide(caller("files:read"), inside).allowed()).as(method).isTrue();
            assertThat(TODO.decide(caller(""), inside).outcome()).as(method).isEqualTo(Outcome.STEP_UP);
            Operation outside = new Operation(method, Optional.of("file:///etc/passwd"));
            assertThat(TODO.decide(caller("files:read"), outside).ruleId()).as(method).isEqualTo("default");
        }
    }

    @Test
    void promptGetIsDecidedByPromptRules() {
        assertThat(TODO.decide(caller("todo:read"), Operation.promptGet("summarize", null)).allowed()).isTrue();
        assertThat(TODO.decide(caller("todo:read"), Operation.promptGet("other", null)).ruleId()).isEqualTo("default");
    }

    @Test
    void aTargetedMethodWithoutATargetIsDenied() {
        Decision decision = TODO.decide(caller("todo:admin"), Operation.method("tools/call"));
        assertThat(decision.outcome()).isEqualTo(Outcome.DENY);
        assertThat(decision.reason()).isEqualTo("tools/call names no tool");
    }

    // --- server-wide agents ---

    @Test
    void serverWideAgentsAllowListComesFirstForEveryMethodIncludingPlumbing() {
        CompiledPolicy agents = policy("""
                agents: { allow: [finance-bot, "https://agent.example.com/.well-known/oauth-client.json"] }
                tools: { a: {} }
                """);
        assertThat(agents.decide(caller("finance-bot", "", ""), tool("a")).allowed()).isTrue();
        assertThat(agents.decide(caller("https://agent.example.com/.well-known/oauth-client.json", "", ""), tool("a"))
                .allowed()).isTrue();
        for (Operation operation : new Operation[] {tool("a"), Operation.method("initialize"), Operation.method("ping")}) {
            Decision decision = agents.decide(caller("chat-bot", "", ""), operation);
            assertThat(decision.outcome()).isEqualTo(Outcome.DENY);
            assertThat(decision.ruleId()).isEqualTo("agents.allow");
            assertThat(decision.reason()).isEqualTo("agent \"chat-bot\" is not in the server-wide agents.allow list");
        }
        assertThat(agents.decide(caller("", "", ""), tool("a")).outcome()).as("no agent at all").isEqualTo(Outcome.DENY);
    }

    @Test
    void absentAgentsSectionAdmitsAnyAgent() {
        assertThat(policy("tools: { a: {} }").decide(caller("whoever", "", ""), tool("a")).allowed()).isTrue();
    }

    // --- precedence ---

    @Test
    void exactNameBeatsEveryGlob() {
        CompiledPolicy precedence = policy("""
                tools:
                  "*":          { deny: true }
                  "export_*":   { scopes: [export] }
                  export_audit: { roles: [auditor] }
                """);
        assertThat(precedence.decide(caller("export"), tool("export_audit")).ruleId()).isEqualTo("tools.export_audit");
        assertThat(precedence.decide(caller("export"), tool("export_csv")).ruleId()).isEqualTo("tools.\"export_*\"");
        assertThat(precedence.decide(caller("export"), tool("other")).ruleId()).isEqualTo("tools.\"*\"");
    }

    @Test
    void amongGlobsMoreLiteralCharactersWinWhateverTheFileOrder() {
        CompiledPolicy precedence = policy("""
                tools:
                  "ex*":       { scopes: [short] }
                  "export_*":  { scopes: [long] }
                """);
        assertThat(precedence.decide(caller(""), tool("export_csv")).requiredScopes()).containsExactly("long");
        assertThat(precedence.decide(caller(""), tool("exec")).requiredScopes()).containsExactly("short");
    }

    @Test
    void resourceDoubleStarLosesToALongerPatternAndToASingleStarOfEqualLength() {
        CompiledPolicy resources = policy("""
                resources:
                  "file:///ws/**":        { scopes: [read] }
                  "file:///ws/.git/**":   { deny: true }
                  "file:///ws/*":         { scopes: [top] }
                  "file:///ws/.env":      { roles: [admin] }
                """);
        assertThat(resources.decide(caller("read"), Operation.resourceRead("file:///ws/src/a.java")).ruleId())
                .isEqualTo("resources.\"file:///ws/**\"");
        assertThat(resources.decide(caller("read"), Operation.resourceRead("file:///ws/.git/config")).ruleId())
                .isEqualTo("resources.\"file:///ws/.git/**\"");
        assertThat(resources.decide(caller("read"), Operation.resourceRead("file:///ws/README")).ruleId())
                .isEqualTo("resources.\"file:///ws/*\"");
        assertThat(resources.decide(caller("read"), Operation.resourceRead("file:///ws/.env")).ruleId())
                .isEqualTo("resources.\"file:///ws/.env\"");
    }

    @Test
    void equalSpecificityGoesToTheRuleWrittenFirst() {
        CompiledPolicy tie = policy("""
                tools:
                  "exp*": { scopes: [first] }
                  "*csv": { scopes: [second] }
                """);
        assertThat(tie.decide(caller(""), tool("export_csv")).ruleId()).isEqualTo("tools.\"exp*\"");
        CompiledPolicy swapped = policy("""
                tools:
                  "*csv": { scopes: [second] }
                  "exp*": { scopes: [first] }
                """);
        assertThat(swapped.decide(caller(""), tool("export_csv")).ruleId()).isEqualTo("tools.\"*csv\"");
    }

    // --- purity ---

    @Test
    void sameInputGivesTheSameDecisionEveryTime() {
        Subject subject = caller("agent-1", "todo:read", "viewer");
        Operation operation = tool("sync_todos");
        Decision first = TODO.decide(subject, operation);
        for (int i = 0; i < 100; i++) {
            assertThat(TODO.decide(subject, operation)).isEqualTo(first);
        }
        String text = "tools: { sync_todos: { scopes: [todo:read, todo:sync] } }";
        assertThat(policy(text).decide(subject, operation)).isEqualTo(policy(text).decide(subject, operation));
    }

    @Test
    void policy06OnlyTheSubjectDecidesNeverTheArgumentsOrMeta() {
        Decision plain = TODO.decide(caller("agent-1", "todo:write", "viewer"), tool("delete_todo"));
        Decision withMeta = TODO.decide(caller("agent-1", "todo:write", "viewer"),
                tool("delete_todo", "{\"_meta\":{\"user\":\"admin\",\"roles\":[\"admin\"]},\"role\":\"admin\"}"));
        assertThat(withMeta).isEqualTo(plain);
    }

    @Test
    void reasonsQuoteAndEscapeNamesFromTheRequest() {
        Decision decision = TODO.decide(caller(""), tool("evil\n2025-01-01 INFO forged \"line\""));
        assertThat(decision.reason()).doesNotContain("\n")
                .isEqualTo("no rule covers tool \"evil\\u000a2025-01-01 INFO forged \\\"line\\\"\"; default is deny");
    }

    @Test
    void reasonsNeverContainArgumentValues() {
        Decision decision = TODO.decide(caller("todo:export"), tool("export_x", "{\"limit\":\"s3cr3t-token\"}"));
        assertThat(decision.reason()).doesNotContain("s3cr3t");
    }
}
