package dev.portcullis.forward;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.IntNode;
import com.fasterxml.jackson.databind.node.TextNode;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Issue 14: what a draining gateway tells a call the shutdown grace cut, and how it knows which requests of
 * a stream are still unanswered (a request answered already must not get a second answer).
 */
class DrainTest {
    private final ObjectMapper json = new ObjectMapper();

    @Test
    void theShuttingDownEventIsAJsonRpcErrorWithTheRequestsIdInsideTheAllowedCodes() throws Exception {
        String event = new String(Drain.shuttingDownEvent(new TextNode("call-7")), StandardCharsets.UTF_8);
        assertThat(event).startsWith("event: message\ndata: ").endsWith("\n\n");
        JsonNode message = json.readTree(SseEvents.data(event.getBytes(StandardCharsets.UTF_8)));
        assertThat(message.path("id").asText()).isEqualTo("call-7");
        assertThat(message.path("error").path("code").asInt()).isEqualTo(-32603);
        assertThat(message.path("error").path("message").asText()).isEqualTo("Gateway shutting down");
        // V26-26: gateway-made codes stay out of -32099..-32020 and the deprecated -32019..-32000.
        assertThat(Drain.CODE < -32099 || Drain.CODE > -32000).as("code %d", Drain.CODE).isTrue();
    }

    @Test
    void onlyResponsesCountAsAnswersAndEachAnswersItsOwnId() {
        List<JsonNode> unanswered = new ArrayList<>(List.of(new IntNode(1), new IntNode(2), new TextNode("3")));
        Drain.answered(event("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{\"id\":1}}"), unanswered);
        Drain.answered(event("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"sampling/createMessage\",\"params\":{}}"), unanswered);
        assertThat(unanswered).hasSize(3); // a notification, and a server request that reuses id 1
        Drain.answered(event("{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{}}"), unanswered);
        assertThat(unanswered).containsExactly(new IntNode(1), new TextNode("3"));
        Drain.answered(event("[{\"jsonrpc\":\"2.0\",\"id\":\"3\",\"error\":{\"code\":-1,\"message\":\"x\"}},"
                + "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}]"), unanswered);
        assertThat(unanswered).isEmpty();
        Drain.answered(event("not json, \"id\""), unanswered); // never throws
    }

    private static byte[] event(String data) {
        return ("event: message\ndata: " + data + "\n\n").getBytes(StandardCharsets.UTF_8);
    }
}
