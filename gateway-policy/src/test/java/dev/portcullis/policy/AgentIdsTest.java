package dev.portcullis.policy;

import static dev.portcullis.policy.Policies.caller;
import static dev.portcullis.policy.Policies.policy;
import static dev.portcullis.policy.Policies.tool;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * Agent identities as CIMD client-id URLs and SPIFFE IDs (issue 16): matched exactly, or below a declared
 * {@code /*} prefix; compared as strings, never fetched.
 */
class AgentIdsTest {
    private static final CompiledPolicy POLICY = policy("""
            agents:
              allow: ["spiffe://prod.acme/ns/agents/*", "https://client.example.com/metadata.json", ide-assistant]
            tools:
              deploy: { agents: ["spiffe://prod.acme/ns/agents/deployer"] }
              read_*: {}
            """);

    @Test
    void spiffeIdsBelowAnAllowedPrefixAreAdmitted() {
        assertThat(POLICY.decide(caller("spiffe://prod.acme/ns/agents/planner", "", ""), tool("read_file")).allowed()).isTrue();
        assertThat(POLICY.decide(caller("spiffe://prod.acme/ns/agents/team/x", "", ""), tool("read_file")).allowed()).isTrue();
    }

    @Test
    void thePrefixItselfAndNeighboursAreNotBelowIt() {
        assertThat(POLICY.decide(caller("spiffe://prod.acme/ns/agents", "", ""), tool("read_file")).allowed()).isFalse();
        assertThat(POLICY.decide(caller("spiffe://prod.acme/ns/agents/", "", ""), tool("read_file")).allowed()).isFalse();
        assertThat(POLICY.decide(caller("spiffe://prod.acme/ns/agentsX/a", "", ""), tool("read_file")).allowed()).isFalse();
        assertThat(POLICY.decide(caller("spiffe://staging.acme/ns/agents/a", "", ""), tool("read_file")).allowed()).isFalse();
    }

    @Test
    void dotSegmentsNeverMatchAPattern() {
        assertThat(AgentIds.matches(Set.of("spiffe://prod.acme/ns/agents/*"), "spiffe://prod.acme/ns/agents/../admin")).isFalse();
        assertThat(AgentIds.matches(Set.of("https://agents.example.com/*"), "https://agents.example.com/./x")).isFalse();
        assertThat(AgentIds.matches(Set.of("https://agents.example.com/*"), "https://agents.example.com/a//b")).isFalse();
        assertThat(AgentIds.matches(Set.of("https://agents.example.com/*"), "https://agents.example.com/a%2F..")).isFalse();
    }

    @Test
    void cimdClientIdUrlsMatchExactly() {
        assertThat(POLICY.decide(caller("https://client.example.com/metadata.json", "", ""), tool("read_file")).allowed()).isTrue();
        assertThat(POLICY.decide(caller("https://client.example.com/metadata.json?x=1", "", ""), tool("read_file")).allowed()).isFalse();
        assertThat(POLICY.decide(caller("https://client.example.com/other.json", "", ""), tool("read_file")).allowed()).isFalse();
    }

    @Test
    void aRuleNarrowsToOneSpiffeId() {
        assertThat(POLICY.decide(caller("spiffe://prod.acme/ns/agents/deployer", "", ""), tool("deploy")).allowed()).isTrue();
        Decision other = POLICY.decide(caller("spiffe://prod.acme/ns/agents/planner", "", ""), tool("deploy"));
        assertThat(other.allowed()).isFalse();
        assertThat(other.reason()).contains("is limited to agent spiffe://prod.acme/ns/agents/deployer");
    }

    @Test
    void aWildcardAnywhereButATrailingSlashStarIsALoadError() {
        assertThatThrownBy(() -> policy("agents:\n  allow: [\"spiffe://prod.acme/*/agents\"]\n"))
                .hasMessageContaining("test.yaml:2: agents.allow[0]").hasMessageContaining("prefix ending in /*");
        assertThatThrownBy(() -> policy("tools:\n  a: { agents: [\"bot*\"] }\n"))
                .hasMessageContaining("test.yaml:2: tools.a.agents[0]");
        assertThatThrownBy(() -> policy("tools:\n  a: { agents: [\"*\"] }\n")).hasMessageContaining("tools.a.agents[0]");
        assertThat(AgentIds.valid("spiffe://prod.acme/ns/agents/*")).isTrue();
        assertThat(AgentIds.valid("https://client.example.com/metadata.json")).isTrue();
    }

    @Test
    void aRuleAgentCoveredByAnAllowedPrefixIsNoWarning() {
        LoadedPolicy loaded = Policies.loaded("""
                agents:
                  allow: ["spiffe://prod.acme/ns/agents/*"]
                tools:
                  deploy: { agents: ["spiffe://prod.acme/ns/agents/deployer", "spiffe://other.acme/x"] }
                """);
        assertThat(loaded.warnings().toString()).doesNotContain("deployer").contains("other.acme");
    }
}
