package dev.portcullis.forward;

import static dev.portcullis.StageFixtures.toolCall;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The {@code batch-answers} step alone: the gateway's errors for a batch forwarded in part (POLICY-07). No sockets. */
class BatchAnsweringTest {
    private final ObjectMapper json = new ObjectMapper();
    private BatchAnswers answers;

    @BeforeEach
    void setUp(@TempDir Path dir) throws Exception {
        var request = ReplyFixtures.post(ReplyFixtures.policyRoute(dir, null),
                "[" + toolCall(1, "read_file") + "," + toolCall(2, "delete_repo") + "," + toolCall(3, "read_file") + "]");
        answers = new BatchAnswers(request.messages(), request.partialBatch());
    }

    @Test
    void mergedInTheOrderOfTheClientsBatch() throws Exception {
        byte[] upstream = "[{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{}},{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}]"
                .getBytes(StandardCharsets.UTF_8);
        var merged = json.readTree(BatchAnswering.merged(answers).body(upstream));
        assertThat(merged).extracting(m -> m.path("id").asInt()).containsExactly(1, 2, 3);
        assertThat(merged.get(1).path("error").path("code").asInt()).isEqualTo(-32602); // delete_repo is hidden
    }

    @Test
    void after202TheErrorsAlone() throws Exception {
        var alone = json.readTree(BatchAnswering.errorsOnly(answers).body(new byte[0]));
        assertThat(alone).extracting(m -> m.path("id").asInt()).containsExactly(2);
    }

    @Test
    void e9OnAStreamEachErrorIsOneEventAheadOfTheUpstreams() {
        BatchAnswering events = BatchAnswering.events(answers);
        assertThat(events.opening()).extracting(e -> new String(e, StandardCharsets.UTF_8)).singleElement().asString()
                .startsWith("event: message").contains("\"id\":2");
        byte[] upstream = SseEvents.event("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}");
        assertThat(events.event(upstream)).isSameAs(upstream);
        assertThat(BatchAnswering.merged(answers).opening()).isEmpty();
    }
}
