package dev.portcullis.forward;

import io.netty.handler.codec.http.HttpHeaders;
import java.util.HashSet;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * What crosses the gateway in each direction.
 *
 * <p>Inbound → upstream: everything but hop-by-hop headers and those named by {@code Connection}
 * (PROXY-03), the caller's credentials ({@code Authorization}, {@code DPoP}, {@code Cookie},
 * {@code Proxy-Authorization}: PROXY-01/02), {@code Accept-Encoding} (the gateway filters what the
 * upstream answers, so it must read it: a compressed answer would pass unread), {@code Origin} (the upstream would run its own
 * origin check: PROXY-05), client-supplied {@code Forwarded}/{@code X-Forwarded-*} (PROXY-08) and
 * {@code Host} (set from the upstream URI: PROXY-04). MCP headers ({@code Mcp-Session-Id},
 * {@code MCP-Protocol-Version}, {@code Last-Event-ID}) and {@code Accept}
 * pass unchanged (PROXY-06/07); a forwarded body goes with {@code Content-Type: application/json}, the type it
 * was inspected as (issue 12).
 *
 * <p>Upstream → client: everything but hop-by-hop headers, {@code WWW-Authenticate} (it would send
 * the client to the upstream's authorization server: CHALLENGE-07), {@code DPoP-Nonce} (the upstream's, RFC 9449 §9) and {@code Set-Cookie}
 * (PROXY-09), nor the upstream's CORS headers (the gateway answers CORS itself). A {@code Cache-Control} is added when the upstream sent none, so no shared cache
 * stores MCP responses.
 */
public final class HeaderRewrite {
    private static final Set<String> HOP_BY_HOP = Set.of("connection", "keep-alive", "proxy-connection", "te",
            "trailer", "transfer-encoding", "upgrade", "proxy-authenticate", "proxy-authorization");
    private static final Set<String> NEVER_UPSTREAM = Set.of("authorization", "dpop", "cookie", "host", "origin",
            "forwarded", "content-length", "expect", "x-real-ip",
            // The gateway reads what the upstream answers (list filtering): no compressed answers (issue 12).
            "accept-encoding");
    // dpop-nonce: a nonce is good only at the server that issued it (RFC 9449 §9); the upstream's would have the
    // client sign proofs for the gateway with it, and the gateway hands out its own (issue 16).
    private static final Set<String> NEVER_DOWNSTREAM = Set.of("www-authenticate", "set-cookie", "dpop-nonce");

    private HeaderRewrite() {}

    /**
     * @param in             inbound request headers
     * @param out            upstream request headers to fill
     * @param upstreamBearer the credential for the upstream, if any (never the caller's token)
     * @param clientAddress  the caller's IP, for {@code X-Forwarded-For}
     * @param secure         whether the caller used TLS
     */
    public static void toUpstream(HttpHeaders in, HttpHeaders out, Optional<String> upstreamBearer,
                                  String clientAddress, boolean secure) {
        Set<String> dropped = connectionNamed(in);
        // The client's value replaces a default the HTTP client put there (Accept, User-Agent); a header
        // the client repeats keeps all its values.
        Set<String> copied = new java.util.HashSet<>();
        for (Map.Entry<String, String> header : in) {
            String name = header.getKey().toLowerCase(Locale.ROOT);
            if (HOP_BY_HOP.contains(name) || NEVER_UPSTREAM.contains(name) || dropped.contains(name)
                    || name.startsWith("x-forwarded-")) {
                continue;
            }
            if (copied.add(name)) {
                out.set(header.getKey(), header.getValue());
            } else {
                out.add(header.getKey(), header.getValue());
            }
        }
        if (clientAddress != null) {
            out.set("X-Forwarded-For", clientAddress);
        }
        out.set("X-Forwarded-Proto", secure ? "https" : "http");
        String host = in.get("Host");
        if (host != null) {
            out.set("X-Forwarded-Host", host);
        }
        upstreamBearer.ifPresent(token -> out.set("Authorization", "Bearer " + token));
    }

    /** Copies an upstream response's headers for the client. */
    public static void toClient(HttpHeaders upstream, HttpHeaders out, boolean eventStream) {
        Set<String> dropped = connectionNamed(upstream);
        for (Map.Entry<String, String> header : upstream) {
            String name = header.getKey().toLowerCase(Locale.ROOT);
            if (HOP_BY_HOP.contains(name) || NEVER_DOWNSTREAM.contains(name) || dropped.contains(name)
                    || name.startsWith("access-control-")) {
                continue;
            }
            out.add(header.getKey(), header.getValue());
        }
        if (!out.contains("Cache-Control")) {
            out.set("Cache-Control", eventStream ? "no-cache" : "no-store");
        }
    }

    private static Set<String> connectionNamed(HttpHeaders headers) {
        Set<String> names = new HashSet<>();
        for (String value : headers.getAll("Connection")) {
            for (String token : value.split(",")) {
                String name = token.strip().toLowerCase(Locale.ROOT);
                if (!name.isEmpty()) {
                    names.add(name);
                }
            }
        }
        return names;
    }
}
