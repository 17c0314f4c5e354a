package dev.portcullis.app;

import static org.assertj.core.api.Assertions.assertThat;

import dev.portcullis.testing.TestIdp;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.netty.DisposableServer;
import reactor.netty.http.server.HttpServer;

/**
 * Issue 14: at SIGTERM each open stream ends the way its revision ends it. A 2026-07-28
 * {@code subscriptions/listen} stream answers no request in flight: it gets its final
 * {@code subscriptions/listen} result carrying its {@code subscriptionId} (V26-21) and ends at once, so the
 * client listens again on another replica; a streamed {@code tools/call} on the same gateway runs on until
 * the grace ends and then gets its JSON-RPC error.
 */
class DrainStreamsByRevisionTest {
    private static final String META = "\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","
            + "\"io.modelcontextprotocol/clientCapabilities\":{}}";

    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void aListenStreamEndsAtOnceWithItsResultWhileACallRunsOnToTheGrace() throws Exception {
        DisposableServer upstream = HttpServer.create().host("127.0.0.1").port(0)
                .handle((req, res) -> req.receive().aggregate().asString().defaultIfEmpty("").flatMap(body -> {
                    if (body.contains("portcullis-probe")) {
                        return res.header("Content-Type", "application/json").sendString(Mono.just(
                                "{\"jsonrpc\":\"2.0\",\"id\":\"portcullis-probe\",\"result\":{\"resultType\":\"complete\","
                                        + "\"supportedVersions\":[\"2026-07-28\"],\"capabilities\":{\"tools\":{}}}}")).then();
                    }
                    String first = body.contains("subscriptions/listen")
                            ? "{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":{\"resultType\":\"subscription\",\"notifications\":"
                              + "{\"toolsListChanged\":true},\"_meta\":{\"io.modelcontextprotocol/subscriptionId\":5}}}"
                            : "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{\"progressToken\":1,\"progress\":1}}";
                    return res.header("Content-Type", "text/event-stream")
                            .sendString(Flux.concat(Mono.just("event: message\ndata: " + first + "\n\n"), Flux.never())).then();
                }))
                .bindNow();
        try (TestIdp idp = TestIdp.start()) {
            GatewayHarness gw = GatewayHarness.startYaml("""
                    listen: { host: 127.0.0.1, port: 0, allowed-hosts: [127.0.0.1], shutdown-grace: 3s }
                    admin: { host: 127.0.0.1, port: 0 }
                    issuers: [ { issuer: %s, require-access-token-type: false, algorithms: [RS256] } ]
                    routes: [ { name: modern, path: /mcp, upstream: "http://127.0.0.1:%d/mcp", resource: %s, scopes: [mcp:tools] } ]
                    """.formatted(idp.issuer(), upstream.port(), GatewayHarness.RESOURCE));
            String token = idp.accessToken(GatewayHarness.RESOURCE, "mcp:tools");
            BufferedReader listen = open(gw, token, "subscriptions/listen", null, """
                    {"jsonrpc":"2.0","id":5,"method":"subscriptions/listen","params":{%s,"notifications":{"toolsListChanged":true}}}"""
                    .formatted(META));
            BufferedReader call = open(gw, token, "tools/call", "echo", """
                    {"jsonrpc":"2.0","id":6,"method":"tools/call","params":{%s,"name":"echo","arguments":{}}}""".formatted(META));
            long began = System.nanoTime();
            CompletableFuture<Void> stopping = CompletableFuture.runAsync(gw::close);
            CompletableFuture<List<String>> listenRest = GatewayProcess.rest(listen);
            CompletableFuture<List<String>> callRest = GatewayProcess.rest(call);

            List<String> listenLines = listenRest.get(10, TimeUnit.SECONDS);
            long listenEndedMillis = (System.nanoTime() - began) / 1_000_000;
            String last = listenLines.stream().filter(l -> l.startsWith("data:")).reduce((a, b) -> b).orElseThrow();
            assertThat(last).contains("\"id\":5", "\"resultType\":\"complete\"", "\"io.modelcontextprotocol/subscriptionId\":5");
            assertThat(listenEndedMillis).as("the listen stream ends at SIGTERM, not at the end of the grace").isLessThan(2000);

            List<String> callLines = callRest.get(10, TimeUnit.SECONDS);
            long callEndedMillis = (System.nanoTime() - began) / 1_000_000;
            assertThat(String.join("\n", callLines)).contains("\"id\":6", "Gateway shutting down");
            assertThat(callEndedMillis).isGreaterThan(2500);
            stopping.get(15, TimeUnit.SECONDS);
        } finally {
            upstream.disposeNow();
        }
    }

    /** Sends a 2026-07-28 request and returns the reader of its event stream once its first event arrived. */
    private static BufferedReader open(GatewayHarness gw, String token, String method, String name, String body)
            throws Exception {
        var request = gw.post(body).header("Authorization", "Bearer " + token)
                .header("MCP-Protocol-Version", "2026-07-28").header("Mcp-Method", method);
        if (name != null) {
            request.header("Mcp-Name", name);
        }
        HttpResponse<java.io.InputStream> response = gw.http.send(request.build(), HttpResponse.BodyHandlers.ofInputStream());
        assertThat(response.statusCode()).isEqualTo(200);
        BufferedReader reader = new BufferedReader(new InputStreamReader(response.body(), StandardCharsets.UTF_8));
        for (String line; (line = reader.readLine()) != null; ) {
            if (line.startsWith("data:")) {
                break;
            }
        }
        return reader;
    }

}
