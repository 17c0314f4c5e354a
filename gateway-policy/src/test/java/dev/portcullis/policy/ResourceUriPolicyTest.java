package dev.portcullis.policy;

import static dev.portcullis.policy.Policies.caller;
import static dev.portcullis.policy.Policies.policy;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Issue 12, item 1, in the policy: a resource URI with dot segments (or any other non-normal form) no
 * longer matches an allow rule for one tree while the upstream reads another; it is denied, hidden,
 * before any rule is consulted, on every path that decides a URI (reads, lists, templates, explain).
 */
class ResourceUriPolicyTest {
    private static final CompiledPolicy POLICY = policy("""
            default: deny
            resources:
              "demo://resource/static/document/**": {}
              "file:///workspace/**": {}
            """);
    private static final CompiledPolicy DENY_LIST = policy("""
            default: allow
            resources:
              "file:///workspace/secret/**": { deny: true }
            """);

    @ParameterizedTest
    @ValueSource(strings = {
            "demo://resource/static/document/../../dynamic/text/1",
            "demo://resource/static/document/%2e%2e/%2e%2e/dynamic/text/1",
            "demo://resource/static/document/..%2F..%2Fdynamic/text/1",
            "file:///workspace/x/../../etc/passwd",
            "file:///workspace/x\\..\\..\\etc\\passwd",
    })
    void dotSegmentUriIsNotAllowedByTheRuleOfTheTreeItStartsIn(String uri) {
        for (String method : new String[] {"resources/read", "resources/subscribe", "resources/unsubscribe"}) {
            Decision decision = POLICY.decide(caller(""), new Operation(method, java.util.Optional.of(uri)));
            assertThat(decision.allowed()).as(method + " " + uri).isFalse();
            assertThat(decision.hidden()).isTrue();
            assertThat(decision.ruleId()).isEqualTo(CompiledPolicy.NOT_NORMAL);
        }
        assertThat(POLICY.visible(caller(""), ItemKind.RESOURCE, uri)).isFalse();
    }

    @ParameterizedTest
    @ValueSource(strings = {
            "file:///workspace//secret/key",
            "FILE:///workspace/secret/key",
            "file:///workspace/%73ecret/key",
            "file:///workspace/x/../secret/key",
    })
    void nonNormalUriCannotStepAroundADenyRule(String uri) {
        assertThat(DENY_LIST.decide(caller(""), Operation.resourceRead(uri)).allowed()).isFalse();
        assertThat(DENY_LIST.decide(caller(""), Operation.resourceRead("file:///workspace/public/key")).allowed()).isTrue();
    }

    @Test
    void normalUriUnderTheTreeIsStillAllowed() {
        assertThat(POLICY.decide(caller(""), Operation.resourceRead("demo://resource/static/document/1")).allowed()).isTrue();
        assertThat(POLICY.decide(caller(""), Operation.resourceRead("demo://resource/dynamic/text/1")).allowed()).isFalse();
    }

    @Test
    void templateWithDotSegmentsInItsLiteralTextIsHidden() {
        assertThat(POLICY.visible(caller(""), ItemKind.RESOURCE_TEMPLATE, "demo://resource/static/document/{id}")).isTrue();
        assertThat(POLICY.visible(caller(""), ItemKind.RESOURCE_TEMPLATE,
                "demo://resource/static/document/../../dynamic/text/{id}")).isFalse();
        assertThat(POLICY.visible(caller(""), ItemKind.RESOURCE_TEMPLATE,
                "demo://resource/static/document/%2e%2e/{id}")).isFalse();
    }

    @Test
    void aResourcePatternNotInNormalFormIsALoadErrorWithItsLine() {
        assertThatThrownBy(() -> policy("""
                default: deny
                resources:
                  "file:///workspace/../etc/**": {}
                """)).isInstanceOf(InvalidPolicyException.class)
                .hasMessageContaining("test.yaml:3")
                .hasMessageContaining("dot segment");
    }
}
