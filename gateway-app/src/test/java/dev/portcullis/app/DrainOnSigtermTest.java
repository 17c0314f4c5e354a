package dev.portcullis.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.portcullis.testing.TestIdp;
import dev.portcullis.testing.TestMcpServer;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.condition.DisabledOnOs;
import org.junit.jupiter.api.condition.OS;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 14, drain: SIGTERM by PID to a real {@code portcullis run} process in the middle of a streamed
 * {@code tools/call} (a Java SDK upstream sending eight notifications over about 4 s). Readiness turns
 * false at once, the listener stops accepting, and the call either finishes (grace longer than the call)
 * or gets a JSON-RPC error event with its id (grace shorter): never a cut stream and a hung client.
 */
@DisabledOnOs(OS.WINDOWS)
class DrainOnSigtermTest {
    private static TestIdp idp;
    private static TestMcpServer upstream;

    @TempDir
    Path dir;

    @BeforeAll
    static void peers() {
        idp = TestIdp.start();
        upstream = TestMcpServer.start();
    }

    @AfterAll
    static void stopPeers() {
        if (upstream != null) upstream.close();
        if (idp != null) idp.close();
    }

    @Test
    @Timeout(value = 120, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void sigtermMidCallLetsTheStreamedCallFinishWithinTheGrace() throws Exception {
        try (GatewayProcess gw = GatewayProcess.start(config("10s")).awaitReady(60)) {
            Call call = startLongCall(gw);
            long signalled = System.nanoTime();
            gw.signal("TERM");
            // Readiness is false at once (well before the call ends), and the listener accepts nothing new.
            assertReadinessFalseWithin(gw, 2000);
            // A client of its own, so the probe needs a new connection (a pooled one could still carry it).
            java.net.http.HttpClient fresh = java.net.http.HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
            assertThatThrownBy(() -> fresh.send(HttpRequest.newBuilder(URI.create(gw.url("/mcp")))
                    .timeout(Duration.ofSeconds(2)).POST(HttpRequest.BodyPublishers.ofString("{}")).build(),
                    HttpResponse.BodyHandlers.discarding())).isInstanceOf(java.io.IOException.class);

            List<String> rest = call.rest.get(15, TimeUnit.SECONDS);
            String all = String.join("\n", rest);
            assertThat(all).as(gw.log()).contains("step 8", "long done", "\"id\":42").doesNotContain("shutting down");
            assertThat(gw.process.waitFor(15, TimeUnit.SECONDS)).as(gw.log()).isTrue();
            long tookMillis = (System.nanoTime() - signalled) / 1_000_000;
            // Drained when the call ended, not at the end of the 10 s grace.
            assertThat(tookMillis).as(gw.log()).isLessThan(9000);
            // Nothing is lost at exit: the streamed call's audit event (recorded when its stream ended, just before
            // the JVM exits) and the last log line reach the output; the writers are stopped after the drain.
            assertThat(gw.count(java.util.regex.Pattern.compile(
                    "\"event.action\":\"tools/call\".*\"jsonrpc.request.id\":\"42\""))).as(gw.log()).isEqualTo(1);
            assertThat(gw.log()).contains("Portcullis stopped");
        }
    }

    @Test
    @Timeout(value = 120, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void sigtermWithAGraceShorterThanTheCallGivesItAJsonRpcErrorWithItsId() throws Exception {
        try (GatewayProcess gw = GatewayProcess.start(config("1500ms")).awaitReady(60)) {
            Call call = startLongCall(gw);
            long signalled = System.nanoTime();
            gw.signal("TERM");
            List<String> rest = call.rest.get(10, TimeUnit.SECONDS);
            long endedMillis = (System.nanoTime() - signalled) / 1_000_000;
            String errorLine = rest.stream().filter(line -> line.startsWith("data:") && line.contains("\"error\""))
                    .findFirst().orElseThrow(() -> new AssertionError("no error event in " + rest + "\n" + gw.log()));
            assertThat(errorLine).contains("\"id\":42", "\"code\":-32603", "Gateway shutting down");
            assertThat(String.join("\n", rest)).doesNotContain("long done");
            // The call ran on until the grace ended (it was not cut at SIGTERM), and the stream then ended.
            assertThat(endedMillis).isBetween(1200L, 6000L);
            assertThat(gw.process.waitFor(15, TimeUnit.SECONDS)).as(gw.log()).isTrue();
            assertThat(gw.log()).contains("call(s) still in progress after the shutdown grace");
        }
    }

    private record Call(CompletableFuture<List<String>> rest) {}

    /** Opens a 2025-06-18 session and starts {@code long_progress} (id 42); returns once its first event arrived. */
    private static Call startLongCall(GatewayProcess gw) throws Exception {
        String token = idp.accessToken(GatewayHarness.RESOURCE, "mcp:tools");
        HttpResponse<String> init = GatewayProcess.HTTP.send(post(gw, token, null, """
                {"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},
                 "clientInfo":{"name":"drain-test","version":"1"}}}"""), HttpResponse.BodyHandlers.ofString());
        assertThat(init.statusCode()).as(init.body()).isEqualTo(200);
        String session = init.headers().firstValue("Mcp-Session-Id").orElseThrow();
        HttpResponse<String> initialized = GatewayProcess.HTTP.send(post(gw, token, session,
                "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}"), HttpResponse.BodyHandlers.ofString());
        assertThat(initialized.statusCode()).isEqualTo(202);
        HttpResponse<InputStream> response = GatewayProcess.HTTP.send(post(gw, token, session, """
                {"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"name":"long_progress","arguments":{}}}"""),
                HttpResponse.BodyHandlers.ofInputStream());
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.headers().firstValue("Content-Type").orElse("")).startsWith("text/event-stream");
        BufferedReader reader = new BufferedReader(new InputStreamReader(response.body(), StandardCharsets.UTF_8));
        for (String line; (line = reader.readLine()) != null; ) {
            if (line.contains("step 1")) {
                break;
            }
        }
        return new Call(GatewayProcess.rest(reader));
    }

    private static HttpRequest post(GatewayProcess gw, String token, String session, String body) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(gw.url("/mcp"))).timeout(Duration.ofSeconds(30))
                .header("Authorization", "Bearer " + token)
                .header("Content-Type", "application/json")
                .header("Accept", "application/json, text/event-stream")
                .POST(HttpRequest.BodyPublishers.ofString(body));
        if (session != null) {
            b.header("Mcp-Session-Id", session).header("MCP-Protocol-Version", "2025-06-18");
        }
        return b.build();
    }

    private static void assertReadinessFalseWithin(GatewayProcess gw, long millis) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
        while (System.nanoTime() < deadline) {
            try {
                if (gw.readyz().statusCode() == 503) {
                    return;
                }
            } catch (java.io.IOException closed) {
                throw new AssertionError("the admin listener closed at once instead of answering 503", closed);
            }
            Thread.sleep(20);
        }
        throw new AssertionError("/readyz still 200 " + millis + " ms after SIGTERM\n" + gw.log());
    }

    private Path config(String grace) throws Exception {
        return Files.writeString(dir.resolve("gateway.yaml"), """
                listen: { host: 127.0.0.1, port: 0, allowed-hosts: [127.0.0.1], shutdown-grace: %s }
                admin: { host: 127.0.0.1, port: 0 }
                issuers: [ { issuer: %s, algorithms: [RS256], require-access-token-type: false } ]
                routes: [ { name: slow, path: /mcp, upstream: %s, resource: %s, scopes: [mcp:tools] } ]
                """.formatted(grace, idp.issuer(), upstream.url(), GatewayHarness.RESOURCE));
    }
}
