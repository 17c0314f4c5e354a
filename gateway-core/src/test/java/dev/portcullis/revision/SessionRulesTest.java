package dev.portcullis.revision;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import org.junit.jupiter.api.Test;

class SessionRulesTest {
    /** A session-revision call carries no 2026-07-28 mirrored headers upstream, whatever their case (V26-11). */
    @Test
    void mirroredHeadersAreRemovedInAnyCase() {
        HttpHeaders upstream = new DefaultHttpHeaders().add("Mcp-Method", "tools/call").add("mcp-name", "echo")
                .add("Mcp-Param-Region", "eu").add("MCP-PARAM-limit", "5").add("Mcp-Session-Id", "s1")
                .add("X-Mcp-Param-Not", "kept");
        SessionRules.removeMirrored(upstream);
        assertThat(upstream.names()).containsExactlyInAnyOrder("Mcp-Session-Id", "X-Mcp-Param-Not");
    }
}
