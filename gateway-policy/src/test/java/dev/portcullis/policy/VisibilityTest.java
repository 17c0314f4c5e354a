package dev.portcullis.policy;

import static dev.portcullis.policy.Policies.caller;
import static dev.portcullis.policy.Policies.policy;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;

/** What list responses may show (POLICY-05) and how that matches the denial kind (JSONRPC-08b). */
class VisibilityTest {

    private static final CompiledPolicy POLICY = policy("""
            agents: { allow: [ide, ops] }
            tools:
              list_todos:   { scopes: [todo:read] }
              delete_todo:  { scopes: [todo:write], roles: [admin] }
              export_todos: { scopes: [todo:read], arguments: { limit: { max: 10 } } }
              ops_only:     { agents: [ops] }
              "admin_*":    { deny: true }
            resources:
              "file:///ws/**":          { scopes: [files:read] }
              "file:///ws/secret/**":   { roles: [admin] }
              "file:///ws/public/*":    {}
            prompts:
              summarize: { scopes: [todo:read] }
            """);

    private static final Subject READER = caller("ide", "todo:read files:read", "user");

    @Test
    void policy05ToolsTheCallerMayUseAreVisibleOthersAreNot() {
        List<String> upstream = List.of("list_todos", "delete_todo", "export_todos", "ops_only", "admin_reset", "unknown");
        assertThat(upstream.stream().filter(name -> POLICY.visible(READER, "tool", name)))
                .containsExactly("list_todos", "export_todos");
        assertThat(upstream.stream().filter(name -> POLICY.visible(caller("ops", "todo:write", "admin"), "tool", name)))
                .containsExactly("delete_todo", "ops_only");
    }

    @Test
    void aToolDeniedOnlyForItsArgumentsStaysVisible() {
        assertThat(POLICY.visible(READER, "tool", "export_todos")).isTrue();
        Decision tooMany = POLICY.decide(READER, Policies.tool("export_todos", "{\"limit\":11}"));
        assertThat(tooMany.hidden()).isFalse();
    }

    @Test
    void jsonrpc08bHiddenDenialsAreExactlyTheItemsNotListed() {
        for (String name : List.of("list_todos", "delete_todo", "export_todos", "ops_only", "admin_reset", "unknown")) {
            Decision decision = POLICY.decide(READER, Policies.tool(name));
            boolean listed = POLICY.visible(READER, "tool", name);
            if (decision.outcome() == Decision.Outcome.DENY) {
                assertThat(decision.hidden()).as(name).isEqualTo(!listed);
            }
        }
    }

    @Test
    void aToolThatNeedsAStepUpIsNotListed() {
        assertThat(POLICY.visible(caller("ide", "", ""), "tool", "list_todos")).isFalse();
    }

    @Test
    void anAgentOutsideTheServerWideListSeesNothing() {
        assertThat(POLICY.visible(caller("chat", "todo:read files:read", "admin"), "tool", "list_todos")).isFalse();
        assertThat(POLICY.visible(caller("chat", "todo:read files:read", "admin"), "resource-template",
                "file:///ws/{name}")).isFalse();
    }

    @Test
    void resourcesAndPromptsFollowTheirRules() {
        assertThat(POLICY.visible(READER, "resource", "file:///ws/a/b.txt")).isTrue();
        assertThat(POLICY.visible(READER, "resource", "file:///ws/secret/key")).isFalse();
        assertThat(POLICY.visible(READER, "resource", "file:///etc/passwd")).isFalse();
        assertThat(POLICY.visible(READER, "prompt", "summarize")).isTrue();
        assertThat(POLICY.visible(caller("ide", "", ""), "prompt", "summarize")).isFalse();
    }

    @Test
    void aResourceTemplateIsVisibleWhenARuleTheCallerPassesCoversSomeOfItsUris() {
        assertThat(POLICY.visible(READER, "resource-template", "file:///ws/{+path}")).isTrue();
        assertThat(POLICY.visible(READER, "resource-template", "file:///ws/public/{name}")).isTrue();
        assertThat(POLICY.visible(caller("ide", "", ""), "resource-template", "file:///ws/public/{name}")).isTrue();
        assertThat(POLICY.visible(READER, "resource-template", "file:///other/{name}")).isFalse();
    }

    @Test
    void aResourceTemplateInsideAMoreSpecificRuleTheCallerFailsIsHidden() {
        assertThat(POLICY.visible(READER, "resource-template", "file:///ws/secret/{name}")).isFalse();
        assertThat(POLICY.visible(caller("ide", "", "admin"), "resource-template", "file:///ws/secret/{name}")).isTrue();
    }

    @Test
    void underDefaultAllowAnUncoveredTemplateIsVisible() {
        CompiledPolicy open = policy("""
                default: allow
                resources: { "file:///secret/**": { deny: true } }
                """);
        assertThat(open.visible(READER, "resource-template", "file:///docs/{name}")).isTrue();
        assertThat(open.visible(READER, "resource-template", "file:///secret/{name}")).isFalse();
    }

    @Test
    void kindsAreTheFourListedKindsAndMapToTheirListMethods() {
        assertThatThrownBy(() -> POLICY.visible(READER, "tools", "x")).isInstanceOf(IllegalArgumentException.class);
        assertThat(ItemKind.listedBy("tools/list")).contains(ItemKind.TOOL);
        assertThat(ItemKind.listedBy("resources/templates/list")).contains(ItemKind.RESOURCE_TEMPLATE);
        assertThat(ItemKind.listedBy("prompts/list")).contains(ItemKind.PROMPT);
        assertThat(ItemKind.listedBy("tasks/list")).isEmpty();
        assertThat(ItemKind.of("resource").listMethod()).isEqualTo("resources/list");
    }

    @Test
    void visibilityOfAPolicyWithoutAFileFollowsItsDecisions() {
        assertThat(Policy.authenticatedOnly().visible(READER, ItemKind.RESOURCE_TEMPLATE, "file:///{x}")).isTrue();
    }

    /** V26-5: what a caller can ever see of a kind; a capability goes when it is nothing. */
    @Test
    void v26_5AnyTellsWhetherTheCallerCanEverSeeAnItemOfAKind() {
        assertThat(POLICY.visibility(READER, ItemKind.TOOL).any()).isTrue();
        assertThat(POLICY.visibility(READER, ItemKind.PROMPT).any()).isTrue();
        Subject nobody = caller("ide", "", "user");
        assertThat(POLICY.visibility(nobody, ItemKind.TOOL).any()).as("every tool needs a scope, a role or an agent").isFalse();
        assertThat(POLICY.visibility(nobody, ItemKind.PROMPT).any()).isFalse();
        assertThat(POLICY.visibility(nobody, ItemKind.RESOURCE).any()).as("file:///ws/public/* needs nothing").isTrue();
        assertThat(POLICY.visibility(caller("stranger", "todo:read", ""), ItemKind.TOOL).any())
                .as("an agent outside agents.allow sees nothing").isFalse();
        CompiledPolicy listDenied = policy("default: allow\nmethods:\n  tools/list: { deny: true }\n");
        assertThat(listDenied.visibility(READER, ItemKind.TOOL).any()).isFalse();
        assertThat(Policy.authenticatedOnly().visibility(READER, ItemKind.TOOL).any()).isTrue();
    }

    /** V26-34: equal visibilities mean the caller sees the same items; an edit elsewhere leaves them equal. */
    @Test
    void v26_34VisibilityChangesOnlyWithWhatTheCallerMaySee() {
        String base = "default: deny\ntools:\n  read: { scopes: [r] }\n  write: { scopes: [w] }\n";
        CompiledPolicy before = policy(base);
        Subject reader = caller("r");
        assertThat(policy(base + "prompts:\n  p: {}\n").visibility(reader, ItemKind.TOOL))
                .isEqualTo(before.visibility(reader, ItemKind.TOOL));
        assertThat(policy(base.replace("[w]", "[w2]")).visibility(reader, ItemKind.TOOL))
                .as("a tool this caller could not see stays unseen").isEqualTo(before.visibility(reader, ItemKind.TOOL));
        assertThat(policy(base.replace("[w]", "[r]")).visibility(reader, ItemKind.TOOL))
                .isNotEqualTo(before.visibility(reader, ItemKind.TOOL));
        assertThat(policy(base + "  \"x_*\": {}\n").visibility(reader, ItemKind.TOOL))
                .isNotEqualTo(before.visibility(reader, ItemKind.TOOL));
        assertThat(policy(base.replace("default: deny", "default: allow")).visibility(reader, ItemKind.TOOL))
                .isNotEqualTo(before.visibility(reader, ItemKind.TOOL));
    }
}
