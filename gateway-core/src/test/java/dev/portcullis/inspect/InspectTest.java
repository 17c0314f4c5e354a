package dev.portcullis.inspect;

import static dev.portcullis.StageFixtures.authenticated;
import static dev.portcullis.StageFixtures.bytes;
import static dev.portcullis.StageFixtures.post;
import static dev.portcullis.StageFixtures.principal;
import static dev.portcullis.StageFixtures.toolCall;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.portcullis.StageFixtures;
import dev.portcullis.authn.AuthenticatedRequest;
import dev.portcullis.authn.SessionBinding;
import dev.portcullis.failure.GatewayFailure;
import dev.portcullis.failure.Reason;
import dev.portcullis.listen.Inbound.BodyState;
import dev.portcullis.listen.RequestHead;
import dev.portcullis.revision.Stateless2026;
import dev.portcullis.revision.Streamable2025;
import dev.portcullis.route.Route;
import dev.portcullis.route.UpstreamEras;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import java.nio.file.Path;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Stage 4 alone: a request value and its body in, a classified request out (or the refusal). No sockets. */
class InspectTest {
    private final SessionBinding sessions = SessionBinding.withRandomKey();
    private final Inspect inspect = new Inspect(1024, 100, sessions, new UpstreamEras());
    private Route route;

    @BeforeEach
    void setUp(@TempDir Path dir) throws Exception {
        route = StageFixtures.route(StageFixtures.policy(dir));
    }

    private InspectedRequest inspect(RequestHead head, String body, BodyState state) {
        return inspect.apply(authenticated(route, head, principal("files:read")), bytes(body), state);
    }

    private static void refusedWith(Reason reason, ThrowingCallable call) {
        assertThatThrownBy(call).isInstanceOfSatisfying(GatewayFailure.class, f -> assertThat(f.reason()).isEqualTo(reason));
    }

    @Test
    void transport02BodyThatIsNotJsonIs415() {
        refusedWith(Reason.UNSUPPORTED_MEDIA_TYPE, () -> inspect(post("/mcp", "Content-Type", "text/plain"), toolCall(1, "x"),
                BodyState.COMPLETE));
    }

    @Test
    void transport12BodyOverTheLimitIs413WhateverItsFraming() {
        refusedWith(Reason.BODY_TOO_LARGE, () -> inspect(post("/mcp"), "", BodyState.TOO_LARGE));
        refusedWith(Reason.BODY_TOO_LARGE, () -> inspect(post("/mcp", "Content-Length", "5000"), "", BodyState.TOO_LARGE));
        refusedWith(Reason.BODY_TOO_LARGE, () -> inspect(post("/mcp"), "{\"a\":\"" + "x".repeat(2000) + "\"}", BodyState.COMPLETE));
    }

    @Test
    void bodySlowerThanTheRequestTimeoutIs408() {
        refusedWith(Reason.REQUEST_TIMEOUT, () -> inspect(post("/mcp"), "", BodyState.TIMED_OUT));
    }

    @Test
    void jsonrpcMessagesAreClassifiedAndTheBytesKept() {
        InspectedRequest inspected = inspect(post("/mcp"), toolCall(7, "read_file"), BodyState.COMPLETE);
        assertThat(inspected.revision()).isEqualTo(Streamable2025.REVISION);
        assertThat(inspected.messages()).singleElement().satisfies(m -> {
            assertThat(m.method()).isEqualTo("tools/call");
            assertThat(m.target()).contains("read_file");
        });
        assertThat(inspected.body()).isEqualTo(bytes(toolCall(7, "read_file")));
        assertThat(inspected.errorId().asInt()).isEqualTo(7);
        assertThat(inspected.requestId()).isEqualTo("rid-1");
    }

    @Test
    void v26_1TheEnvelopeMakesARequestModern() {
        String modern = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\",\"params\":{\"_meta\":"
                + "{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\",\"io.modelcontextprotocol/clientCapabilities\":{}}}}";
        InspectedRequest inspected = inspect(post("/mcp", "MCP-Protocol-Version", "2026-07-28", "Mcp-Method", "tools/list"),
                modern, BodyState.COMPLETE);
        assertThat(inspected.revision()).isEqualTo(Stateless2026.REVISION);
        assertThat(inspected.upstreamSessionId()).isEmpty();
        // A modern header without the envelope is not modern: refused.
        refusedWith(Reason.INVALID_PARAMS, () -> inspect(post("/mcp", "MCP-Protocol-Version", "2026-07-28"),
                toolCall(1, "read_file"), BodyState.COMPLETE));
    }

    @Test
    void jsonrpc05BatchesOnlyUnder2025_03_26() {
        String batch = "[" + toolCall(1, "read_file") + "," + toolCall(2, "read_file") + "]";
        assertThat(inspect(post("/mcp"), batch, BodyState.COMPLETE).batch()).isTrue();
        refusedWith(Reason.INVALID_JSONRPC, () -> inspect(post("/mcp", "MCP-Protocol-Version", "2025-06-18"), batch,
                BodyState.COMPLETE));
        refusedWith(Reason.PARSE_ERROR, () -> inspect(post("/mcp"), "[{", BodyState.COMPLETE));
    }

    @Test
    void transport09UnknownProtocolVersionIsRefused() {
        refusedWith(Reason.UNSUPPORTED_VERSION, () -> inspect(post("/mcp", "MCP-Protocol-Version", "1999-01-01"),
                toolCall(1, "read_file"), BodyState.COMPLETE));
    }

    @Test
    void session03ASessionIdTheGatewayDidNotIssueToThisCallerIsNotFound() {
        AuthenticatedRequest other = authenticated(route, post("/mcp"), principal("files:read"));
        String issued = sessions.seal("upstream-session", StageFixtures.principal("files:read"), "r");
        InspectedRequest ok = inspect.apply(authenticated(route, post("/mcp", "Mcp-Session-Id", issued), other.principal()),
                bytes(toolCall(1, "read_file")), BodyState.COMPLETE);
        assertThat(ok.upstreamSessionId()).contains("upstream-session");
        refusedWith(Reason.SESSION_NOT_FOUND, () -> inspect(post("/mcp", "Mcp-Session-Id", "forged"), toolCall(1, "read_file"),
                BodyState.COMPLETE));
    }

    @Test
    void getHasNoBodyAndIsLegacy() {
        RequestHead get = RequestHead.of(HttpMethod.GET, "/mcp", new DefaultHttpHeaders().set("Host", "gw.example.com"));
        InspectedRequest inspected = inspect.apply(authenticated(route, get, principal()), bytes("ignored"), BodyState.COMPLETE);
        assertThat(inspected.messages()).isEmpty();
        assertThat(inspected.body()).isEmpty();
        assertThat(inspected.revision()).isEqualTo(Streamable2025.REVISION);
    }
}
