package dev.portcullis.revision;

import static dev.portcullis.StageFixtures.bytes;
import static dev.portcullis.StageFixtures.post;
import static dev.portcullis.StageFixtures.principal;
import static dev.portcullis.StageFixtures.toolCall;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.portcullis.StageFixtures;
import dev.portcullis.authn.Principal;
import dev.portcullis.authn.SessionBinding;
import dev.portcullis.failure.FailureResponses;
import dev.portcullis.failure.GatewayFailure;
import dev.portcullis.failure.Reason;
import dev.portcullis.inspect.JsonRpcInspector;
import dev.portcullis.inspect.McpMessage;
import dev.portcullis.listen.RequestHead;
import dev.portcullis.policy.Policy;
import dev.portcullis.route.Route;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

/**
 * Each revision's room alone, without sockets: how a request's revision is chosen (V26-1), and what each room
 * checks, how it carries sessions upstream, what it decides about the reply and where it delivers a refusal.
 */
class McpRevisionTest {
    private static final String ENVELOPE = "\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","
            + "\"io.modelcontextprotocol/clientCapabilities\":{}}";
    private static final Route STREAMABLE = StageFixtures.route(Policy.authenticatedOnly());
    private static final Route SSE = StageFixtures.route(Policy.authenticatedOnly(), "sse", null);
    private static final SessionBinding SESSIONS = SessionBinding.withRandomKey();
    private static final Principal CALLER = principal("files:read");

    private static List<McpMessage> messages(String body) {
        return new JsonRpcInspector().inspect(bytes(body));
    }

    private static String modernCall(int id, String tool) {
        return "{\"jsonrpc\":\"2.0\",\"id\":" + id + ",\"method\":\"tools/call\",\"params\":{\"name\":\"" + tool
                + "\",\"arguments\":{}," + ENVELOPE + "}}";
    }

    private static String modern(String method) {
        return "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"" + method + "\",\"params\":{" + ENVELOPE + "}}";
    }

    private static HttpHeaders headers(String... pairs) {
        HttpHeaders headers = new DefaultHttpHeaders();
        for (int i = 0; i + 1 < pairs.length; i += 2) {
            headers.add(pairs[i], pairs[i + 1]);
        }
        return headers;
    }

    private static void refusedWith(Reason reason, ThrowingCallable call) {
        assertThatThrownBy(call).isInstanceOfSatisfying(GatewayFailure.class, f -> assertThat(f.reason()).isEqualTo(reason));
    }

    @Nested
    class Choosing {
        @Test
        void v26_1TheEnvelopeMakesOneMessage2026OnAnyRoute() {
            assertThat(McpRevision.of(STREAMABLE, messages(modernCall(1, "echo")), false)).isSameAs(Stateless2026.REVISION);
            assertThat(McpRevision.of(SSE, messages(modernCall(1, "echo")), false)).isSameAs(Stateless2026.REVISION);
        }

        @Test
        void v26_1WithoutTheEnvelopeTheRoutesTransportDecides() {
            assertThat(McpRevision.of(STREAMABLE, messages(toolCall(1, "echo")), false)).isSameAs(Streamable2025.REVISION);
            assertThat(McpRevision.of(SSE, messages(toolCall(1, "echo")), false)).isSameAs(HttpSse2024.REVISION);
            assertThat(McpRevision.of(STREAMABLE, List.of(), false)).as("GET, DELETE").isSameAs(Streamable2025.REVISION);
            assertThat(McpRevision.of(SSE, List.of(), false)).isSameAs(HttpSse2024.REVISION);
        }

        @Test
        void aBatchIsNever2026() {
            List<McpMessage> batch = messages("[" + modernCall(1, "a") + "," + modernCall(2, "b") + "]");
            assertThat(McpRevision.of(STREAMABLE, batch, true)).isSameAs(Streamable2025.REVISION);
        }
    }

    @Nested
    class HttpSse2024Room {
        private final McpRevision room = HttpSse2024.REVISION;

        @Test
        void jsonrpc05NoBatchesIn2024_11_05EvenWithoutAVersionHeader() {
            String batch = "[" + toolCall(1, "a") + "," + toolCall(2, "b") + "]";
            refusedWith(Reason.INVALID_JSONRPC, () -> room.admit(headers(), messages(batch), true));
            assertThatCode(() -> room.admit(headers(), messages(toolCall(1, "a")), false)).doesNotThrowAnyException();
        }

        @Test
        void transport09AnUnknownVersionHeaderIsRefused() {
            refusedWith(Reason.UNSUPPORTED_VERSION, () -> room.admit(headers("MCP-Protocol-Version", "1999-01-01"),
                    messages(toolCall(1, "a")), false));
        }

        @Test
        void session07TheSessionIsTheMessageEndpointsQueryAndMustBeTheCallers() {
            String sealed = SESSIONS.seal("/message?sessionId=u1", CALLER, SSE.name());
            RequestHead head = post("/mcp/messages?sessionId=" + sealed);
            Optional<String> upstream = room.upstreamSession(head, CALLER, SSE, SESSIONS);
            assertThat(upstream).contains("/message?sessionId=u1");
            assertThat(room.upstreamTarget(SSE, head, upstream)).isEqualTo(URI.create("http://127.0.0.1:1/message?sessionId=u1"));
            refusedWith(Reason.SESSION_NOT_FOUND, () -> room.upstreamSession(post("/mcp/messages?sessionId=forged"), CALLER,
                    SSE, SESSIONS));
            // A header session id means nothing in this revision.
            assertThat(room.upstreamSession(post("/mcp", "Mcp-Session-Id", sealed), CALLER, SSE, SESSIONS)).isEmpty();
        }

        @Test
        void v26_10NoSessionHeaderAndNoMirroredClaimsGoUpstream() {
            HttpHeaders upstream = headers("Mcp-Session-Id", "gw-id", "Mcp-Method", "tools/call", "Mcp-Name", "x",
                    "Mcp-Param-Path", "/etc");
            room.upstreamHeaders(messages(toolCall(1, "a")), Optional.of("/message?sessionId=u1"), upstream);
            assertThat(upstream.names()).isEmpty();
        }

        @Test
        void transport11ARefusalGoesOnTheCallersOpenStream() {
            List<String> delivered = new ArrayList<>();
            McpRevision.CallerStreams streams = (endpoint, jsonRpc) -> {
                delivered.add(endpoint + " " + new String(jsonRpc, StandardCharsets.UTF_8));
                return true;
            };
            FailureResponses failures = new FailureResponses(new ObjectMapper());
            GatewayFailure denied = GatewayFailure.of(Reason.POLICY_DENIED, "Denied by gateway policy")
                    .withJsonRpcId(new ObjectMapper().getNodeFactory().numberNode(4));
            assertThat(room.refusedOnCallerStream(denied, Optional.of("/message?sessionId=u1"), failures, streams)).isTrue();
            assertThat(delivered).singleElement().asString().startsWith("/message?sessionId=u1 ").contains("\"id\":4");
            // A step-up challenge is an HTTP answer on the POST; without a session, or a stream, nothing is delivered.
            GatewayFailure stepUp = GatewayFailure.insufficientScope("Additional scope is required", Set.of("files:write"));
            assertThat(room.refusedOnCallerStream(stepUp, Optional.of("/message?sessionId=u1"), failures, streams)).isFalse();
            assertThat(room.refusedOnCallerStream(denied, Optional.empty(), failures, streams)).isFalse();
            assertThat(room.refusedOnCallerStream(denied, Optional.of("/gone"), failures, (e, m) -> false)).isFalse();
            assertThat(delivered).hasSize(1);
        }

        @Test
        void theGetStreamAnswersPostsSoItIsNotStandingAndItsEndpointIsRewritten() {
            assertThat(room.standingStream(HttpMethod.GET, List.of())).isFalse();
            assertThat(room.endpointStream(HttpMethod.GET)).isTrue();
            assertThat(room.endpointStream(HttpMethod.POST)).isFalse();
            assertThat(room.dropsServerRequests()).isFalse();
            assertThat(room.cacheHintCeilingMillis(SSE)).isEqualTo(-1);
        }
    }

    @Nested
    class Streamable2025Room {
        private final McpRevision room = Streamable2025.REVISION;

        @Test
        void jsonrpc05BatchesOnlyUnder2025_03_26AndNeverWithInitialize() {
            String batch = "[" + toolCall(1, "a") + "," + toolCall(2, "b") + "]";
            assertThatCode(() -> room.admit(headers(), messages(batch), true)).doesNotThrowAnyException();
            assertThatCode(() -> room.admit(headers("MCP-Protocol-Version", "2025-03-26"), messages(batch), true))
                    .doesNotThrowAnyException();
            refusedWith(Reason.INVALID_JSONRPC, () -> room.admit(headers("MCP-Protocol-Version", "2025-06-18"),
                    messages(batch), true));
            String withInitialize = "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{}}," + toolCall(2, "b") + "]";
            refusedWith(Reason.INVALID_JSONRPC, () -> room.admit(headers(), messages(withInitialize), true));
            String holding2026 = "[" + modernCall(1, "a") + "," + toolCall(2, "b") + "]";
            refusedWith(Reason.INVALID_JSONRPC, () -> room.admit(headers(), messages(holding2026), true));
        }

        @Test
        void v26_1A2026HeaderWithoutTheEnvelopeIsInvalidParams() {
            refusedWith(Reason.INVALID_PARAMS, () -> room.admit(headers("MCP-Protocol-Version", "2026-07-28"),
                    messages(toolCall(1, "a")), false));
            refusedWith(Reason.UNSUPPORTED_VERSION, () -> room.admit(headers("MCP-Protocol-Version", "1999-01-01"),
                    messages(toolCall(1, "a")), false));
            assertThatCode(() -> room.admit(headers("MCP-Protocol-Version", "2025-11-25"), messages(toolCall(1, "a")), false))
                    .doesNotThrowAnyException();
        }

        @Test
        void session03TheUpstreamGetsItsOwnSessionIdBack() {
            String sealed = SESSIONS.seal("upstream-session", CALLER, STREAMABLE.name());
            Optional<String> upstream = room.upstreamSession(post("/mcp", "Mcp-Session-Id", sealed), CALLER, STREAMABLE, SESSIONS);
            assertThat(upstream).contains("upstream-session");
            refusedWith(Reason.SESSION_NOT_FOUND, () -> room.upstreamSession(post("/mcp", "Mcp-Session-Id", sealed), CALLER,
                    otherRoute(), SESSIONS));
            HttpHeaders headers = headers("Mcp-Session-Id", sealed, "Mcp-Method", "tools/call", "Mcp-Param-Path", "/etc");
            room.upstreamHeaders(messages(toolCall(1, "a")), upstream, headers);
            assertThat(headers.getAll("Mcp-Session-Id")).containsExactly("upstream-session");
            assertThat(headers.contains("Mcp-Method")).isFalse();
            assertThat(headers.contains("Mcp-Param-Path")).isFalse();
        }

        @Test
        void aGetStreamIsStandingAndNothingIsDeliveredElsewhere() {
            assertThat(room.standingStream(HttpMethod.GET, List.of())).isTrue();
            assertThat(room.standingStream(HttpMethod.POST, messages(toolCall(1, "a")))).isFalse();
            assertThat(room.listenRequest(messages(toolCall(1, "a")))).isEmpty();
            assertThat(room.refusedOnCallerStream(GatewayFailure.of(Reason.POLICY_DENIED, "Denied by gateway policy"),
                    Optional.of("s"), new FailureResponses(new ObjectMapper()), (e, m) -> true)).isFalse();
            assertThat(room.methodNotFound()).isEqualTo(Reason.METHOD_NOT_FOUND);
        }

        @Test
        void v26_7ARequestToAn2026OnlyUpstreamNamesWhatTheRouteServes() {
            GatewayFailure refusal = room.notServed(messages(toolCall(3, "a")).get(0), Set.of(Stateless2026.REVISION));
            assertThat(refusal.reason()).isEqualTo(Reason.ERA_NOT_SERVED);
            assertThat(refusal.description()).contains("2026-07-28");
            assertThat(refusal.jsonRpcId().asInt()).isEqualTo(3);
        }
    }

    @Nested
    class Stateless2026Room {
        private final McpRevision room = Stateless2026.REVISION;

        @Test
        void v26_8HeadersMustAgreeWithTheBody() {
            List<McpMessage> call = messages(modernCall(1, "echo"));
            assertThatCode(() -> room.admit(headers("MCP-Protocol-Version", "2026-07-28", "Mcp-Method", "tools/call",
                    "Mcp-Name", "echo"), call, false)).doesNotThrowAnyException();
            refusedWith(Reason.HEADER_MISMATCH, () -> room.admit(headers("MCP-Protocol-Version", "2026-07-28",
                    "Mcp-Method", "tools/call", "Mcp-Name", "safe_tool"), call, false));
            refusedWith(Reason.MODERN_METHOD_NOT_FOUND, () -> room.admit(headers("MCP-Protocol-Version", "2026-07-28",
                    "Mcp-Method", "ping"), messages(modern("ping")), false));
        }

        @Test
        void v26_15NoSessionEvenWhenTheRequestCarriesOne() {
            String sealed = SESSIONS.seal("upstream-session", CALLER, STREAMABLE.name());
            assertThat(room.upstreamSession(post("/mcp", "Mcp-Session-Id", sealed), CALLER, STREAMABLE, SESSIONS)).isEmpty();
            // Not even a forged one is looked at: the revision never requires a session (V26-1).
            assertThat(room.upstreamSession(post("/mcp", "Mcp-Session-Id", "forged"), CALLER, STREAMABLE, SESSIONS)).isEmpty();
        }

        @Test
        void v26_11MirroredHeadersAreRebuiltFromTheBodyAndParamsPass() {
            HttpHeaders upstream = headers("MCP-Protocol-Version", "2026-07-28", "Mcp-Method", "tools/list",
                    "Mcp-Name", "lie", "Mcp-Session-Id", "gw-id", "Mcp-Param-Path", "/tmp");
            room.upstreamHeaders(messages(modernCall(1, "éçho")), Optional.empty(), upstream);
            assertThat(upstream.get("Mcp-Method")).isEqualTo("tools/call");
            assertThat(upstream.getAll("Mcp-Name")).containsExactly("=?base64?w6nDp2hv?=");
            assertThat(upstream.get("MCP-Protocol-Version")).isEqualTo("2026-07-28");
            assertThat(upstream.contains("Mcp-Session-Id")).isFalse();
            assertThat(upstream.get("Mcp-Param-Path")).as("V26-12").isEqualTo("/tmp");
        }

        @Test
        void v26_20ListenStreamsAreStandingAndServerRequestsAreDropped() {
            List<McpMessage> listen = messages(modern("subscriptions/listen"));
            assertThat(room.listenRequest(listen)).isPresent();
            assertThat(room.standingStream(HttpMethod.POST, listen)).isTrue();
            assertThat(room.standingStream(HttpMethod.POST, messages(modernCall(1, "a")))).isFalse();
            assertThat(room.dropsServerRequests()).as("V26-29").isTrue();
            assertThat(room.endpointStream(HttpMethod.GET)).isFalse();
        }

        @Test
        void v26_33CacheHintsAreCappedAtThePolicyReloadInterval() {
            assertThat(room.cacheHintCeilingMillis(STREAMABLE))
                    .isEqualTo(STREAMABLE.config().policyReloadInterval().toMillis());
            assertThat(room.narrowsDiscover()).as("V26-5").isTrue();
            assertThat(room.methodNotFound()).as("V26-25").isEqualTo(Reason.MODERN_METHOD_NOT_FOUND);
        }

        @Test
        void v26_45ARequestToASessionOnlyUpstreamGetsAnErrorA2025ClientFallsBackOn() {
            GatewayFailure refusal = room.notServed(messages(modernCall(5, "a")).get(0), Set.of(Streamable2025.REVISION));
            assertThat(refusal.reason()).isEqualTo(Reason.ERA_NOT_SERVED);
            assertThat(refusal.description()).contains("2025-11-25").doesNotContain("2026-07-28");
            assertThat(refusal.jsonRpcId().asInt()).isEqualTo(5);
        }
    }

    private static Route otherRoute() {
        var config = new dev.portcullis.config.RouteConfig("other", "/other", "http://127.0.0.1:1/mcp", StageFixtures.RESOURCE,
                null, null, null, null, null, null, null, null, null, null, null, null);
        return Route.compile(config, List.of("https://idp.example.com"), Policy.authenticatedOnly());
    }
}
