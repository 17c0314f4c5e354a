package dev.portcullis.testing;

import io.modelcontextprotocol.client.McpClient;
import io.modelcontextprotocol.client.McpSyncClient;
import io.modelcontextprotocol.client.transport.HttpClientStreamableHttpTransport;
import io.modelcontextprotocol.spec.McpSchema.CallToolResult;
import io.modelcontextprotocol.spec.McpSchema.TextContent;
import java.time.Duration;

/** Java MCP SDK clients over streamable HTTP, optionally sending a bearer token on every request. */
public final class McpClients {

    public static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(10);

    private McpClients() {}

    /**
     * A sync client for {@code baseUrl + endpointPath} (e.g. "http://127.0.0.1:8080", "/mcp"),
     * not yet initialized: call {@code initialize()} first and {@code close()} at the end.
     */
    public static McpSyncClient streamable(String baseUrl, String endpointPath, String bearerTokenOrNull) {
        return spec(baseUrl, endpointPath, bearerTokenOrNull).build();
    }

    /** The client builder, for adding progress/logging consumers etc. before {@code build()}. */
    public static McpClient.SyncSpec spec(String baseUrl, String endpointPath, String bearerTokenOrNull) {
        return McpClient.sync(transport(baseUrl, endpointPath, bearerTokenOrNull))
                .requestTimeout(REQUEST_TIMEOUT)
                .initializationTimeout(REQUEST_TIMEOUT);
    }

    public static HttpClientStreamableHttpTransport transport(String baseUrl, String endpointPath,
            String bearerTokenOrNull) {
        var builder = HttpClientStreamableHttpTransport.builder(baseUrl)
                .endpoint(endpointPath)
                .connectTimeout(Duration.ofSeconds(5));
        if (bearerTokenOrNull != null) {
            builder.addHttpRequestCustomizer((request, method, uri, body, context) ->
                    request.header("Authorization", "Bearer " + bearerTokenOrNull));
        }
        return builder.build();
    }

    /** The text of the first content item of a tool result. */
    public static String text(CallToolResult result) {
        return ((TextContent) result.content().get(0)).text();
    }
}
