package dev.portcullis.forward;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

class SseEventsTest {

    private static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static List<String> split(String... chunks) {
        return SseEvents.rewriteEach(java.util.Arrays.stream(chunks).map(SseEventsTest::b).toList(), e -> e)
                .stream().map(e -> new String(e, StandardCharsets.UTF_8)).toList();
    }

    @Test
    void transport05EventsAreFramedAcrossChunksWithEveryLineEnding() {
        assertThat(split("id: 1\ndata: a\n\nid: 2\nda", "ta: b\n\n")).containsExactly("id: 1\ndata: a\n\n", "id: 2\ndata: b\n\n");
        assertThat(split("data: a\r\n\r\ndata: b\r\rdata: c\n\n")).containsExactly("data: a\r\n\r\n", "data: b\r\r", "data: c\n\n");
        // A CR at a chunk end may be half of a CRLF: the event is not cut there.
        assertThat(split("data: a\r\n\r", "\ndata: b\n\n")).containsExactly("data: a\r\n\r\n", "data: b\n\n");
    }

    @Test
    void transport05PrimingEventAndTrailingPartialEventPassThrough() {
        assertThat(split("id: s1-0\ndata: \n\n", ": keep-alive")).containsExactly("id: s1-0\ndata: \n\n", ": keep-alive");
    }

    @Test
    void dataLinesAreJoinedAndRewrittenInPlace() {
        byte[] event = b("event: message\nid: 7\ndata: {\"a\":\ndata: 1}\nretry: 500\n\n");
        assertThat(SseEvents.data(event)).isEqualTo("{\"a\":\n1}");
        assertThat(new String(SseEvents.withData(event, "{\"a\":2}"), StandardCharsets.UTF_8))
                .isEqualTo("event: message\nid: 7\ndata: {\"a\":2}\nretry: 500\n\n");
        assertThat(SseEvents.data(b(": comment\n\n"))).isNull();
    }
}
