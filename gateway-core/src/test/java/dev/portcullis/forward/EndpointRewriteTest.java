package dev.portcullis.forward;

import static org.assertj.core.api.Assertions.assertThat;

import dev.portcullis.StageFixtures;
import dev.portcullis.authn.Principal;
import dev.portcullis.route.Route;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** The {@code endpoint-rewrite} step alone (2024-11-05 HTTP+SSE, SESSION-07). No sockets. */
class EndpointRewriteTest {
    private final Route route = ReplyFixtures.openRoute("sse");
    private final Principal caller = StageFixtures.principal("files:read");
    private final EndpointRewrite step = new EndpointRewrite(route, caller, ReplyFixtures.SESSIONS);

    private static byte[] event(String text) {
        return text.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void session07TheEndpointNamesTheGatewayWithASealOnlyThisCallerCanOpen() {
        byte[] upstream = event("event: endpoint\ndata: /message?sessionId=u1\n\n");
        assertThat(step.announced(upstream)).isEqualTo("/message?sessionId=u1");
        String rewritten = new String(step.event(upstream), StandardCharsets.UTF_8);
        // The upstream's session id and path never reach the client (a sealed id is random base64url: it may hold "u1").
        assertThat(rewritten).startsWith("event: endpoint\ndata: /mcp/messages?sessionId=").doesNotContain("sessionId=u1\n", "data: /message");
        String sealed = rewritten.substring(rewritten.indexOf("sessionId=") + 10).strip();
        assertThat(ReplyFixtures.SESSIONS.open(sealed, caller, route.name())).isEqualTo("/message?sessionId=u1");
    }

    @Test
    void anAbsoluteEndpointIsResolvedAgainstTheUpstream() {
        assertThat(step.announced(event("event: endpoint\ndata: http://127.0.0.1:1/rpc?s=2\n\n"))).isEqualTo("/rpc?s=2");
    }

    @Test
    void otherEventsAreLeftAlone() {
        byte[] message = event("event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n\n");
        assertThat(step.announced(message)).isNull();
        assertThat(step.event(message)).isSameAs(message);
        byte[] empty = event("event: endpoint\n\n");
        assertThat(step.event(empty)).as("no data: nothing announced").isSameAs(empty);
    }
}
