package dev.portcullis.app.demo;

import io.modelcontextprotocol.server.McpServer;
import io.modelcontextprotocol.server.McpStatelessServerFeatures.SyncToolSpecification;
import io.modelcontextprotocol.server.McpStatelessSyncServer;
import io.modelcontextprotocol.server.transport.HttpServletStatelessServerTransport;
import io.modelcontextprotocol.spec.McpSchema;
import io.modelcontextprotocol.spec.McpSchema.CallToolResult;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentSkipListMap;
import org.apache.catalina.Context;
import org.apache.catalina.LifecycleException;
import org.apache.catalina.connector.Connector;
import org.apache.catalina.startup.Tomcat;

/**
 * The demo's upstream: an ordinary MCP server (Java MCP SDK, stateless streamable HTTP, in
 * embedded Tomcat on 127.0.0.1) that knows nothing about identity. Tools: {@code list_notes} and
 * {@code read_note} (read), {@code add_note} (write), {@code delete_note} (write, admins only by
 * the demo policy).
 */
final class DemoNotesServer implements AutoCloseable {
    private final Map<String, String> notes = new ConcurrentSkipListMap<>(Map.of(
            "welcome", "Portcullis checked your token and the policy before this note was read.",
            "todo", "Deploy Portcullis as a sidecar."));
    private final Tomcat tomcat;
    private final McpStatelessSyncServer mcp;
    private final Path baseDir;
    private final int port;

    DemoNotesServer() throws IOException, LifecycleException {
        var transport = HttpServletStatelessServerTransport.builder().messageEndpoint("/mcp").build();
        mcp = McpServer.sync(transport)
                .serverInfo("demo-notes", "1.0.0")
                .capabilities(McpSchema.ServerCapabilities.builder().tools(false).build())
                .tools(tool("list_notes", "List the titles of all notes", Map.of("type", "object"),
                                args -> String.join("\n", notes.keySet())),
                        tool("read_note", "Read one note", schema("title"),
                                args -> notes.getOrDefault(String.valueOf(args.get("title")), "(no such note)")),
                        tool("add_note", "Add or replace a note", schema("title", "text"), args -> {
                            notes.put(String.valueOf(args.get("title")), String.valueOf(args.get("text")));
                            return "saved " + args.get("title");
                        }),
                        tool("delete_note", "Delete a note", schema("title"),
                                args -> notes.remove(String.valueOf(args.get("title"))) != null ? "deleted" : "(no such note)"))
                .build();
        baseDir = Files.createTempDirectory("portcullis-demo-tomcat");
        tomcat = new Tomcat();
        tomcat.setBaseDir(baseDir.toString());
        Connector connector = new Connector();
        connector.setPort(0);
        connector.setProperty("address", "127.0.0.1");
        tomcat.setConnector(connector);
        Context context = tomcat.addContext("", baseDir.toString());
        Tomcat.addServlet(context, "mcp", transport).setAsyncSupported(true);
        context.addServletMappingDecoded("/mcp", "mcp");
        tomcat.start();
        port = connector.getLocalPort();
    }

    String url() {
        return "http://127.0.0.1:" + port + "/mcp";
    }

    private static Map<String, Object> schema(String... required) {
        Map<String, Object> properties = new java.util.LinkedHashMap<>();
        for (String name : required) {
            properties.put(name, Map.of("type", "string"));
        }
        return Map.of("type", "object", "properties", properties, "required", List.of(required));
    }

    private static SyncToolSpecification tool(String name, String description, Map<String, Object> schema,
                                              java.util.function.Function<Map<String, Object>, String> body) {
        return new SyncToolSpecification.Builder()
                .tool(McpSchema.Tool.builder(name, schema).description(description).build())
                .callHandler((context, request) -> CallToolResult.builder()
                        .addTextContent(body.apply(request.arguments() == null ? Map.of() : request.arguments()))
                        .isError(false).build())
                .build();
    }

    @Override
    public void close() throws Exception {
        mcp.close();
        tomcat.stop();
        tomcat.destroy();
    }
}
