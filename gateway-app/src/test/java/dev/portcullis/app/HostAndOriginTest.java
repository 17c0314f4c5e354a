package dev.portcullis.app;

import static dev.portcullis.app.GatewayHarness.RESOURCE;
import static dev.portcullis.app.GatewayHarness.toolCall;
import static org.assertj.core.api.Assertions.assertThat;

import dev.portcullis.testing.TestIdp;
import dev.portcullis.testing.TestMcpServer;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.extension.RegisterExtension;

/** DNS-rebinding defences (SECURITY-07): Host and Origin are checked before the token. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class HostAndOriginTest {
    // Defaults: Host must be the resource's host (gw.example.com), Origin the resource's origin.
    @RegisterExtension
    static final GatewayExtension peers = GatewayExtension.builder().config(peers -> GatewayHarness.config(
            peers.idp().issuer(), peers.upstreamUrl(), "", "algorithms: [RS256]", "scopes: [mcp:tools]")).build();
    private final TestIdp idp = peers.idp();
    private final TestMcpServer upstream = peers.upstream();
    private final GatewayHarness gw = peers.gateway();

    /** java.net.http refuses to set Host, so these requests are written by hand. */
    private List<String> raw(String host, String origin, String method, String body, String token) throws Exception {
        try (Socket socket = new Socket("127.0.0.1", gw.gateway.port())) {
            socket.setSoTimeout(5000);
            StringBuilder request = new StringBuilder(method + " /mcp HTTP/1.1\r\nHost: " + host + "\r\n");
            if (origin != null) request.append("Origin: ").append(origin).append("\r\n");
            if (token != null) request.append("Authorization: Bearer ").append(token).append("\r\n");
            if (method.equals("OPTIONS")) {
                request.append("Access-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: authorization, mcp-protocol-version\r\n");
            }
            byte[] payload = body.getBytes(StandardCharsets.UTF_8);
            request.append("Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n")
                    .append("Content-Length: ").append(payload.length).append("\r\nConnection: close\r\n\r\n");
            OutputStream out = socket.getOutputStream();
            out.write(request.toString().getBytes(StandardCharsets.US_ASCII));
            out.write(payload);
            out.flush();
            BufferedReader in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
            List<String> lines = new ArrayList<>();
            String line;
            while ((line = in.readLine()) != null) {
                lines.add(line);
            }
            return lines;
        }
    }

    private String init() {
        return "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-11-25\","
                + "\"capabilities\":{},\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}";
    }

    @Test
    void proxy04ForeignHostIs421EvenWithAValidToken() throws Exception {
        List<String> response = raw("attacker.example", null, "POST", init(), idp.accessToken(RESOURCE, "mcp:tools"));
        assertThat(response.get(0)).isEqualTo("HTTP/1.1 421 Misdirected Request");
        assertThat(upstream.requests()).isEmpty();
    }

    @Test
    void configuredHostWithPortIsAccepted() throws Exception {
        List<String> response = raw("gw.example.com:443", null, "POST", init(), idp.accessToken(RESOURCE, "mcp:tools"));
        assertThat(response.get(0)).isEqualTo("HTTP/1.1 200 OK");
    }

    @Test
    void proxy05ForeignOriginIs403BeforeTheTokenIsChecked() throws Exception {
        // No token at all: a foreign origin still gets 403, not a 401 challenge (E5g).
        List<String> response = raw("gw.example.com", "https://evil.example", "POST", toolCall(1, "echo"), null);
        assertThat(response.get(0)).isEqualTo("HTTP/1.1 403 Forbidden");
        assertThat(String.join("\n", response)).doesNotContainIgnoringCase("WWW-Authenticate")
                .contains("{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32600,\"message\":\"Forbidden: Origin not allowed\"}}");
        assertThat(upstream.requests()).isEmpty();
    }

    @Test
    void challenge08AllowedOriginGetsCorsHeadersAndTheChallengeIsReadable() throws Exception {
        List<String> response = raw("gw.example.com", "https://gw.example.com", "POST", toolCall(1, "echo"), null);
        String all = String.join("\n", response).toLowerCase();
        assertThat(response.get(0)).isEqualTo("HTTP/1.1 401 Unauthorized");
        assertThat(all).contains("access-control-allow-origin: https://gw.example.com")
                .contains("access-control-expose-headers: www-authenticate, mcp-session-id");
    }

    @Test
    void transport01PreflightIsAnsweredWithoutAuthentication() throws Exception {
        List<String> response = raw("gw.example.com", "https://gw.example.com", "OPTIONS", "", null);
        String all = String.join("\n", response).toLowerCase();
        assertThat(response.get(0)).isEqualTo("HTTP/1.1 204 No Content");
        assertThat(all).contains("access-control-allow-methods: get, post, delete")
                .contains("access-control-allow-headers: authorization");
        assertThat(response).noneMatch(line -> line.toLowerCase().startsWith("www-authenticate:"));
        List<String> foreign = raw("gw.example.com", "https://evil.example", "OPTIONS", "", null);
        assertThat(foreign.get(0)).isEqualTo("HTTP/1.1 403 Forbidden");
    }

    @Test
    void metadataDocumentIsServedToAnyOriginAndHost() {
        HttpResponse<String> response = gw.send(HttpRequest.newBuilder(URI.create(gw.baseUrl()
                + "/.well-known/oauth-protected-resource/mcp")).header("Origin", "https://app.example.com").build());
        assertThat(response.statusCode()).isEqualTo(200);
    }
}
