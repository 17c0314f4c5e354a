package dev.portcullis.forward;

import io.netty.handler.codec.http.DefaultHttpHeadersFactory;
import io.netty.handler.codec.http.EmptyHttpHeaders;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.util.AsciiString;
import java.util.Iterator;
import java.util.Map;
import java.util.Optional;

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
    private static final HttpHeaders HOP_BY_HOP = names("connection", "keep-alive", "proxy-connection", "te",
            "trailer", "transfer-encoding", "upgrade", "proxy-authenticate", "proxy-authorization");
    private static final HttpHeaders NEVER_UPSTREAM = names("authorization", "dpop", "cookie", "host", "origin",
            "forwarded", "content-length", "expect", "x-real-ip",
            // The gateway reads what the upstream answers (list filtering): no compressed answers (issue 12).
            "accept-encoding");
    // dpop-nonce: a nonce is good only at the server that issued it (RFC 9449 §9); the upstream's would have the
    // client sign proofs for the gateway with it, and the gateway hands out its own (issue 16).
    private static final HttpHeaders NEVER_DOWNSTREAM = names("www-authenticate", "set-cookie", "dpop-nonce");
    private static final String X_FORWARDED = "x-forwarded-";
    private static final String ACCESS_CONTROL = "access-control-";

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
        HttpHeaders dropped = connectionNamed(in);
        // The client's value replaces one that out already holds; a header the client repeats keeps all its values.
        HttpHeaders copied = out.isEmpty() ? null : nameSet();
        for (Iterator<Map.Entry<CharSequence, CharSequence>> it = in.iteratorCharSequence(); it.hasNext(); ) {
            Map.Entry<CharSequence, CharSequence> header = it.next();
            CharSequence name = header.getKey();
            if (HOP_BY_HOP.contains(name) || NEVER_UPSTREAM.contains(name) || dropped.contains(name)
                    || startsWithIgnoreCase(name, X_FORWARDED)) {
                continue;
            }
            if (copied != null && !copied.contains(name)) {
                copied.add(name, "");
                out.set(name, header.getValue());
            } else {
                out.add(name, header.getValue());
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
        HttpHeaders dropped = connectionNamed(upstream);
        for (Iterator<Map.Entry<CharSequence, CharSequence>> it = upstream.iteratorCharSequence(); it.hasNext(); ) {
            Map.Entry<CharSequence, CharSequence> header = it.next();
            CharSequence name = header.getKey();
            if (HOP_BY_HOP.contains(name) || NEVER_DOWNSTREAM.contains(name) || dropped.contains(name)
                    || startsWithIgnoreCase(name, ACCESS_CONTROL)) {
                continue;
            }
            out.add(name, header.getValue());
        }
        if (!out.contains("Cache-Control")) {
            out.set("Cache-Control", eventStream ? "no-cache" : "no-store");
        }
    }

    /**
     * The names a {@code Connection} header lists (PROXY-03), as a set that ignores ASCII case: Netty's header map,
     * which hashes and compares names without lowercasing them (no string is made per header checked).
     */
    private static HttpHeaders connectionNamed(HttpHeaders headers) {
        if (!headers.contains(HttpHeaderNames.CONNECTION)) {
            return EmptyHttpHeaders.INSTANCE;
        }
        HttpHeaders names = nameSet();
        for (String value : headers.getAll(HttpHeaderNames.CONNECTION)) {
            for (String token : value.split(",")) {
                String name = token.strip();
                if (!name.isEmpty()) {
                    names.add(name, "");
                }
            }
        }
        return names;
    }

    /** A set of header names that ignores ASCII case; unvalidated, as a {@code Connection} value may name anything. */
    private static HttpHeaders nameSet() {
        return DefaultHttpHeadersFactory.headersFactory().withNameValidation(false).withValidation(false).newHeaders();
    }

    private static HttpHeaders names(String... names) {
        HttpHeaders set = nameSet();
        for (String name : names) {
            set.add(name, "");
        }
        return set;
    }

    private static boolean startsWithIgnoreCase(CharSequence name, String prefix) {
        return AsciiString.regionMatches(name, true, 0, prefix, 0, prefix.length());
    }
}
