package dev.portcullis.app;

import static dev.portcullis.app.GatewayHarness.RESOURCE;
import static org.assertj.core.api.Assertions.assertThat;

import dev.portcullis.testing.TestIdp;
import dev.portcullis.testing.TestMcpServer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Hostile HTTP/1.1 on raw sockets (issue 6): request smuggling patterns, oversized heads, slow
 * clients. Each ambiguous request gets its exact status and a closed connection, and whatever
 * was hidden behind it is never answered; after every attack a normal MCP client is still served.
 * HTTP/2 is not enabled on the listener, so HTTP/2 attacks (rapid reset, HPACK bombs) do not apply.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class HostileHttpTest {
    private static final String HEAD = "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n";
    /** If the gateway ever answered this, bytes a front proxy saw as body would have been run as a request. */
    private static final String SMUGGLED = "GET /.well-known/oauth-protected-resource/mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

    @RegisterExtension
    static final GatewayExtension peers = GatewayExtension.builder().config(peers -> GatewayHarness.config(peers.idp().issuer(),
            peers.upstreamUrl(), "allowed-hosts: [127.0.0.1], request-timeout: 2s, idle-timeout: 5s", "", "")).build();
    private final TestIdp idp = peers.idp();
    private final TestMcpServer upstream = peers.upstream();
    private final GatewayHarness gw = peers.gateway();

    @AfterEach
    void stillServesANormalClient() {
        assertNormalClientServed();
        assertThat(upstream.requests()).noneMatch(r -> r.path().contains("well-known"));
    }

    private void assertNormalClientServed() {
        String initialize = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":"
                + "\"2025-11-25\",\"capabilities\":{},\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}";
        var response = gw.send(gw.post(initialize).header("Authorization", "Bearer " + idp.accessToken(RESOURCE, "mcp:tools"))
                .timeout(Duration.ofSeconds(5)).build());
        assertThat(response.statusCode()).isEqualTo(200);
    }

    /** What came back on one connection: every status line, and whether the server closed it. */
    record Exchange(List<Integer> statuses, boolean closed, String raw) {}

    private Exchange exchange(String request, Duration wait) throws IOException {
        try (Socket socket = new Socket("127.0.0.1", gw.gateway.port())) {
            socket.setSoTimeout((int) wait.toMillis());
            socket.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
            socket.getOutputStream().flush();
            ByteArrayOutputStream received = new ByteArrayOutputStream();
            boolean closed;
            try {
                InputStream in = socket.getInputStream();
                byte[] buffer = new byte[8192];
                int n;
                while ((n = in.read(buffer)) >= 0) {
                    received.write(buffer, 0, n);
                }
                closed = true;
            } catch (SocketTimeoutException e) {
                closed = false;
            } catch (IOException reset) {
                closed = true;
            }
            String raw = received.toString(StandardCharsets.ISO_8859_1);
            List<Integer> statuses = new ArrayList<>();
            Matcher m = Pattern.compile("HTTP/1\\.1 (\\d{3}) ").matcher(raw);
            while (m.find()) {
                statuses.add(Integer.parseInt(m.group(1)));
            }
            return new Exchange(statuses, closed, raw);
        }
    }

    static Stream<Arguments> ambiguousRequests() {
        String chunkedEmpty = "0\r\n\r\n";
        return Stream.of(
                // Netty's own decoder refuses these
                Arguments.of("Content-Length and Transfer-Encoding (CL.TE)",
                        HEAD + "Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n" + chunkedEmpty + SMUGGLED, 400),
                Arguments.of("Transfer-Encoding and Content-Length (TE.CL)",
                        HEAD + "Transfer-Encoding: chunked\r\nContent-Length: 80\r\n\r\n" + chunkedEmpty + SMUGGLED, 400),
                Arguments.of("two differing Content-Length", HEAD + "Content-Length: 0\r\nContent-Length: 76\r\n\r\n" + SMUGGLED, 400),
                Arguments.of("two equal Content-Length", HEAD + "Content-Length: 2\r\nContent-Length: 2\r\n\r\n{}", 400),
                Arguments.of("Content-Length list", HEAD + "Content-Length: 2, 2\r\n\r\n{}", 400),
                Arguments.of("Content-Length +2", HEAD + "Content-Length: +2\r\n\r\n{}", 400),
                Arguments.of("Content-Length -2", HEAD + "Content-Length: -2\r\n\r\n{}", 400),
                Arguments.of("Content-Length 0x2", HEAD + "Content-Length: 0x2\r\n\r\n{}", 400),
                Arguments.of("Content-Length over 2^64", HEAD + "Content-Length: 99999999999999999999\r\n\r\n{}", 400),
                Arguments.of("obs-fold continuation of Transfer-Encoding",
                        HEAD + "Content-Length: 5\r\nTransfer-Encoding:\r\n chunked\r\n\r\n" + chunkedEmpty + SMUGGLED, 400),
                Arguments.of("Transfer-Encoding: chunked, identity (chunked not last)",
                        HEAD + "Transfer-Encoding: chunked, identity\r\n\r\n" + chunkedEmpty + SMUGGLED, 400),
                Arguments.of("space before the colon", HEAD + "Content-Length: 5\r\nTransfer-Encoding : chunked\r\n\r\n"
                        + chunkedEmpty + SMUGGLED, 400),
                Arguments.of("bare LF line endings", "GET /.well-known/oauth-protected-resource/mcp HTTP/1.1\nHost: 127.0.0.1\n\n", 400),
                Arguments.of("bare LF in chunked framing", HEAD + "Transfer-Encoding: chunked\r\n\r\n2\n{}\n0\n\n" + SMUGGLED, 400),
                Arguments.of("chunk size not hex", HEAD + "Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n", 400),
                Arguments.of("negative chunk size", HEAD + "Transfer-Encoding: chunked\r\n\r\n-1\r\n{}\r\n0\r\n\r\n", 400),
                Arguments.of("chunk size 0x2", HEAD + "Transfer-Encoding: chunked\r\n\r\n0x2\r\n{}\r\n0\r\n\r\n", 400),
                Arguments.of("chunk size over 2^64", HEAD + "Transfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFF\r\n{}\r\n0\r\n\r\n", 400),
                Arguments.of("bare LF inside a chunk extension", HEAD + "Transfer-Encoding: chunked\r\n\r\n2;a\nb\r\n{}\r\n0\r\n\r\n", 400),
                Arguments.of("chunk data not followed by CRLF", HEAD + "Transfer-Encoding: chunked\r\n\r\n2\r\n{}XX0\r\n\r\n", 400),
                Arguments.of("NUL in a header value", "GET /.well-known/oauth-protected-resource/mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: a\0b\r\n\r\n", 400),
                Arguments.of("HTTP/1.0 with Transfer-Encoding", "POST /mcp HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                        + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n" + chunkedEmpty + SMUGGLED, 400),
                // Netty accepted these; GatewayServer refuses them (RFC 9112 §6.1, §6.3, §3.2)
                Arguments.of("Transfer-Encoding: xchunked with Content-Length",
                        HEAD + "Content-Length: 5\r\nTransfer-Encoding: xchunked\r\n\r\n" + chunkedEmpty + SMUGGLED, 400),
                Arguments.of("two Transfer-Encoding headers (chunked, then identity)",
                        HEAD + "Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n" + chunkedEmpty + SMUGGLED, 400),
                Arguments.of("Transfer-Encoding: identity, chunked (unsupported coding)",
                        HEAD + "Transfer-Encoding: identity, chunked\r\n\r\n" + chunkedEmpty + SMUGGLED, 501),
                Arguments.of("two Host headers", "GET /.well-known/oauth-protected-resource/mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                        + "Host: evil.example\r\n\r\n" + SMUGGLED, 400),
                Arguments.of("no Host header", "GET /.well-known/oauth-protected-resource/mcp HTTP/1.1\r\n\r\n" + SMUGGLED, 400),
                // limits
                Arguments.of("header block over max-header-size", "GET /.well-known/oauth-protected-resource/mcp HTTP/1.1\r\n"
                        + "Host: 127.0.0.1\r\nX-Big: " + "a".repeat(20_000) + "\r\n\r\n", 431),
                Arguments.of("request line over 8 KiB", "GET /" + "a".repeat(9000) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 414));
    }

    @ParameterizedTest(name = "{0} -> {2}")
    @MethodSource("ambiguousRequests")
    void ambiguousRequestIsRefusedAndTheConnectionClosed(String name, String request, int status) throws IOException {
        Exchange exchange = exchange(request, Duration.ofSeconds(3));
        assertThat(exchange.statuses()).as(exchange.raw()).containsExactly(status);
        assertThat(exchange.closed()).as("connection closed after the refusal").isTrue();
        assertThat(exchange.raw()).doesNotContain("authorization_servers");
    }

    @Test
    void controlPipelinedRequestsAreEachAnswered() throws IOException {
        // Shows the detection above works: a hidden request that is parsed as one is answered.
        Exchange exchange = exchange(SMUGGLED + SMUGGLED, Duration.ofMillis(500));
        assertThat(exchange.statuses()).containsExactly(200, 200);
    }

    @Test
    void obsFoldInAnOrdinaryHeaderIsUnfoldedNotMisread() throws IOException {
        // RFC 9112 §5.2 lets a server replace obs-fold by a space; the request stays one request.
        Exchange exchange = exchange("GET /.well-known/oauth-protected-resource/mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: a\r\n b\r\n\r\n",
                Duration.ofMillis(500));
        assertThat(exchange.statuses()).containsExactly(200);
    }

    @Test
    void chunkExtensionsAndTrailingWhitespaceInAChunkSizeAreFramedAsChunked() throws IOException {
        // Netty accepts "2;a=b" (valid) and "2 " (lenient); either way exactly the 2 bytes are the body and
        // nothing after the last chunk is run as a request of its own.
        for (String size : List.of("2;a=b", "2 ")) {
            Exchange exchange = exchange(HEAD + "Transfer-Encoding: chunked\r\n\r\n" + size + "\r\n{}\r\n0\r\n\r\n",
                    Duration.ofMillis(700));
            assertThat(exchange.statuses()).as(size).containsExactly(401);
        }
    }

    @Test
    void slowLorisHeadersAreCutOffAtTheRequestTimeout() throws Exception {
        long start = System.nanoTime();
        String result = drip("POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + "a".repeat(200), "", Duration.ofMillis(200));
        Duration took = Duration.ofNanos(System.nanoTime() - start);
        assertThat(result).startsWith("HTTP/1.1 408");
        assertThat(took).isBetween(Duration.ofMillis(1500), Duration.ofMillis(4000));
    }

    @Test
    void slowLorisBodyIsCutOffAtTheRequestTimeout() throws Exception {
        long start = System.nanoTime();
        String result = slowBody();
        Duration took = Duration.ofNanos(System.nanoTime() - start);
        assertThat(result).startsWith("HTTP/1.1 ").doesNotStartWith("HTTP/1.1 2");
        assertThat(took).isBetween(Duration.ofMillis(1500), Duration.ofMillis(4000));
        assertThat(upstream.requests()).isEmpty();
    }

    @Test
    void slowLorisBodyIsAnswered408() throws Exception {
        assertThat(slowBody()).startsWith("HTTP/1.1 408");
    }

    private String slowBody() throws IOException {
        return drip("a".repeat(200), HEAD + "Authorization: Bearer " + idp.accessToken(RESOURCE, "mcp:tools")
                + "\r\nContent-Length: 200\r\n\r\n", Duration.ofMillis(200));
    }

    /** Sends {@code prefix} at once, then {@code slow} one byte per interval; returns what came back, or "open". */
    private String drip(String slow, String prefix, Duration interval) throws IOException {
        try (Socket socket = new Socket("127.0.0.1", gw.gateway.port())) {
            socket.setSoTimeout((int) interval.toMillis());
            OutputStream out = socket.getOutputStream();
            out.write(prefix.getBytes(StandardCharsets.ISO_8859_1));
            long deadline = System.nanoTime() + Duration.ofSeconds(8).toNanos();
            for (int i = 0; System.nanoTime() < deadline; i++) {
                try {
                    if (i < slow.length()) {
                        out.write(slow.charAt(i));
                        out.flush();
                    }
                } catch (IOException closedUnderUs) {
                    // the server closed while we were writing: read what it said
                }
                try {
                    byte[] answer = socket.getInputStream().readNBytes(12);
                    return answer.length == 0 ? "closed" : new String(answer, StandardCharsets.ISO_8859_1);
                } catch (SocketTimeoutException stillOpen) {
                    // keep dripping
                } catch (IOException reset) {
                    return "reset";
                }
            }
            return "open";
        }
    }

    @Test
    void manySlowAndSilentConnectionsDoNotStopOthersAndAreAllClosed() throws Exception {
        int slow = 150;
        int silent = 50;
        List<Socket> sockets = new ArrayList<>();
        ExecutorService drippers = Executors.newFixedThreadPool(4);
        try {
            for (int i = 0; i < slow + silent; i++) {
                Socket socket = new Socket("127.0.0.1", gw.gateway.port());
                socket.setSoTimeout(50);
                sockets.add(socket);
            }
            // The slow ones start a request head and add a byte now and then; the silent ones say nothing.
            Future<?> dripping = drippers.submit(() -> {
                long until = System.nanoTime() + Duration.ofSeconds(6).toNanos();
                byte[] start = "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ".getBytes(StandardCharsets.US_ASCII);
                for (int i = 0; i < slow; i++) {
                    try {
                        sockets.get(i).getOutputStream().write(start);
                    } catch (IOException ignored) {
                        // closed already
                    }
                }
                while (System.nanoTime() < until) {
                    for (int i = 0; i < slow; i++) {
                        try {
                            sockets.get(i).getOutputStream().write('a');
                        } catch (IOException closed) {
                            // the server cut it off
                        }
                    }
                    GatewayHarness.sleep(250);
                }
            });
            // Meanwhile a normal client is served, promptly, again and again.
            long until = System.nanoTime() + Duration.ofSeconds(2).toNanos();
            int served = 0;
            while (System.nanoTime() < until) {
                long t = System.nanoTime();
                assertNormalClientServed();
                assertThat(Duration.ofNanos(System.nanoTime() - t)).isLessThan(Duration.ofSeconds(1));
                served++;
            }
            assertThat(served).isGreaterThan(3);
            // request-timeout (2s) cuts off the slow heads with a 408; idle-timeout (5s) later closes the silent ones.
            GatewayHarness.sleep(1500);
            for (int i = 0; i < slow; i++) {
                assertThat(answerOrOpen(sockets.get(i))).as("slow connection " + i).startsWith("HTTP/1.1 408");
            }
            for (int i = slow; i < slow + 5; i++) { // a sample: each open one costs a read timeout
                assertThat(answerOrOpen(sockets.get(i))).as("silent connection " + i).isEqualTo("open");
            }
            GatewayHarness.sleep(2500);
            for (int i = slow; i < slow + silent; i++) {
                assertThat(answerOrOpen(sockets.get(i))).as("silent connection " + i).isEqualTo("closed");
            }
            dripping.cancel(true);
        } finally {
            drippers.shutdownNow();
            for (Socket socket : sockets) {
                socket.close();
            }
        }
    }

    /** What the server sent before closing ("closed" if nothing), or "open" if it has not closed the connection. */
    private static String answerOrOpen(Socket socket) {
        ByteArrayOutputStream received = new ByteArrayOutputStream();
        try {
            InputStream in = socket.getInputStream();
            byte[] buffer = new byte[256];
            int n;
            while ((n = in.read(buffer)) >= 0) {
                received.write(buffer, 0, n);
            }
        } catch (SocketTimeoutException open) {
            return "open";
        } catch (IOException reset) {
            // closed
        }
        return received.size() == 0 ? "closed" : received.toString(StandardCharsets.ISO_8859_1);
    }
}
