package dev.portcullis.policy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Issue 18: limits in a policy file: the text, where they apply, and a load error naming file, line and field. */
class LimitPolicyTest {
    private static final String POLICY = """
            default: deny
            limits:
              default: ["1000/day per subject", 100/min per subject+agent]
              fail: closed
            tools:
              "write_*":
                scopes: [todo:write]
                limits: 20/min per subject+agent
              deploy:
                limits: [2 concurrent per route, 10/h]
              read_todo: {}
            """;

    private static void assertError(String yaml, String message) {
        assertThatThrownBy(() -> PolicyLoader.parse(yaml, "limits.yaml"))
                .isInstanceOfSatisfying(InvalidPolicyException.class, e -> assertThat(e.problems()).containsExactly(message));
    }

    @Test
    void limitTextsParse() {
        Limit rate = Limit.parse("x#0", "20/min per subject+agent");
        assertThat(rate.kind()).isEqualTo(Limit.Kind.RATE);
        assertThat(rate.count()).isEqualTo(20);
        assertThat(rate.period()).isEqualTo(Duration.ofMinutes(1));
        assertThat(rate.keys()).containsExactly(Limit.Key.SUBJECT, Limit.Key.AGENT);
        assertThat(rate.intervalMicros()).isEqualTo(3_000_000);
        assertThat(rate.periodMicros()).isEqualTo(60_000_000);

        assertThat(Limit.parse("x#0", "1000/day").period()).isEqualTo(Duration.ofDays(1));
        assertThat(Limit.parse("x#0", "100/10s per tool").period()).isEqualTo(Duration.ofSeconds(10));
        assertThat(Limit.parse("x#0", "5 / hour per issuer").keys()).containsExactly(Limit.Key.ISSUER);
        Limit concurrent = Limit.parse("x#0", "2 concurrent per route");
        assertThat(concurrent.kind()).isEqualTo(Limit.Kind.CONCURRENT);
        assertThat(concurrent.count()).isEqualTo(2);
        assertThat(concurrent.keys()).as("per route is the route's one counter").isEmpty();
    }

    @Test
    void aLimitScaledForTheLocalFallbackRoundsUpAndKeepsItsPeriod() {
        Limit limit = Limit.parse("x#0", "20/min per subject");
        assertThat(limit.scaled(3).count()).isEqualTo(7);
        assertThat(limit.scaled(3).period()).isEqualTo(Duration.ofMinutes(1));
        assertThat(limit.scaled(100).count()).isEqualTo(1);
        assertThat(limit.scaled(1)).isSameAs(limit);
    }

    @Test
    void badLimitTextsAreRefused() {
        for (String bad : List.of("20/fortnight", "0/min", "20 per minute", "3 concurrently", "20/min per user",
                "20/min per subject+subject", "20/2day", "2000000/s", "-1/min", "")) {
            assertThatThrownBy(() -> Limit.parse("x#0", bad)).as(bad).isInstanceOf(IllegalArgumentException.class);
        }
    }

    @Test
    void aPolicyCarriesItsLimitsByRuleAndItsDefault() {
        CompiledPolicy policy = PolicyLoader.parse(POLICY, "limits.yaml").policy();
        Limits limits = policy.limits();
        assertThat(limits.fail()).isEqualTo(Limits.FailMode.CLOSED);
        assertThat(limits.defaults()).extracting(Limit::id).containsExactly("limits.default#0", "limits.default#1");
        assertThat(limits.applying("tools.\"write_*\"")).extracting(Limit::id)
                .containsExactly("tools.\"write_*\"#0", "limits.default#0", "limits.default#1");
        assertThat(limits.applying("tools.deploy")).extracting(Limit::text)
                .containsExactly("2 concurrent per route", "10/h", "1000/day per subject", "100/min per subject+agent");
        assertThat(limits.applying("tools.read_todo")).as("a rule without limits: the default").hasSize(2);
        assertThat(limits.applying(Limits.PLUMBING)).as("initialize, ping, lists: never counted").isEmpty();
        assertThat(limits.applying("response")).isEmpty();
    }

    @Test
    void aPolicyWithoutLimitsHasNone() {
        assertThat(PolicyLoader.parse("tools:\n  a: {}\n", "p.yaml").policy().limits().isEmpty()).isTrue();
        assertThat(Policy.authenticatedOnly().limits()).isSameAs(Limits.NONE);
    }

    @Test
    void aBadLimitNamesFileLineAndField() {
        assertError("""
                tools:
                  deploy:
                    limits: [2 concurrent, 20/fortnight]
                """, "limits.yaml:3: tools.deploy.limits[1]: \"20/fortnight\" (expected: " + Limit.EXPECTED
                + "; found not a limit)");
        assertError("""
                limits:
                  default: 20/min per user
                """, "limits.yaml:2: limits.default: \"20/min per user\" (expected: " + Limit.EXPECTED
                + "; found unknown key \"user\")");
        assertError("""
                limits:
                  fail: open
                """, "limits.yaml:2: limits.fail: \"open\" (expected: local (each replica enforces its share of the"
                + " limits) or closed (calls that count against a limit are refused while the shared store is down))");
        assertError("""
                tools:
                  a:
                    limits: 20
                """, "limits.yaml:3: tools.a.limits: 20 (expected: " + Limit.EXPECTED + "; or a list of them)");
        assertError("limits: { default: 10/min, burst: 2 }\n",
                "limits.yaml:1: limits.burst: unknown key (expected one of: default, fail)");
    }

    @Test
    void explainNamesTheLimitsAnAllowedCallCountsAgainst() {
        LoadedPolicy loaded = PolicyLoader.parse(POLICY, "limits.yaml");
        Subject caller = new Subject("https://idp", "alice", "agent-1", Set.of("todo:write"), Set.of());
        String text = Explain.explain(loaded, caller, Operation.toolCall("write_note", null));
        assertThat(text).contains("tools.\"write_*\"#0: 20/min per subject+agent")
                .contains("limits.default#0: 1000/day per subject");
        String denied = Explain.explain(loaded, caller, Operation.toolCall("unknown_tool", null));
        assertThat(denied).as("a denied call counts against nothing").doesNotContain("limit:");
    }
}
