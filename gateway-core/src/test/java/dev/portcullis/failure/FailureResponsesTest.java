package dev.portcullis.failure;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.BigIntegerNode;
import dev.portcullis.config.RouteConfig;
import dev.portcullis.policy.Policy;
import dev.portcullis.route.Route;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class FailureResponsesTest {
    private static final String PRM = "https://gw.example.com/.well-known/oauth-protected-resource/mcp";
    private final Route route = Route.compile(new RouteConfig("todo", "/mcp", "http://127.0.0.1:3000/mcp",
            "https://gw.example.com/mcp", null, null, List.of("mcp:tools.read"), null, null, null, null, null, null, null, null, null),
            List.of("https://idp.example.com"), Policy.authenticatedOnly());

    @Test
    void challenge01NoCredentialsHasNoErrorButScopeAndMetadata() {
        String header = FailureResponses.challenge(route, null, GatewayFailure.of(Reason.NO_CREDENTIALS, "No bearer token"));
        assertThat(header).isEqualTo("Bearer scope=\"mcp:tools.read\", resource_metadata=\"" + PRM + "\"");
    }

    @Test
    void challenge02InvalidTokenCarriesErrorDescriptionAndMetadata() {
        String header = FailureResponses.challenge(route, "invalid_token",
                GatewayFailure.of(Reason.INVALID_TOKEN, "The access token is expired"));
        assertThat(header).isEqualTo("Bearer error=\"invalid_token\", error_description=\"The access token is expired\", "
                + "resource_metadata=\"" + PRM + "\"");
    }

    @Test
    void challenge05InsufficientScopeListsTheWholeScopeSet() {
        String header = FailureResponses.challenge(route, "insufficient_scope",
                GatewayFailure.insufficientScope("Additional scope is required", Set.of("mcp:tools.read")));
        assertThat(header).contains("error=\"insufficient_scope\"", "scope=\"mcp:tools.read\"", "resource_metadata=");
    }

    /**
     * Issue 12, item 7: granted scopes come from the token. A scope holding {@code "} ended the quoted value and
     * injected a second {@code resource_metadata}; CR/LF broke the header (a 500). Only RFC 6750 scope-tokens
     * reach the challenge; the others are dropped, never echoed.
     */
    @Test
    void scopeInjectionIntoWwwAuthenticateIsDropped() {
        java.util.Set<String> granted = new java.util.LinkedHashSet<>(List.of(
                "mcp:read", "x\", resource_metadata=\"https://evil.example/prm", "a\r\nSet-Cookie: x=1", "back\\slash",
                "tab\tbed", "caf\u00e9", "", "mcp:write"));
        String header = FailureResponses.challenge(route, "insufficient_scope",
                GatewayFailure.insufficientScope("Additional scope is required", granted));
        assertThat(header).isEqualTo("Bearer error=\"insufficient_scope\", error_description=\"Additional scope is required\", "
                + "scope=\"mcp:read mcp:write\", resource_metadata=\"" + PRM + "\"");
        assertThat(header.split("resource_metadata=", -1)).hasSize(2);
        assertThat(header).matches("[\\x20-\\x7E]*");
    }

    @Test
    void scopeTokenGrammarIsRfc6749() {
        assertThat(FailureResponses.isScopeToken("mcp:tools.read")).isTrue();
        assertThat(FailureResponses.isScopeToken("!#[]~")).isTrue();
        for (String bad : new String[] {"", "a b", "a\"b", "a\\b", "a\u007fb", "\u00e9", "a\nb"}) {
            assertThat(FailureResponses.isScopeToken(bad)).as(bad).isFalse();
        }
        assertThat(FailureResponses.scopeValue(List.of("a\"", "b"))).isEqualTo("b");
    }

    @Test
    void challenge06DescriptionIsSanitised() {
        assertThat(FailureResponses.safeDescription("a \"quoted\" \\ é\nline"))
                .matches("[\\x20-\\x7E&&[^\"\\\\]]*").startsWith("a  quoted").endsWith("line");
        assertThat(FailureResponses.safeDescription("bad\"\\")).isEqualTo("bad  ");
    }

    @Test
    void jsonrpc02ErrorBodyKeepsTheIdExactly() throws Exception {
        var responses = new FailureResponses(new ObjectMapper());
        byte[] body = responses.errorBody(new BigIntegerNode(new BigInteger("9007199254740993")), -32603, "x");
        assertThat(new String(body, StandardCharsets.UTF_8))
                .isEqualTo("{\"jsonrpc\":\"2.0\",\"id\":9007199254740993,\"error\":{\"code\":-32603,\"message\":\"x\"}}");
        byte[] noId = responses.errorBody(null, -32700, "Parse error");
        assertThat(new String(noId, StandardCharsets.UTF_8)).doesNotContain("\"id\"");
    }

    @Test
    void everyReasonHasAShape() {
        for (Reason reason : Reason.values()) {
            assertThat(FailureResponses.shape(reason).status()).isBetween(200, 599);
        }
        assertThat(FailureResponses.shape(Reason.POLICY_DENIED).jsonRpcCode()).isEqualTo(-31403);
        assertThat(FailureResponses.shape(Reason.INVALID_CREDENTIALS_REQUEST).status()).isEqualTo(400);
    }
}
