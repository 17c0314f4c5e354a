package dev.portcullis.authz;

import static org.assertj.core.api.Assertions.assertThat;

import dev.portcullis.failure.FailureResponses;
import dev.portcullis.failure.GatewayFailure;
import dev.portcullis.failure.Reason;
import dev.portcullis.inspect.JsonRpcInspector;
import dev.portcullis.inspect.McpMessage;
import dev.portcullis.policy.Policy;
import dev.portcullis.policy.PolicyLoader;
import dev.portcullis.policy.Subject;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Issue 12, items 1 and 5, in the authorize stage without sockets. */
class TargetsTest {
    private static final JsonRpcInspector INSPECTOR = new JsonRpcInspector();
    private static final Policy POLICY = PolicyLoader.parse("""
            default: deny
            resources:
              "demo://resource/static/document/**": {}
              "demo://resource/dynamic/**": { roles: [admin] }
            prompts:
              simple_prompt: {}
              secret_prompt: { roles: [admin] }
            methods:
              completion/complete: {}
            """, "test.yaml").policy();
    private static final Subject READER = new Subject("https://idp", "alice", "agent", Set.of(), Set.of());
    private static final Subject ADMIN = new Subject("https://idp", "root", "agent", Set.of(), Set.of("admin"));

    private static McpMessage message(String json) {
        return INSPECTOR.inspect(json.getBytes(StandardCharsets.UTF_8)).get(0);
    }

    private static Optional<GatewayFailure> refusal(String json, Subject subject) {
        return Targets.refusal(message(json), subject, POLICY, true);
    }

    private static String read(String method, String uri) {
        return "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"" + method + "\",\"params\":{\"uri\":\"" + uri + "\"}}";
    }

    private static String complete(String ref) {
        return "{\"jsonrpc\":\"2.0\",\"id\":\"c\",\"method\":\"completion/complete\",\"params\":{\"ref\":" + ref
                + ",\"argument\":{\"name\":\"a\",\"value\":\"\"}}}";
    }

    @ParameterizedTest
    @ValueSource(strings = {
            "demo://resource/static/document/../../dynamic/text/1",
            "demo://resource/static/document/%2e%2e/%2e%2e/dynamic/text/1",
            "demo://resource/static/document/..%2F..%2Fdynamic/text/1",
            "file:///workspace/x/../../etc/passwd",
    })
    void dotSegmentUriIsRefusedAsInvalidParamsForEveryResourceMethod(String uri) {
        for (String method : new String[] {"resources/read", "resources/subscribe", "resources/unsubscribe"}) {
            GatewayFailure failure = refusal(read(method, uri), ADMIN).orElseThrow();
            assertThat(failure.reason()).isEqualTo(Reason.INVALID_TARGET);
            assertThat(failure.description()).startsWith("Invalid params: resource URI is not in normal form");
            assertThat(failure.jsonRpcId().asInt()).isEqualTo(1);
            assertThat(FailureResponses.status(failure.reason())).isEqualTo(200);
            // Also on a route without a policy: the gateway never forwards a URI it could not decide on.
            assertThat(Targets.refusal(message(read(method, uri)), READER, Policy.authenticatedOnly(), false)).isPresent();
        }
    }

    @Test
    void normalUriPassesToThePolicy() {
        assertThat(refusal(read("resources/read", "demo://resource/static/document/1"), READER)).isEmpty();
    }

    @Test
    void completionOfAHiddenPromptIsAnsweredAsAnUnknownPrompt() {
        GatewayFailure failure = refusal(complete("{\"type\":\"ref/prompt\",\"name\":\"secret_prompt\"}"), READER).orElseThrow();
        assertThat(failure.reason()).isEqualTo(Reason.UNKNOWN_TOOL);
        assertThat(failure.description()).isEqualTo("Unknown prompt: secret_prompt");
        assertThat(failure.jsonRpcId().asText()).isEqualTo("c");
        // the same shape as prompts/get of a hidden prompt, and the same for a prompt that does not exist
        assertThat(refusal(complete("{\"type\":\"ref/prompt\",\"name\":\"no_such_prompt\"}"), READER).orElseThrow().description())
                .isEqualTo("Unknown prompt: no_such_prompt");
        assertThat(refusal(complete("{\"type\":\"ref/prompt\",\"name\":\"simple_prompt\"}"), READER)).isEmpty();
        assertThat(refusal(complete("{\"type\":\"ref/prompt\",\"name\":\"secret_prompt\"}"), ADMIN)).isEmpty();
    }

    @Test
    void completionOfAHiddenResourceTemplateIsAnsweredAsAMissingResource() {
        GatewayFailure failure = refusal(complete("{\"type\":\"ref/resource\",\"uri\":\"demo://resource/dynamic/text/{id}\"}"),
                READER).orElseThrow();
        assertThat(failure.reason()).isEqualTo(Reason.RESOURCE_NOT_FOUND);
        assertThat(failure.description()).isEqualTo("Resource not found");
        assertThat(refusal(complete("{\"type\":\"ref/resource\",\"uri\":\"demo://resource/static/document/{id}\"}"), READER)).isEmpty();
        assertThat(refusal(complete("{\"type\":\"ref/resource\",\"uri\":\"demo://resource/dynamic/text/{id}\"}"), ADMIN)).isEmpty();
        // a template with dot segments cannot borrow the visibility of the tree it starts in
        assertThat(refusal(complete("{\"type\":\"ref/resource\",\"uri\":\"demo://resource/static/document/../../dynamic/text/{id}\"}"),
                READER).orElseThrow().reason()).isEqualTo(Reason.INVALID_TARGET);
    }

    @Test
    void completionWithoutAUsableRefIsRefusedOnAPolicedRoute() {
        for (String ref : new String[] {"null", "{}", "{\"type\":\"ref/tool\",\"name\":\"x\"}", "{\"type\":\"ref/prompt\"}",
                "{\"type\":\"ref/resource\",\"uri\":7}"}) {
            assertThat(refusal(complete(ref), ADMIN)).as(ref).hasValueSatisfying(
                    f -> assertThat(f.reason()).isEqualTo(Reason.INVALID_TARGET));
        }
        String noRef = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"completion/complete\",\"params\":{}}";
        assertThat(refusal(noRef, ADMIN)).isPresent();
        assertThat(Targets.refusal(message(noRef), ADMIN, Policy.authenticatedOnly(), false)).isEmpty();
    }

    @Test
    void subscriptionFilterWithANonNormalUriIsRefused() {
        String listen = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"subscriptions/listen\",\"params\":{\"notifications\":"
                + "{\"resourceSubscriptions\":[\"demo://resource/static/document/1\",\"demo://resource/static/document/../../dynamic/text/1\"]}}}";
        assertThat(refusal(listen, READER)).hasValueSatisfying(f -> assertThat(f.reason()).isEqualTo(Reason.INVALID_TARGET));
    }

    @Test
    void aRefusedNotificationIsNeverAnsweredWithAJsonRpcError() {
        String notification = "{\"jsonrpc\":\"2.0\",\"method\":\"resources/subscribe\",\"params\":{\"uri\":\"a://b/../c\"}}";
        assertThat(refusal(notification, ADMIN)).hasValueSatisfying(
                f -> assertThat(f.reason()).isEqualTo(Reason.NOTIFICATION_DENIED));
    }
}
