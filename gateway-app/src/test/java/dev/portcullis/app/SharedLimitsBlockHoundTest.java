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
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import reactor.netty.DisposableServer;

/**
 * Issue 18: the limits counted in a real Redis never block an event loop, neither while Redis answers nor
 * while it is down (the fallback runs on the store's threads and the gateway's loops) nor when it comes back;
 * with reserves ({@code store.reserve}: the default rate and the route's cap reserve, the others stay exact).
 * BlockHound watches every Netty and Reactor non-blocking thread the whole time.
 *
 * <p>Runs in a JVM of its own (surefire execution {@code blockhound-limits}): BlockHound, once installed, stays
 * for the life of the JVM, and another test class's installation would keep this one's callback out.
 */
@Tag("blockhound-limits")
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class SharedLimitsBlockHoundTest {
    @Test
    void countingLimitsInRedisNeverBlocksAnEventLoopEvenWhileRedisIsDown(@TempDir Path dir) throws Exception {
        BlockingCalls blocking = BlockingCalls.install();
        DisposableServer upstream = GatewayExtension.emptyResultUpstream();
        Path policy = Files.writeString(dir.resolve("policy.yaml"), """
                default: allow
                limits: { default: 100000/min per subject, fail: local }
                tools:
                  echo: { limits: [10/s per subject+agent, 8 concurrent per tool, 2000 concurrent per route] }
                """);
        try (TestIdp idp = TestIdp.start(); RedisServer redis = RedisServer.start();
             GatewayHarness gw = GatewayHarness.startYaml("""
                     listen: { host: 127.0.0.1, port: 0, allowed-hosts: [127.0.0.1] }
                     admin: { host: 127.0.0.1, port: 0 }
                     store: { type: redis, addresses: ["%s"], key-prefix: "bh:", timeout: 100ms, circuit-open: 300ms,
                             reserve: 1%%, reserve-hold: 200ms }
                     issuers:
                       - issuer: %s
                         require-access-token-type: false
                     routes:
                       - name: bh
                         path: /mcp
                         upstream: http://127.0.0.1:%d/mcp
                         resource: %s
                         policy: %s
                     """.formatted(redis.url(), idp.issuer(), upstream.port(), RESOURCE, policy))) {
            String token = idp.accessToken(RESOURCE, "mcp:tools");
            HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
            AtomicInteger ok = new AtomicInteger();
            AtomicInteger limited = new AtomicInteger();
            Queue<String> other = new ConcurrentLinkedQueue<>();
            ExecutorService clients = Executors.newFixedThreadPool(8);
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(4_000);
            List<Future<?>> running = new ArrayList<>();
            for (int t = 0; t < 8; t++) {
                running.add(clients.submit(() -> {
                    for (int i = 0; i < 5_000 && System.nanoTime() < deadline; i++) {
                        try {
                            HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create(gw.baseUrl() + "/mcp"))
                                    .timeout(Duration.ofSeconds(5)).header("Content-Type", "application/json")
                                    .header("Accept", "application/json, text/event-stream").header("Authorization", "Bearer " + token)
                                    .POST(HttpRequest.BodyPublishers.ofString(GatewayHarness.toolCall(i, "echo"))).build(),
                                    HttpResponse.BodyHandlers.ofString());
                            if (response.statusCode() == 200) {
                                ok.incrementAndGet();
                            } else if (response.statusCode() == 429) {
                                limited.incrementAndGet();
                            } else {
                                other.add(response.statusCode() + " " + response.body());
                            }
                        } catch (Exception e) {
                            other.add(e.toString());
                        }
                    }
                }));
            }
            Thread.sleep(1_200);
            redis.kill();
            Thread.sleep(1_200);
            redis.restart();
            for (Future<?> f : running) {
                f.get(60, TimeUnit.SECONDS);
            }
            clients.shutdown();
            System.out.println("issue 18 BlockHound run: " + ok.get() + " answered, " + limited.get() + " limited, "
                    + blocking.seen().size() + " blocking call(s)");
            assertThat(other).isEmpty();
            assertThat(ok.get()).isPositive();
            assertThat(limited.get()).as("the limits were counted").isPositive();
            assertThat(blocking.seen()).as(String.join("\n\n", blocking.seen())).isEmpty();
        } finally {
            upstream.disposeNow();
        }
    }
}
