package dev.portcullis.forward;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** The {@code server-request-drop} step alone (V26-29). No sockets. */
class ServerRequestDropTest {
    private final ServerRequestDrop step = new ServerRequestDrop("r");

    @Test
    void v26_29AServerToClientRequestIsDropped() {
        assertThat(step.event(SseEvents.event("{\"jsonrpc\":\"2.0\",\"id\":\"s1\",\"method\":\"elicitation/create\"}")))
                .isEmpty();
    }

    @Test
    void notificationsAndResponsesPassUntouched() {
        byte[] notification = SseEvents.event("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\"}");
        byte[] response = SseEvents.event("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}");
        assertThat(step.event(notification)).isSameAs(notification);
        assertThat(step.event(response)).isSameAs(response);
    }

    @Test
    void anArrayLosesOnlyItsRequests() {
        byte[] mixed = SseEvents.event("[{\"jsonrpc\":\"2.0\",\"id\":\"s1\",\"method\":\"sampling/createMessage\"},"
                + "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\"}]");
        String kept = new String(step.event(mixed), StandardCharsets.UTF_8);
        assertThat(kept).contains("notifications/progress").doesNotContain("sampling/createMessage");
    }
}
