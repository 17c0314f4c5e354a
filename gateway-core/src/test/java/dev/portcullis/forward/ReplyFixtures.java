package dev.portcullis.forward;

import static dev.portcullis.StageFixtures.bytes;

import dev.portcullis.StageFixtures;
import dev.portcullis.authn.AuthenticatedRequest;
import dev.portcullis.authn.Principal;
import dev.portcullis.authn.SessionBinding;
import dev.portcullis.authz.Authorize;
import dev.portcullis.config.RouteConfig;
import dev.portcullis.exchange.UpstreamRequest;
import dev.portcullis.inspect.Inspect;
import dev.portcullis.listen.Inbound;
import dev.portcullis.listen.RequestHead;
import dev.portcullis.policy.PolicyLoader;
import dev.portcullis.route.Route;
import dev.portcullis.route.RoutedRequest;
import dev.portcullis.route.UpstreamEras;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * Requests as forward receives them, made by the real inspect and authorize stages from a head and a body, and
 * upstream answer heads: values for the reply-plan tests. No sockets.
 */
final class ReplyFixtures {
    static final SessionBinding SESSIONS = SessionBinding.withRandomKey();
    static final String ENVELOPE = "\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","
            + "\"io.modelcontextprotocol/clientCapabilities\":{}}";

    private ReplyFixtures() {}

    /** A route whose policy ({@link StageFixtures#POLICY}) filters lists; {@code transport} "sse" for 2024-11-05. */
    static Route policyRoute(Path dir, String transport) throws Exception {
        Path file = Files.writeString(dir.resolve("policy.yaml"), StageFixtures.POLICY);
        RouteConfig config = new RouteConfig("r", "/mcp", "http://127.0.0.1:1/mcp", StageFixtures.RESOURCE, null, null,
                null, file, null, null, null, null, null, null, transport, null);
        return Route.compile(config, List.of("https://idp.example.com"), PolicyLoader.load(file).policy());
    }

    /** A route without a policy file: nothing is hidden. */
    static Route openRoute(String transport) {
        return StageFixtures.route(dev.portcullis.policy.Policy.authenticatedOnly(), transport, null);
    }

    static UpstreamRequest post(Route route, String body, String... headers) {
        return request(route, StageFixtures.post("/mcp", headers), body, StageFixtures.principal("files:read"));
    }

    static UpstreamRequest get(Route route) {
        return request(route, RequestHead.of(HttpMethod.GET, "/mcp", new DefaultHttpHeaders().set("Host", "gw.example.com")),
                "", StageFixtures.principal("files:read"));
    }

    /** The request after inspect and authorize, with an upstream token (so a 401 may be renewed). */
    static UpstreamRequest request(Route route, RequestHead head, String body, Principal principal) {
        var inspected = new Inspect(1 << 20, 100, SESSIONS, new UpstreamEras()).apply(
                new AuthenticatedRequest(new RoutedRequest(head, route, "rid-1"), principal), bytes(body),
                Inbound.BodyState.COMPLETE);
        return new UpstreamRequest(new Authorize().apply(inspected), Optional.of("upstream-token"));
    }

    static String modernCall(int id, String tool) {
        return "{\"jsonrpc\":\"2.0\",\"id\":" + id + ",\"method\":\"tools/call\",\"params\":{\"name\":\"" + tool
                + "\",\"arguments\":{}," + ENVELOPE + "}}";
    }

    static String modernListen(int id) {
        return "{\"jsonrpc\":\"2.0\",\"id\":" + id + ",\"method\":\"subscriptions/listen\",\"params\":{\"notifications\":"
                + "{\"toolsListChanged\":true}," + ENVELOPE + "}}";
    }

    static String[] modernHeaders(String method, String name) {
        return name == null ? new String[] {"MCP-Protocol-Version", "2026-07-28", "Mcp-Method", method}
                : new String[] {"MCP-Protocol-Version", "2026-07-28", "Mcp-Method", method, "Mcp-Name", name};
    }

    /** An upstream answer's head. */
    static HttpResponse answer(int status, String... headers) {
        HttpResponse response = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.valueOf(status));
        for (int i = 0; i + 1 < headers.length; i += 2) {
            response.headers().add(headers[i], headers[i + 1]);
        }
        return response;
    }

    static HttpResponse json(int status) {
        return answer(status, "Content-Type", "application/json");
    }

    static HttpResponse sse(int status) {
        return answer(status, "Content-Type", "text/event-stream");
    }
}
