package dev.portcullis;

import static dev.portcullis.StageFixtures.principal;
import static dev.portcullis.StageFixtures.toolCall;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.portcullis.audit.ArgumentLogging;
import dev.portcullis.audit.AuditLog;
import dev.portcullis.audit.Auditor;
import dev.portcullis.audit.RequestMetrics;
import dev.portcullis.authn.AuthenticatedRequest;
import dev.portcullis.authn.SessionBinding;
import dev.portcullis.authz.Authorize;
import dev.portcullis.config.DataSize;
import dev.portcullis.config.ListenConfig;
import dev.portcullis.exchange.UpstreamRequest;
import dev.portcullis.failure.FailureResponses;
import dev.portcullis.failure.GatewayFailure;
import dev.portcullis.failure.Reason;
import dev.portcullis.forward.ForwardResult;
import dev.portcullis.forward.LegacyStreams;
import dev.portcullis.inspect.Inspect;
import dev.portcullis.listen.GatewayServer;
import dev.portcullis.listen.Inbound;
import dev.portcullis.route.RequestOrigin;
import dev.portcullis.route.Route;
import dev.portcullis.route.RouteStage;
import dev.portcullis.route.RouteTable;
import dev.portcullis.route.UpstreamEras;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The order of the request path, without sockets: the listener's pipeline runs in an {@link EmbeddedChannel},
 * the real route, inspect and authorize stages run, and authenticate, exchange and forward are recording
 * stand-ins. A stage that refuses stops the path: nothing after it runs, and the upstream is never reached.
 */
class McpRequestPathTest {
    private final List<String> ran = new ArrayList<>();
    private final ObjectMapper json = new ObjectMapper();
    private Route route;
    private EmbeddedChannel channel;
    /** When set, authenticate answers later, through this future. */
    private CompletableFuture<AuthenticatedRequest> slowAuthentication;
    /** When set, forward holds its answer until the test completes it. */
    private List<Runnable> heldAnswers;

    @BeforeEach
    void setUp(@TempDir Path dir) throws Exception {
        route = StageFixtures.route(StageFixtures.policy(dir));
        RouteStage routeStage = new RouteStage(new RouteTable(List.of(route)),
                new RequestOrigin(Set.of("gw.example.com"), Set.of("https://gw.example.com")), json);
        Inspect inspect = new Inspect(1024, 100, SessionBinding.withRandomKey(), new UpstreamEras());
        Authorize authorize = new Authorize();
        McpRequestPath.Stages stages = new McpRequestPath.Stages(
                head -> {
                    ran.add("route");
                    return routeStage.apply(head);
                },
                routed -> {
                    ran.add("authenticate");
                    if (routed.head().header("Authorization") == null) {
                        throw GatewayFailure.of(Reason.NO_CREDENTIALS, "No bearer token");
                    }
                    AuthenticatedRequest authenticated = new AuthenticatedRequest(routed, principal("files:read"));
                    if (slowAuthentication != null) {
                        return Step.later(slowAuthentication.thenApply(ignored -> authenticated));
                    }
                    return Step.now(authenticated);
                },
                (authenticated, body, state) -> {
                    ran.add("inspect");
                    return inspect.apply(authenticated, body, state);
                },
                inspected -> {
                    ran.add("authorize");
                    return authorize.apply(inspected);
                },
                authorized -> {
                    ran.add("exchange");
                    return Step.now(new UpstreamRequest(authorized, Optional.of("upstream-token")));
                },
                (upstream, in, cors, done) -> {
                    ran.add("forward");
                    Runnable answer = () -> {
                        byte[] body = ("{\"jsonrpc\":\"2.0\",\"id\":" + upstream.errorId()
                                + ",\"result\":{}}").getBytes(StandardCharsets.UTF_8);
                        var response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK,
                                Unpooled.wrappedBuffer(body));
                        response.headers().setInt("Content-Length", body.length);
                        in.respond(response);
                        done.forwarded(new ForwardResult(200, System.nanoTime(), System.nanoTime()));
                    };
                    if (heldAnswers != null) {
                        heldAnswers.add(answer);
                    } else {
                        answer.run();
                    }
                });
        Auditor auditor = new Auditor(new AuditLog(), new RequestMetrics(new SimpleMeterRegistry(), () -> 0),
                ArgumentLogging.parse("digest", List.of()));
        McpRequestPath path = new McpRequestPath(stages, auditor, new LegacyStreams(), new FailureResponses(json),
                dev.portcullis.listen.NetworkConditions.unscraped());
        ListenConfig listen = new ListenConfig("127.0.0.1", 0, null, DataSize.ofKibibytes(1), null, null,
                Duration.ofSeconds(5), null, null, null, null);
        channel = new EmbeddedChannel();
        GatewayServer.http(channel.pipeline(), listen, path);
    }

    @AfterEach
    void tearDown() {
        channel.finishAndReleaseAll();
    }

    private static String request(String head, String body) {
        return "POST /mcp HTTP/1.1\r\nHost: gw.example.com\r\n" + head + "Content-Length: "
                + body.getBytes(StandardCharsets.UTF_8).length + "\r\n\r\n" + body;
    }

    private String exchange(String raw) {
        channel.writeInbound(Unpooled.copiedBuffer(raw, StandardCharsets.ISO_8859_1));
        channel.runPendingTasks();
        return written();
    }

    private String written() {
        StringBuilder out = new StringBuilder();
        ByteBuf buf;
        while ((buf = channel.readOutbound()) != null) {
            out.append(buf.toString(StandardCharsets.ISO_8859_1));
            buf.release();
        }
        return out.toString();
    }

    private static List<Integer> statuses(String raw) {
        List<Integer> statuses = new ArrayList<>();
        Matcher m = Pattern.compile("HTTP/1\\.1 (\\d{3}) ").matcher(raw);
        while (m.find()) {
            statuses.add(Integer.parseInt(m.group(1)));
        }
        return statuses;
    }

    @Test
    void anAllowedCallPassesEveryStageInOrderAndIsAnsweredInOneResponse() {
        String answer = exchange(request("Content-Type: application/json\r\nAuthorization: Bearer t\r\n", toolCall(1, "read_file")));
        assertThat(statuses(answer)).containsExactly(200);
        assertThat(answer).endsWith("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}");
        assertThat(ran).containsExactly("route", "authenticate", "inspect", "authorize", "exchange", "forward");
        assertThat(channel.isOpen()).as("kept alive").isTrue();
    }

    @Test
    void proxy04TheRouteStageRefusesBeforeAnyTokenIsLookedAt() {
        String answer = exchange("POST /mcp HTTP/1.1\r\nHost: evil.example\r\nContent-Length: 0\r\n\r\n");
        assertThat(statuses(answer)).containsExactly(421);
        assertThat(ran).containsExactly("route");
    }

    @Test
    void authn15AMissingTokenIsRefusedBeforeTheBodyIsLookedAt() {
        // A body the inspect stage would refuse (415) - but authenticate comes first: 401 with a challenge.
        String answer = exchange(request("Content-Type: text/plain\r\n", "not json"));
        assertThat(statuses(answer)).containsExactly(401);
        assertThat(answer).containsIgnoringCase("www-authenticate: Bearer resource_metadata=");
        assertThat(ran).containsExactly("route", "authenticate");
    }

    @Test
    void policy01ARefusedCallIsNeverExchangedNorForwarded() throws Exception {
        String answer = exchange(request("Content-Type: application/json\r\nAuthorization: Bearer t\r\n", toolCall(3, "delete_repo")));
        assertThat(statuses(answer)).containsExactly(200);
        String body = answer.substring(answer.indexOf("\r\n\r\n") + 4);
        assertThat(json.readTree(body).path("error").path("code").asInt()).isEqualTo(-32602);
        assertThat(json.readTree(body).path("id").asInt()).isEqualTo(3);
        assertThat(ran).containsExactly("route", "authenticate", "inspect", "authorize");
    }

    @Test
    void aBodyOverTheLimitIsRefusedAfterAuthenticationAndNeverReachesPolicy() {
        String answer = exchange(request("Content-Type: application/json\r\nAuthorization: Bearer t\r\n",
                "{\"a\":\"" + "x".repeat(2000) + "\"}"));
        assertThat(statuses(answer)).containsExactly(413);
        assertThat(ran).containsExactly("route", "authenticate", "inspect");
    }

    @Test
    void aStageThatWaitsContinuesOnTheConnectionsEventLoopWhenItsValueArrives() {
        slowAuthentication = new CompletableFuture<>();
        String before = exchange(request("Content-Type: application/json\r\nAuthorization: Bearer t\r\n", toolCall(1, "read_file")));
        assertThat(before).isEmpty();
        assertThat(ran).containsExactly("route", "authenticate");
        slowAuthentication.complete(null);
        channel.runPendingTasks();
        assertThat(statuses(written())).containsExactly(200);
        assertThat(ran).containsExactly("route", "authenticate", "inspect", "authorize", "exchange", "forward");
    }

    @Test
    void pipelinedRequestsAreAnsweredInTheOrderTheyCame() {
        heldAnswers = new ArrayList<>();
        String first = request("Content-Type: application/json\r\nAuthorization: Bearer t\r\n", toolCall(1, "read_file"));
        String second = request("Content-Type: application/json\r\nAuthorization: Bearer t\r\n", toolCall(2, "read_file"));
        String third = "GET /.well-known/oauth-protected-resource/mcp HTTP/1.1\r\nHost: gw.example.com\r\n\r\n";
        assertThat(exchange(first + second + third)).as("the first answer is not ready yet").isEmpty();
        assertThat(heldAnswers).as("the second waits for the first").hasSize(1);
        heldAnswers.remove(0).run();
        channel.runPendingTasks();
        String out = written();
        assertThat(out).contains("\"id\":1").doesNotContain("\"id\":2");
        heldAnswers.remove(0).run();
        channel.runPendingTasks();
        String rest = written();
        assertThat(statuses(out + rest)).containsExactly(200, 200, 200);
        assertThat(rest.indexOf("\"id\":2")).isLessThan(rest.indexOf("authorization_servers"));
    }
}
