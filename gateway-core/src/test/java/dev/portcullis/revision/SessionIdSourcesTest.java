package dev.portcullis.revision;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.portcullis.failure.GatewayFailure;
import dev.portcullis.failure.Reason;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import org.junit.jupiter.api.Test;

/** Issue 12, item 8: every client-supplied session id source fails to a clean 404, never a 500. */
class SessionIdSourcesTest {

    private static void assertNotFound(Runnable read) {
        assertThatThrownBy(read::run).isInstanceOfSatisfying(GatewayFailure.class,
                f -> assertThat(f.reason()).isEqualTo(Reason.SESSION_NOT_FOUND));
    }

    @Test
    void legacySessionIdQueryWithMalformedPercentEncodingIs404() {
        assertNotFound(() -> HttpSse2024.sessionId("/mcp/messages?sessionId=%zz"));
        assertNotFound(() -> HttpSse2024.sessionId("/mcp/messages?sessionId=abc%"));
        assertNotFound(() -> HttpSse2024.sessionId("/mcp/messages?x=%E0%A4%A&sessionId=abc"));
    }

    @Test
    void twoSessionIdsNameNoSession() {
        assertNotFound(() -> HttpSse2024.sessionId("/mcp/messages?sessionId=a&sessionId=b"));
        DefaultHttpHeaders headers = new DefaultHttpHeaders();
        headers.add("Mcp-Session-Id", "a");
        headers.add("Mcp-Session-Id", "b");
        assertNotFound(() -> Streamable2025.sessionId(headers));
    }

    @Test
    void wellFormedSourcesAreRead() {
        assertThat(HttpSse2024.sessionId("/mcp/messages?sessionId=a.b-c_d")).isEqualTo("a.b-c_d");
        assertThat(HttpSse2024.sessionId("/mcp/messages")).isNull();
        DefaultHttpHeaders headers = new DefaultHttpHeaders();
        assertThat(Streamable2025.sessionId(headers)).isNull();
        headers.add("Mcp-Session-Id", "a");
        assertThat(Streamable2025.sessionId(headers)).isEqualTo("a");
    }
}
