package dev.portcullis.app;

import static dev.portcullis.app.GatewayHarness.RESOURCE;
import static org.assertj.core.api.Assertions.assertThat;

import dev.portcullis.testing.TestIdp;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import reactor.core.publisher.Mono;
import reactor.netty.DisposableServer;
import reactor.netty.http.server.HttpServer;

/**
 * Issue 18, found while hooking concurrency permits to the end of a call: a client that went away while the
 * gateway renewed the upstream token (CHALLENGE-07: the upstream refused the exchanged token with 401) left
 * its request without an end: no audit event, and its concurrency permit was never given back, so a
 * {@code 1 concurrent} tool stayed refused for good. The renewal now ends the request as the client's leaving.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class LimitPermitRenewalTest {
    private static final String RESULT = "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"ok\"}]}}";

    @Test
    void aClientThatLeavesWhileTheUpstreamTokenIsRenewedGivesItsPermitBack(@TempDir Path dir) throws Exception {
        AtomicInteger exchanges = new AtomicInteger();
        DisposableServer stub = HttpServer.create().host("127.0.0.1").port(0).route(r -> r
                // The token endpoint: the first exchange at once, the renewal after 1.5 s.
                .post("/token", (req, res) -> req.receive().then(Mono.defer(() -> {
                    int n = exchanges.incrementAndGet();
                    Mono<Void> answer = res.header("Content-Type", "application/json").sendString(Mono.just(
                            "{\"access_token\":\"t-" + n + "\",\"issued_token_type\":\"urn:ietf:params:oauth:token-type:access_token\","
                                    + "\"token_type\":\"Bearer\",\"expires_in\":300}")).then();
                    return n == 1 ? answer : Mono.delay(Duration.ofMillis(1_500)).then(answer);
                })))
                // The upstream refuses the first exchanged token, accepts the renewed one.
                .post("/mcp", (req, res) -> req.receive().aggregate().asString().defaultIfEmpty("").flatMap(body -> {
                    if (GatewayExtension.isEraProbe(body)) {
                        return GatewayExtension.refuseProbeAsLegacy(res);
                    }
                    if ("Bearer t-1".equals(req.requestHeaders().get("Authorization"))) {
                        return res.status(401).header("WWW-Authenticate", "Bearer error=\"invalid_token\"").send().then();
                    }
                    return res.header("Content-Type", "application/json").sendString(Mono.just(RESULT)).then();
                })))
                .bindNow();
        Path policy = Files.writeString(dir.resolve("policy.yaml"), "default: allow\ntools:\n  echo: { limits: 1 concurrent }\n");
        try (TestIdp idp = TestIdp.start();
             GatewayHarness gw = GatewayHarness.start(idp.issuer(), "http://127.0.0.1:" + stub.port() + "/mcp", """
                     policy: %s
                     upstream-auth:
                       type: token-exchange
                       token-endpoint: http://127.0.0.1:%d/token
                       client-id: portcullis
                       client-secret: gateway-secret
                       audience: todo-server""".formatted(policy, stub.port()), null)) {
            String token = idp.accessToken(RESOURCE, "mcp:tools");
            // The call: exchanged (t-1), refused by the upstream, renewal started; the client leaves meanwhile.
            try (Socket socket = new Socket("127.0.0.1", gw.gateway.port())) {
                byte[] body = GatewayHarness.toolCall(1, "echo").getBytes(StandardCharsets.UTF_8);
                OutputStream out = socket.getOutputStream();
                out.write(("POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                        + "Accept: application/json, text/event-stream\r\nAuthorization: Bearer " + token + "\r\n"
                        + "Content-Length: " + body.length + "\r\n\r\n").getBytes(StandardCharsets.UTF_8));
                out.write(body);
                out.flush();
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
                while (exchanges.get() < 2 && System.nanoTime() < deadline) {
                    Thread.sleep(10);
                }
                assertThat(exchanges.get()).as("the renewal started").isEqualTo(2);
                socket.setSoLinger(true, 0);
            }
            Thread.sleep(2_000); // the renewal answers; the request ends

            HttpResponse<String> next = gw.send(gw.post(GatewayHarness.toolCall(2, "echo"))
                    .header("Authorization", "Bearer " + token).build());
            assertThat(next.statusCode()).as("the permit came back: %s", next.body()).isEqualTo(200);
            String metrics = gw.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + gw.gateway.adminPort()
                    + "/metrics")).build()).body();
            assertThat(metrics.lines().filter(l -> l.startsWith("portcullis_requests_total{") && l.contains("status=\"499\"")))
                    .as("the leaving is audited").isNotEmpty();
        } finally {
            stub.disposeNow();
        }
    }
}
