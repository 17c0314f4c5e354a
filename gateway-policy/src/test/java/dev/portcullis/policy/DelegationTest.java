package dev.portcullis.policy;

import static dev.portcullis.policy.Policies.policy;
import static dev.portcullis.policy.Policies.tool;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * Who may act for whom (issue 16): {@code delegation.max-depth}, {@code delegation.narrowing} and a rule's
 * {@code actors}; refusals name the rule. EXCHANGE-08: {@code actors} admits by the current actor only.
 */
class DelegationTest {
    private static final CompiledPolicy POLICY = policy("""
            delegation: { max-depth: 2, narrowing: true }
            tools:
              deploy: { actors: ["spiffe://prod.acme/ns/agents/deployer", "ci-bot"] }
              read_file: {}
            """);

    private static Subject caller(String scopes, Map<String, Object> act) {
        return Subject.of("https://idp.example.com", "alice", "ide", Set.of(scopes.split(" ")), Set.of(), act);
    }

    private static Map<String, Object> act(String sub, String scope, Map<String, Object> prior) {
        var map = new java.util.LinkedHashMap<String, Object>();
        map.put("sub", sub);
        if (scope != null) {
            map.put("scope", scope);
        }
        if (prior != null) {
            map.put("act", prior);
        }
        return map;
    }

    @Test
    void aDirectCallIsNotDelegated() {
        assertThat(POLICY.decide(caller("files:read", null), tool("read_file")).allowed()).isTrue();
        // A rule's actors does not apply to a token without act.
        assertThat(POLICY.decide(caller("files:read", null), tool("deploy")).allowed()).isTrue();
    }

    @Test
    void maxDepthRefusesALongerChainAndNamesTheRule() {
        Map<String, Object> two = act("agent-b", null, act("agent-a", null, null));
        assertThat(POLICY.decide(caller("files:read", two), tool("read_file")).allowed()).isTrue();
        Decision three = POLICY.decide(caller("files:read", act("agent-c", null, two)), tool("read_file"));
        assertThat(three.allowed()).isFalse();
        assertThat(three.ruleId()).isEqualTo("delegation.max-depth");
        assertThat(three.reason()).contains("3 actors").contains("max-depth is 2");
    }

    @Test
    void narrowingRefusesAChainThatWidens() {
        // The sub-agent's token carries files:write, which its delegator (the current actor) lacked.
        Map<String, Object> widening = act("sub-agent", "files:read", null);
        Decision refused = POLICY.decide(caller("files:read files:write", widening), tool("read_file"));
        assertThat(refused.allowed()).isFalse();
        assertThat(refused.ruleId()).isEqualTo("delegation.narrowing");
        assertThat(refused.reason()).contains("files:write").contains("sub-agent");

        // Narrowing all the way: allowed. A link without declared scopes is skipped.
        Map<String, Object> narrowing = act("sub-agent", "files:read files:write", act("planner", null,
                null));
        assertThat(POLICY.decide(caller("files:read", narrowing), tool("read_file")).allowed()).isTrue();

        // Widening between two prior links is refused too.
        Map<String, Object> priorWidens = act("sub-agent", "files:read files:write", act("planner", "files:read", null));
        assertThat(POLICY.decide(caller("files:read", priorWidens), tool("read_file")).ruleId()).isEqualTo("delegation.narrowing");
    }

    @Test
    void aRulesActorsAdmitByTheCurrentActorOnly() {
        Decision viaDeployer = POLICY.decide(caller("x", act("spiffe://prod.acme/ns/agents/deployer", null,
                act("someone-else", null, null))), tool("deploy"));
        assertThat(viaDeployer.allowed()).isTrue();
        Decision viaOther = POLICY.decide(caller("x", act("random-agent", null, act("ci-bot", null, null))), tool("deploy"));
        assertThat(viaOther.allowed()).isFalse();
        assertThat(viaOther.ruleId()).isEqualTo("tools.deploy");
        assertThat(viaOther.reason()).contains("the current actor is \"random-agent\"");
        // Matched by client_id too.
        Map<String, Object> byClient = new java.util.HashMap<>(act("user-123", null, null));
        byClient.put("client_id", "ci-bot");
        assertThat(POLICY.decide(caller("x", byClient), tool("deploy")).allowed()).isTrue();
    }

    @Test
    void delegatedCallersSeeOnlyWhatTheyMayUse() {
        Subject widening = caller("files:read files:write", act("sub-agent", "files:read", null));
        assertThat(POLICY.visibility(widening, ItemKind.TOOL).listable()).isFalse();
    }

    @Test
    void badDelegationConfigNamesLineAndField() {
        assertThatThrownBy(() -> policy("delegation: { max-depth: -1 }\n")).hasMessageContaining("test.yaml:1: delegation.max-depth");
        assertThatThrownBy(() -> policy("delegation: { narrowing: yes-please }\n")).hasMessageContaining("delegation.narrowing");
        assertThatThrownBy(() -> policy("delegation: { depth: 2 }\n")).hasMessageContaining("delegation.depth: unknown key");
        assertThatThrownBy(() -> policy("tools:\n  a: { actors: [\"bot*\"] }\n")).hasMessageContaining("test.yaml:2: tools.a.actors[0]");
    }

    @Test
    void deeplyNestedChainsAreCountedNotWalkedForever() {
        Map<String, Object> deep = null;
        for (int i = 0; i < 100; i++) {
            deep = act("a" + i, null, deep);
        }
        Decision refused = POLICY.decide(caller("x", deep), tool("read_file"));
        assertThat(refused.ruleId()).isEqualTo("delegation.max-depth");
    }
}
