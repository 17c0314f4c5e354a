package dev.portcullis.forward;

import dev.portcullis.inspect.Era;
import dev.portcullis.exchange.UpstreamRequest;
import dev.portcullis.inspect.McpMessage;
import io.netty.handler.codec.http.HttpHeaders;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

/**
 * The 2026-07-28 mirrored headers on the way upstream. For modern requests {@code MCP-Protocol-Version},
 * {@code Mcp-Method} and {@code Mcp-Name} are rebuilt from the exact body being forwarded, never copied
 * from the client (V26-11), and {@code Mcp-Param-*} pass unchanged (V26-12). For legacy requests they are
 * unvalidated claims: {@code Mcp-Method}, {@code Mcp-Name} and {@code Mcp-Param-*} are not sent (V26-10).
 */
final class MirroredHeaders {
    private MirroredHeaders() {}

    static void rebuild(UpstreamRequest request, HttpHeaders upstream) {
        upstream.remove("Mcp-Method");
        upstream.remove("Mcp-Name");
        if (request.era() != Era.MODERN) {
            List<String> params = null;
            for (var header : upstream) { // no names() set per request: this runs on every legacy call
                String name = header.getKey();
                if (name.regionMatches(true, 0, "mcp-param-", 0, 10)) {
                    (params == null ? params = new ArrayList<>() : params).add(name);
                }
            }
            if (params != null) {
                params.forEach(upstream::remove);
            }
            return;
        }
        McpMessage message = request.messages().get(0);
        upstream.set("MCP-Protocol-Version", request.version());
        upstream.set("Mcp-Method", message.method());
        message.target().ifPresent(name -> {
            if (message.method().equals("tools/call") || message.method().equals("resources/read")
                    || message.method().equals("prompts/get")) {
                upstream.set("Mcp-Name", headerValue(name));
            }
        });
    }

    /** Visible ASCII as it is; anything else Base64-wrapped as V26-9 defines. */
    static String headerValue(String name) {
        boolean plain = !name.isEmpty() && name.chars().allMatch(c -> c >= 0x21 && c <= 0x7E)
                && !name.startsWith("=?base64?");
        return plain ? name : "=?base64?" + Base64.getEncoder().encodeToString(name.getBytes(StandardCharsets.UTF_8)) + "?=";
    }
}
