package dev.portcullis.inspect;

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
        assertNotFound(() -> Inspect.legacySessionId("/mcp/messages?sessionId=%zz"));
        assertNotFound(() -> Inspect.legacySessionId("/mcp/messages?sessionId=abc%"));
        assertNotFound(() -> Inspect.legacySessionId("/mcp/messages?x=%E0%A4%A&sessionId=abc"));
    }

    @Test
    void twoSessionIdsNameNoSession() {
        assertNotFound(() -> Inspect.legacySessionId("/mcp/messages?sessionId=a&sessionId=b"));
        DefaultHttpHeaders headers = new DefaultHttpHeaders();
        headers.add("Mcp-Session-Id", "a");
        headers.add("Mcp-Session-Id", "b");
        assertNotFound(() -> Inspect.sessionHeader(headers));
    }

    @Test
    void wellFormedSourcesAreRead() {
        assertThat(Inspect.legacySessionId("/mcp/messages?sessionId=a.b-c_d")).isEqualTo("a.b-c_d");
        assertThat(Inspect.legacySessionId("/mcp/messages")).isNull();
        DefaultHttpHeaders headers = new DefaultHttpHeaders();
        assertThat(Inspect.sessionHeader(headers)).isNull();
        headers.add("Mcp-Session-Id", "a");
        assertThat(Inspect.sessionHeader(headers)).isEqualTo("a");
    }
}
