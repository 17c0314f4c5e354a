package dev.portcullis.forward;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class HeaderRewriteTest {

    @Test
    void proxy01To08CallerCredentialsHopByHopAndForwardedHeadersNeverGoUpstream() {
        HttpHeaders in = new DefaultHttpHeaders()
                .add("Authorization", "Bearer caller-token")
                .add("DPoP", "proof").add("Cookie", "a=b").add("Proxy-Authorization", "x")
                .add("Connection", "X-Foo").add("X-Foo", "1").add("Keep-Alive", "5").add("TE", "trailers")
                .add("X-Forwarded-For", "6.6.6.6").add("Forwarded", "for=6.6.6.6").add("Origin", "https://app")
                .add("Host", "gw.example.com")
                .add("Mcp-Session-Id", "s1").add("MCP-Protocol-Version", "2025-11-25").add("Last-Event-ID", "e1")
                .add("Accept", "application/json, text/event-stream").add("Content-Type", "application/json");
        HttpHeaders out = new DefaultHttpHeaders();
        HeaderRewrite.toUpstream(in, out, Optional.empty(), "10.1.2.3", true);

        assertThat(out.names()).map(String::toLowerCase).doesNotContain("authorization", "dpop", "cookie",
                "proxy-authorization", "connection", "x-foo", "keep-alive", "te", "forwarded", "origin", "host");
        assertThat(out.toString()).doesNotContain("caller-token", "6.6.6.6");
        assertThat(out.get("X-Forwarded-For")).isEqualTo("10.1.2.3");
        assertThat(out.get("X-Forwarded-Proto")).isEqualTo("https");
        assertThat(out.get("X-Forwarded-Host")).isEqualTo("gw.example.com");
        assertThat(out.get("mcp-session-id")).isEqualTo("s1");
        assertThat(out.get("mcp-protocol-version")).isEqualTo("2025-11-25");
        assertThat(out.get("last-event-id")).isEqualTo("e1");
        assertThat(out.get("accept")).isEqualTo("application/json, text/event-stream");
    }

    @Test
    void upstreamCredentialReplacesNothingButIsSet() {
        HttpHeaders out = new DefaultHttpHeaders();
        HeaderRewrite.toUpstream(new DefaultHttpHeaders().add("Authorization", "Bearer caller"), out,
                Optional.of("minted"), null, false);
        assertThat(out.getAll("Authorization")).containsExactly("Bearer minted");
    }

    /** PROXY-03: what Connection names is dropped whatever its case, and a token no header could have is harmless. */
    @Test
    void proxy03ConnectionNamedHeadersAreDroppedInAnyCase() {
        HttpHeaders in = new DefaultHttpHeaders()
                .add("Connection", "x-foo, not a name, X-BAR").add("X-Foo", "1").add("x-bar", "2").add("X-Baz", "3");
        HttpHeaders out = new DefaultHttpHeaders();
        HeaderRewrite.toUpstream(in, out, Optional.empty(), null, false);
        assertThat(out.names()).map(String::toLowerCase).doesNotContain("x-foo", "x-bar", "connection").contains("x-baz");

        HttpHeaders client = new DefaultHttpHeaders();
        HeaderRewrite.toClient(new DefaultHttpHeaders().add("connection", "X-Upstream-Only").add("x-upstream-only", "1")
                .add("ACCESS-CONTROL-ALLOW-ORIGIN", "*").add("Content-Type", "application/json"), client, false);
        assertThat(client.names()).map(String::toLowerCase).containsExactlyInAnyOrder("content-type", "cache-control");
    }

    /** A header the caller repeats keeps all its values; one the headers already held is replaced by the caller's. */
    @Test
    void repeatedHeadersKeepEveryValueAndReplaceWhatWasThere() {
        HttpHeaders in = new DefaultHttpHeaders().add("Accept", "a").add("accept", "b").add("X-Forwarded-Prefix", "/p");
        HttpHeaders empty = new DefaultHttpHeaders();
        HeaderRewrite.toUpstream(in, empty, Optional.empty(), null, false);
        assertThat(empty.getAll("Accept")).containsExactly("a", "b");
        assertThat(empty.contains("X-Forwarded-Prefix")).isFalse();
        HttpHeaders prefilled = new DefaultHttpHeaders().add("Accept", "default").add("User-Agent", "client");
        HeaderRewrite.toUpstream(in, prefilled, Optional.empty(), null, false);
        assertThat(prefilled.getAll("Accept")).containsExactly("a", "b");
        assertThat(prefilled.get("User-Agent")).isEqualTo("client");
    }

    /** Issue 16: an upstream's DPoP nonce is good only at the upstream; the client gets the gateway's own. */
    @Test
    void upstreamDpopNonceNeverReachesTheClient() {
        HttpHeaders out = new DefaultHttpHeaders();
        HeaderRewrite.toClient(new DefaultHttpHeaders().add("DPoP-Nonce", "upstream-nonce").add("Content-Type", "application/json"),
                out, false);
        assertThat(out.names()).map(String::toLowerCase).doesNotContain("dpop-nonce");
        assertThat(out.get("Content-Type")).isEqualTo("application/json");
    }

    @Test
    void proxy09UpstreamChallengesAndCookiesNeverReachTheClient() {
        HttpHeaders upstream = new DefaultHttpHeaders()
                .add("WWW-Authenticate", "Bearer resource_metadata=\"https://upstream/x\"")
                .add("Set-Cookie", "s=1").add("Transfer-Encoding", "chunked")
                .add("Content-Type", "text/event-stream").add("Mcp-Session-Id", "s1");
        HttpHeaders out = new DefaultHttpHeaders();
        HeaderRewrite.toClient(upstream, out, true);
        assertThat(out.names()).map(String::toLowerCase).doesNotContain("www-authenticate", "set-cookie", "transfer-encoding");
        assertThat(out.get("Cache-Control")).isEqualTo("no-cache");
        assertThat(out.get("Mcp-Session-Id")).isEqualTo("s1");
    }
}
