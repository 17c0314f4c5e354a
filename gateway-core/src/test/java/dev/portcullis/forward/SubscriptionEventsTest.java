package dev.portcullis.forward;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.portcullis.inspect.JsonRpcInspector;
import dev.portcullis.inspect.McpMessage;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** The {@code subscription-injection} step alone (V26-20, V26-21). No sockets. */
class SubscriptionEventsTest {
    private final ObjectMapper json = new ObjectMapper();
    private final McpMessage listen = new JsonRpcInspector().inspect(ReplyFixtures.modernListen(9)
            .getBytes(StandardCharsets.UTF_8)).get(0);

    @Test
    void v26_21AStreamTheGatewayEndsClosesWithTheListenResultTaggedWithTheSubscription() throws Exception {
        byte[] closing = new SubscriptionEvents(listen, true).closing();
        JsonNode message = json.readTree(SseEvents.data(closing));
        assertThat(message.path("id").asInt()).isEqualTo(9);
        assertThat(message.path("result").path("resultType").asText()).isEqualTo("complete");
        assertThat(message.path("result").path("_meta").path(Forward.SUBSCRIPTION_ID_KEY).asInt()).isEqualTo(9);
    }

    @Test
    void itCarriesTheClientsFilterAndWhetherListChangesJoin() {
        SubscriptionEvents step = new SubscriptionEvents(listen, false);
        assertThat(step.subscriptionId().asInt()).isEqualTo(9);
        assertThat(step.notifications().path("toolsListChanged").asBoolean()).isTrue();
        assertThat(step.listChanges()).isFalse();
        byte[] event = SseEvents.event("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/tools/list_changed\"}");
        assertThat(step.event(event)).isSameAs(event);
    }
}
