package dev.portcullis;

import dev.portcullis.authn.AuthenticatedRequest;
import dev.portcullis.authn.BearerToken;
import dev.portcullis.authn.Principal;
import dev.portcullis.config.RouteConfig;
import dev.portcullis.listen.RequestHead;
import dev.portcullis.policy.Policy;
import dev.portcullis.policy.PolicyLoader;
import dev.portcullis.route.Route;
import dev.portcullis.route.RoutedRequest;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** Values for the stage unit tests: routes, heads, principals. No sockets. */
public final class StageFixtures {
    public static final String RESOURCE = "https://gw.example.com/mcp";
    /** read_file needs files:read, write_file files:write; everything else is denied (and hidden). */
    public static final String POLICY = """
            default: deny
            tools:
              read_file: { scopes: [files:read] }
              write_file: { scopes: [files:write] }
            """;

    private StageFixtures() {}

    public static Route route(Policy policy) {
        return route(policy, null, null);
    }

    /** A route at /mcp; {@code transport} "sse" makes it a 2024-11-05 HTTP+SSE route, {@code batches} its batch mode. */
    public static Route route(Policy policy, String transport, String batches) {
        RouteConfig config = new RouteConfig("r", "/mcp", "http://127.0.0.1:1/mcp", RESOURCE, null, null, null, null, null,
                null, null, null, null, null, transport, batches);
        return Route.compile(config, List.of("https://idp.example.com"), policy);
    }

    public static Policy policy(Path dir) throws Exception {
        return PolicyLoader.load(Files.writeString(dir.resolve("policy.yaml"), POLICY)).policy();
    }

    public static Principal principal(String... scopes) {
        return new Principal("https://idp.example.com", "user-1", "agent-1", Set.of(scopes), Set.of(), Map.of(), "jti-1",
                Instant.now().plusSeconds(300), new BearerToken("caller-token"));
    }

    public static RequestHead post(String uri, String... headerPairs) {
        HttpHeaders headers = new DefaultHttpHeaders().set("Host", "gw.example.com").set("Content-Type", "application/json");
        for (int i = 0; i + 1 < headerPairs.length; i += 2) {
            headers.set(headerPairs[i], headerPairs[i + 1]);
        }
        return RequestHead.of(HttpMethod.POST, uri, headers);
    }

    public static AuthenticatedRequest authenticated(Route route, RequestHead head, Principal principal) {
        return new AuthenticatedRequest(new RoutedRequest(head, route, "rid-1"), principal);
    }

    public static byte[] bytes(String text) {
        return text.getBytes(StandardCharsets.UTF_8);
    }

    public static String toolCall(int id, String tool) {
        return "{\"jsonrpc\":\"2.0\",\"id\":" + id + ",\"method\":\"tools/call\",\"params\":{\"name\":\"" + tool
                + "\",\"arguments\":{}}}";
    }
}
