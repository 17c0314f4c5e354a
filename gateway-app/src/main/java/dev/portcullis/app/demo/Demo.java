package dev.portcullis.app.demo;

import dev.portcullis.app.Gateway;
import dev.portcullis.app.config.ConfigLoader;
import java.io.PrintStream;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * {@code portcullis demo}: the gateway, a development-only token issuer and a sample MCP server,
 * all on 127.0.0.1, wired with a small policy, plus a printed guide of what to try.
 */
public final class Demo implements AutoCloseable {
    static final String POLICY = """
            # The demo policy (the format: gateway-policy/README.md).
            default: deny
            tools:
              list_notes:  { scopes: [notes:read] }
              read_note:   { scopes: [notes:read] }
              add_note:    { scopes: [notes:write], arguments: { text: { max-length: 200 } } }
              delete_note: { scopes: [notes:write], roles: [admin] }
            """;

    private final DemoNotesServer upstream;
    private final DevTokenIssuer issuer;
    private final Gateway gateway;
    private final Path dir;

    private Demo(DemoNotesServer upstream, DevTokenIssuer issuer, Gateway gateway, Path dir) {
        this.upstream = upstream;
        this.issuer = issuer;
        this.gateway = gateway;
        this.dir = dir;
    }

    /** Starts everything; {@code port} is the gateway's (0 picks a free one). */
    public static Demo start(int port) throws Exception {
        int gatewayPort = port != 0 ? port : freePort();
        String resource = "http://127.0.0.1:" + gatewayPort + "/mcp";
        DemoNotesServer upstream = new DemoNotesServer();
        DevTokenIssuer issuer = new DevTokenIssuer(resource);
        Path dir = Files.createTempDirectory("portcullis-demo");
        Path policy = Files.writeString(dir.resolve("notes-policy.yaml"), POLICY);
        String yaml = """
                # Written by `portcullis demo`.
                listen: { host: 127.0.0.1, port: %d }
                admin: { host: 127.0.0.1, port: 0 }
                issuers:
                  - issuer: %s
                    algorithms: [RS256]
                routes:
                  - name: notes
                    path: /mcp
                    upstream: %s
                    resource: %s
                    resource-name: Demo notes
                    scopes: [notes:read]
                    policy: %s
                audit: { arguments: keys }
                """.formatted(gatewayPort, quoted(issuer.issuer()), quoted(upstream.url()), quoted(resource),
                quoted(policy.toString()));
        Path config = Files.writeString(dir.resolve("gateway.yaml"), yaml);
        Gateway gateway = Gateway.start(ConfigLoader.load(config));
        long deadline = System.nanoTime() + 15_000_000_000L;
        while (!gateway.ready() && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        return new Demo(upstream, issuer, gateway, dir);
    }

    /**
     * A value written into the generated YAML as a double-quoted scalar (JSON string syntax is valid
     * YAML), so a temporary directory with " #" or ": " in its path cannot cut or restructure the file.
     */
    private static String quoted(String value) {
        try {
            return new com.fasterxml.jackson.databind.ObjectMapper().writeValueAsString(value);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    public int port() {
        return gateway.port();
    }

    public String issuerUrl() {
        return issuer.issuer();
    }

    /** The guide printed at start: every command works as printed (see DemoTest). */
    public void printGuide(PrintStream out) {
        String mcp = "http://127.0.0.1:" + gateway.port() + "/mcp";
        String headers = "-H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream'";
        String call = "'{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tools/call\",\"params\":{\"name\":\"%s\",\"arguments\":%s}}'";
        out.println("""

                Portcullis demo — everything on 127.0.0.1, nothing to install.
                  gateway      %s            (config and policy: %s)
                  MCP server   %s   (an unmodified MCP server: it checks nothing)
                  token issuer %s   DEVELOPMENT ONLY: signs any token it is asked for
                  admin        http://127.0.0.1:%d/metrics  /healthz  /readyz

                1. No token: 401 and a challenge that points to the metadata.
                   curl -i -X POST %s %s -d '{"jsonrpc":"2.0","id":1,"method":"tools/list"}'
                   curl -s http://127.0.0.1:%d/.well-known/oauth-protected-resource/mcp

                2. Mint a read-only and a read-write token.
                   READ=$(curl -s '%s/dev-token?scope=notes:read')
                   WRITE=$(curl -s '%s/dev-token?scope=notes:read%%20notes:write')

                3. The read-only caller sees only the read tools.
                   curl -s -X POST %s %s -H "Authorization: Bearer $READ" -d '{"jsonrpc":"2.0","id":2,"method":"tools/list"}'

                4. It may read ...
                   curl -s -X POST %s %s -H "Authorization: Bearer $READ" -d %s

                5. ... but a write gets 403 insufficient_scope: the client can step up.
                   curl -i -X POST %s %s -H "Authorization: Bearer $READ" -d %s

                6. With the read-write token the write goes through; delete_note needs the admin role and stays hidden.
                   curl -s -X POST %s %s -H "Authorization: Bearer $WRITE" -d %s
                   curl -s -X POST %s %s -H "Authorization: Bearer $WRITE" -d %s

                Audit events (one JSON line per decision) appear below. Ctrl-C stops the demo.
                """.formatted(mcp, dir, upstream.url(), issuer.issuer(), gateway.adminPort(),
                mcp, headers, gateway.port(),
                issuer.issuer(), issuer.issuer(),
                mcp, headers,
                mcp, headers, call.formatted(3, "read_note", "{\"title\":\"welcome\"}"),
                mcp, headers, call.formatted(4, "add_note", "{\"title\":\"idea\",\"text\":\"hello\"}"),
                mcp, headers, call.formatted(5, "add_note", "{\"title\":\"idea\",\"text\":\"hello\"}"),
                mcp, headers, call.formatted(6, "delete_note", "{\"title\":\"todo\"}")));
    }

    /**
     * Runs the guide's steps once against this demo and checks each answer; throws when one is not what
     * the guide says. {@code portcullis demo --exercise} uses it to drive the whole request path once
     * (the container image records the classes this loads in a class-data sharing archive).
     */
    public void exercise() throws Exception {
        java.net.http.HttpClient http = java.net.http.HttpClient.newHttpClient();
        String mcp = "http://127.0.0.1:" + gateway.port() + "/mcp";
        String read = fetch(http, java.net.http.HttpRequest.newBuilder(URI.create(issuer.issuer() + "/dev-token?scope=notes:read")), 200);
        String write = fetch(http, java.net.http.HttpRequest.newBuilder(URI.create(issuer.issuer() + "/dev-token?scope=notes:read%20notes:write")), 200);
        String list = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}";
        String readNote = "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"read_note\",\"arguments\":{\"title\":\"welcome\"}}}";
        String addNote = "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":\"add_note\",\"arguments\":{\"title\":\"idea\",\"text\":\"hello\"}}}";
        fetch(http, mcpPost(mcp, null, list), 401);
        fetch(http, java.net.http.HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + gateway.port()
                + "/.well-known/oauth-protected-resource/mcp")), 200);
        require(fetch(http, mcpPost(mcp, read, list), 200).contains("read_note"), "the read-only list shows read_note");
        require(fetch(http, mcpPost(mcp, read, readNote), 200).contains("Portcullis checked"), "read_note answers");
        fetch(http, mcpPost(mcp, read, addNote), 403);
        require(fetch(http, mcpPost(mcp, write, addNote), 200).contains("saved idea"), "add_note with notes:write");
    }

    private static java.net.http.HttpRequest.Builder mcpPost(String mcp, String token, String body) {
        var request = java.net.http.HttpRequest.newBuilder(URI.create(mcp))
                .header("Content-Type", "application/json").header("Accept", "application/json, text/event-stream")
                .POST(java.net.http.HttpRequest.BodyPublishers.ofString(body));
        return token == null ? request : request.header("Authorization", "Bearer " + token);
    }

    private static String fetch(java.net.http.HttpClient http, java.net.http.HttpRequest.Builder request, int status)
            throws Exception {
        var response = http.send(request.timeout(java.time.Duration.ofSeconds(10)).build(),
                java.net.http.HttpResponse.BodyHandlers.ofString());
        require(response.statusCode() == status, request.build().uri() + " answered " + response.statusCode() + ", not " + status);
        return response.body();
    }

    private static void require(boolean holds, String what) {
        if (!holds) {
            throw new IllegalStateException("demo exercise failed: " + what);
        }
    }

    public void awaitShutdown() {
        gateway.awaitShutdown();
    }

    @Override
    public void close() throws Exception {
        gateway.close();
        issuer.close();
        upstream.close();
    }

    private static int freePort() throws java.io.IOException {
        try (var socket = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        }
    }
}
