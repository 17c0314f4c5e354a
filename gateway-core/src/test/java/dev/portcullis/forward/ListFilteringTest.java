package dev.portcullis.forward;

import static dev.portcullis.StageFixtures.toolCall;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.portcullis.failure.GatewayFailure;
import dev.portcullis.failure.Reason;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The {@code list-filter} step alone: bodies and events in, what the caller may see out. No sockets. */
class ListFilteringTest {
    private static final String LISTED = "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"tools\":[{\"name\":\"read_file\"},"
            + "{\"name\":\"delete_repo\"}]}}";
    private final ObjectMapper json = new ObjectMapper();
    private ListFilter filter;

    @BeforeEach
    void setUp(@TempDir Path dir) throws Exception {
        filter = ListFilter.forRequest(ReplyFixtures.post(ReplyFixtures.policyRoute(dir, null), toolCall(1, "read_file"))
                .authorized()).orElseThrow();
    }

    @Test
    void policy05AWholeAnswerKeepsOnlyWhatTheCallerMaySee() throws Exception {
        byte[] out = new ListFiltering(filter).body(LISTED.getBytes(StandardCharsets.UTF_8));
        assertThat(json.readTree(out).path("result").path("tools")).extracting(t -> t.path("name").asText())
                .containsExactly("read_file");
    }

    @Test
    void anAnswerThatMayHoldAListButCannotBeReadIsRefused502() {
        assertThatThrownBy(() -> new ListFiltering(filter).body("{\"result\":{\"tools\":[".getBytes(StandardCharsets.UTF_8)))
                .isInstanceOfSatisfying(GatewayFailure.class, f -> assertThat(f.reason()).isEqualTo(Reason.UPSTREAM_UNAVAILABLE));
    }

    @Test
    void eventsAreFilteredAndAnUnreadableListEventIsDropped() {
        ListFiltering step = new ListFiltering(filter);
        assertThat(new String(step.event(SseEvents.event(LISTED)), StandardCharsets.UTF_8)).contains("read_file")
                .doesNotContain("delete_repo");
        assertThat(step.event(SseEvents.event("{\"result\":{\"tools\":["))).isEmpty();
        byte[] plain = SseEvents.event("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\"}");
        assertThat(step.event(plain)).isSameAs(plain);
    }

    @Test
    void onlyA2024CallerStreamSparesTheEndpointEventTheGatewayWrote() {
        // The gateway's URL may happen to spell a list name; it is not the upstream's word and is not parsed.
        byte[] endpoint = "event: endpoint\ndata: /tools/messages?sessionId=x\n\n".getBytes(StandardCharsets.UTF_8);
        assertThat(new ListFiltering(filter, true).event(endpoint)).isSameAs(endpoint);
        assertThat(new ListFiltering(filter, false).event(endpoint)).as("anywhere else it is filtered: unreadable").isEmpty();
    }
}
