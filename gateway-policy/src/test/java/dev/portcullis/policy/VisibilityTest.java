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
}
