package dev.portcullis.app;

import dev.portcullis.testing.BlockingCalls;
import static dev.portcullis.app.GatewayHarness.RESOURCE;
import static org.assertj.core.api.Assertions.assertThat;

import dev.portcullis.testing.RedisServer;
import dev.portcullis.testing.TestIdp;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import reactor.netty.DisposableServer;
import reactor.netty.http.server.HttpServer;

/**
 * Issue 17: holding a call, the approval page (sign-in at a real IdP, the code redeemed, the ID token verified,
 * the decision written) and the approved call, with approvals in a real Redis and a webhook, never block an
 * event loop. BlockHound watches every Netty and Reactor non-blocking thread the whole time.
 *
 * <p>Runs in a JVM of its own (surefire execution {@code blockhound-approvals}), like SharedLimitsBlockHoundTest.
 */
@Tag("blockhound-approvals")
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class ApprovalBlockHoundTest {
    @Test
    void holdingApprovingAndLettingACallThroughNeverBlocksAnEventLoop(@TempDir Path dir) throws Exception {
        BlockingCalls blocking = BlockingCalls.install();
        DisposableServer upstream = GatewayExtension.emptyResultUpstream();
        DisposableServer hooks = HttpServer.create().host("127.0.0.1").port(0)
                .handle((req, res) -> req.receive().then(res.status(204).send())).bindNow();
        Path policy = Files.writeString(dir.resolve("policy.yaml"), """
                default: allow
                tools:
                  pay: { approval: { approvers: { roles: [approver] } } }
                """);
        Path secret = Files.writeString(dir.resolve("hook-secret"), "0123456789abcdef0123456789abcdef-secret");
        Path clientSecret = Files.writeString(dir.resolve("client-secret"), "approvals-client-secret");
        int page = GatewayHarness.freePort();
        try (TestIdp idp = TestIdp.startInteractive(); RedisServer redis = RedisServer.start();
             GatewayHarness gw = GatewayHarness.startYaml("""
                     listen: { host: 127.0.0.1, port: 0, allowed-hosts: [127.0.0.1] }
                     admin: { host: 127.0.0.1, port: 0 }
                     store: { type: redis, addresses: ["%s"], key-prefix: "ap:" }
                     issuers:
                       - issuer: %s
                         require-access-token-type: false
                     routes:
                       - name: bh
                         path: /mcp
                         upstream: http://127.0.0.1:%d/mcp
                         resource: %s
                         policy: %s
                     approvals:
                       listen: { host: 127.0.0.1, port: %d }
                       public-url: http://127.0.0.1:%d
                       issuer: %s
                       client-id: portcullis-approvals
                       client-secret-file: %s
                       webhook: { url: "http://127.0.0.1:%d/hooks", secret-file: %s }
                     """.formatted(redis.url(), idp.issuer(), upstream.port(), RESOURCE, policy, page, page, idp.issuer(),
                     clientSecret, hooks.port(), secret))) {
            String token = idp.accessToken(RESOURCE, "mcp:tools");
            HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
            String call = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"pay\",\"arguments\":{\"n\":1}}}";
            HttpRequest request = HttpRequest.newBuilder(URI.create(gw.baseUrl() + "/mcp")).timeout(Duration.ofSeconds(10))
                    .header("Content-Type", "application/json").header("Accept", "application/json, text/event-stream")
                    .header("Authorization", "Bearer " + token).POST(HttpRequest.BodyPublishers.ofString(call)).build();
            HttpResponse<String> held = http.send(request, HttpResponse.BodyHandlers.ofString());
            Matcher url = Pattern.compile("http://127\\.0\\.0\\.1:\\d+/approvals/[A-Za-z0-9_-]{22}").matcher(held.body());
            assertThat(url.find()).as(held.body()).isTrue();
            ApprovalFlowTest.Approver bob = new ApprovalFlowTest.Approver();
            bob.open(url.group(), "bob", "{\"roles\": [\"approver\"]}");
            assertThat(bob.decide(url.group(), true, "ok").uri().getQuery()).isEqualTo("done=approved");
            HttpResponse<String> through = http.send(request, HttpResponse.BodyHandlers.ofString());
            assertThat(through.body()).contains("\"result\"");
            Thread.sleep(300); // the webhook's deliveries
            assertThat(blocking.seen()).as(String.join("\n\n", blocking.seen())).isEmpty();
        } finally {
            upstream.disposeNow();
            hooks.disposeNow();
        }
    }
}
