package dev.portcullis.route;

import dev.portcullis.failure.GatewayFailure;
import dev.portcullis.failure.Reason;
import io.netty.handler.codec.http.HttpHeaders;
import java.net.URI;
import java.util.Locale;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * DNS-rebinding defences, checked before any token is looked at (SECURITY-07):
 * <ul>
 *   <li>{@code Host} must name this gateway: one of {@code listen.allowed-hosts} (default: the hosts of
 *       the routes' resource identifiers). Anything else → 421 (PROXY-04).</li>
 *   <li>{@code Origin}, when present (browsers), must be one of {@code listen.allowed-origins} (default:
 *       the origins of the routes' resource identifiers). Anything else → 403 (PROXY-05). Requests
 *       without {@code Origin} are non-browser clients and pass.</li>
 * </ul>
 * An allowed origin gets CORS headers, including {@code Access-Control-Expose-Headers} so browser
 * clients can read the challenge and the session id (CHALLENGE-08).
 */
public final class RequestOrigin {
    public static final String ANY = "*";
    // DPoP-Nonce and DPoP: RFC 9449 §8 and §7.1 (a browser client must read the nonce and may send a proof; CHALLENGE-08).
    private static final String EXPOSED = "WWW-Authenticate, Mcp-Session-Id, MCP-Protocol-Version, DPoP-Nonce";
    private static final String ALLOWED_REQUEST_HEADERS =
            "Authorization, DPoP, Content-Type, Accept, MCP-Protocol-Version, Mcp-Session-Id, Last-Event-ID, Mcp-Method, Mcp-Name, traceparent, tracestate";

    /** RFC 6454 §6.1 serialized origin: {@code null}, or {@code scheme "://" host [ ":" port ]}. */
    private static final java.util.regex.Pattern ORIGIN = java.util.regex.Pattern.compile(
            "null|[A-Za-z][A-Za-z0-9+.-]*://(\\[[0-9A-Fa-f:.]+]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?");

    private final Set<String> hosts;
    private final Set<String> origins;

    /**
     * @param hosts   accepted host names (no port; case-insensitive), or {@code *} for any
     * @param origins accepted origins ({@code scheme://host[:port]}, exact), or {@code *} for any
     */
    public RequestOrigin(Set<String> hosts, Set<String> origins) {
        this.hosts = hosts.stream().map(h -> h.toLowerCase(Locale.ROOT)).collect(Collectors.toUnmodifiableSet());
        this.origins = Set.copyOf(origins);
    }

    /** {@code https://gw.example.com:443/mcp} → {@code https://gw.example.com} (default ports dropped). */
    public static String originOf(String url) {
        URI uri = URI.create(url);
        String scheme = uri.getScheme().toLowerCase(Locale.ROOT);
        int port = uri.getPort();
        boolean defaultPort = port == -1 || (scheme.equals("https") && port == 443) || (scheme.equals("http") && port == 80);
        return scheme + "://" + uri.getHost().toLowerCase(Locale.ROOT) + (defaultPort ? "" : ":" + port);
    }

    /** Fails with 421 for a foreign Host and 403 for a foreign Origin; sets CORS headers for an allowed one. */
    public void check(HttpHeaders request, HttpHeaders response) {
        String host = request.get("Host");
        if (host != null && !isHostValue(host)) {
            // Issue 12: sent upstream as X-Forwarded-Host, so only a value of Host's own grammar, even with allowed-hosts: [*].
            throw GatewayFailure.of(Reason.MISDIRECTED_HOST, "Misdirected request", "malformed Host");
        }
        if (!hosts.contains(ANY) && (host == null || !hosts.contains(hostName(host)))) {
            throw GatewayFailure.of(Reason.MISDIRECTED_HOST, "Misdirected request", "Host not allowed");
        }
        String origin = request.get("Origin");
        if (origin == null) {
            return;
        }
        if (!origins.contains(origin) && !(origins.contains(ANY) && ORIGIN.matcher(origin).matches())) {
            // With allowed-origins: [*] the Origin is mirrored, so only a serialized origin (RFC 6454) is (issue 12).
            throw GatewayFailure.of(Reason.ORIGIN_NOT_ALLOWED, "Forbidden: Origin not allowed", "Origin not allowed");
        }
        response.set("Access-Control-Allow-Origin", origin);
        response.set("Access-Control-Expose-Headers", EXPOSED);
        response.add("Vary", "Origin");
    }

    /** The extra headers of a CORS preflight answer (after {@link #check}). */
    public static void preflight(HttpHeaders response) {
        response.set("Access-Control-Allow-Methods", "GET, POST, DELETE");
        response.set("Access-Control-Allow-Headers", ALLOWED_REQUEST_HEADERS);
        response.set("Access-Control-Max-Age", "600");
    }

    /**
     * Only characters of RFC 9110 §7.2 {@code Host = uri-host [ ":" port ]} (reg-name, IP literal, port):
     * no space, quote, backslash, control or non-ASCII character. A loop: this runs on every request.
     */
    static boolean isHostValue(String host) {
        if (host.isEmpty()) {
            return false;
        }
        for (int i = 0; i < host.length(); i++) {
            char c = host.charAt(i);
            boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                    || "-._~!$&'()*+,;=%:[]".indexOf(c) >= 0;
            if (!ok) {
                return false;
            }
        }
        return true;
    }

    /** {@code gw.example.com:8443} → {@code gw.example.com}; {@code [::1]:8443} → {@code [::1]}. */
    static String hostName(String host) {
        String h = host.strip().toLowerCase(Locale.ROOT);
        if (h.startsWith("[")) {
            int end = h.indexOf(']');
            return end < 0 ? h : h.substring(0, end + 1);
        }
        int colon = h.indexOf(':');
        return colon < 0 ? h : h.substring(0, colon);
    }
}
