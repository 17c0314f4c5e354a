package dev.portcullis.policy;

import java.util.Locale;
import java.util.Optional;

/**
 * The one place that says which resource URIs the gateway decides on (issue 12, item 1).
 *
 * <p>Policy matches a resource URI as text; the upstream resolves it. When the two can read the same
 * text as different resources ({@code static/document/../../dynamic/1}, {@code %2e%2e},
 * {@code x%2F..%2Fy}, {@code x\..\y}, {@code FILE:///etc}), an allow rule for one tree would let the caller read
 * another, and a deny rule could be stepped around. So the gateway decides only on URIs in <em>normal
 * form</em> and refuses every other URI without contacting the upstream: it never rewrites what the
 * caller sent, so the bytes the upstream gets are exactly the bytes policy decided on.
 *
 * <p>A URI is in normal form when it is unchanged by RFC 3986 §6.2.2 syntax-based normalisation
 * ({@link #normalize}: scheme lower case, the host too for {@code http}, {@code https}, {@code ws},
 * {@code wss}, {@code ftp} and {@code file} (other schemes' authorities are names their server chose and
 * are compared exactly), percent-encodings upper case, percent-encoded
 * unreserved characters decoded, {@code remove_dot_segments} on the path) <em>and</em> its path holds
 * nothing an upstream might resolve into another path although RFC 3986 does not: no encoded slash
 * ({@code %2F}) or backslash ({@code %5C}), no literal backslash, no empty segment inside the path
 * ({@code a//b}), no control character. Queries and fragments are only held to the percent-encoding rules.
 */
public final class ResourceUri {
    /**
     * Schemes whose host every URL library compares without case (the WHATWG "special" schemes). Other
     * schemes' authorities are often names chosen by the server ({@code tickets://SECURITY/7}) and are
     * compared exactly, as policy compares them.
     */
    private static final java.util.Set<String> CASE_FREE_HOSTS = java.util.Set.of("http", "https", "ws", "wss", "ftp", "file");

    private ResourceUri() {}

    /** Why {@code uri} is not in normal form, or empty when it is. */
    public static Optional<String> problem(String uri) {
        if (uri == null || uri.isEmpty()) {
            return Optional.of("empty URI");
        }
        for (int i = 0; i < uri.length(); i++) {
            char c = uri.charAt(i);
            if (c < 0x20 || c == 0x7F) {
                return Optional.of("control character");
            }
            if (c == '%') {
                if (i + 2 >= uri.length() || hex(uri.charAt(i + 1)) < 0 || hex(uri.charAt(i + 2)) < 0) {
                    return Optional.of("malformed percent-encoding");
                }
                int decoded = hex(uri.charAt(i + 1)) * 16 + hex(uri.charAt(i + 2));
                if (unreserved(decoded)) {
                    return Optional.of("percent-encoded unreserved character (" + uri.substring(i, i + 3) + ")");
                }
                if (Character.isLowerCase(uri.charAt(i + 1)) || Character.isLowerCase(uri.charAt(i + 2))) {
                    return Optional.of("lower-case percent-encoding (" + uri.substring(i, i + 3) + ")");
                }
            }
        }
        Parts parts = Parts.of(uri);
        if (!parts.scheme.equals(parts.scheme.toLowerCase(Locale.ROOT))) {
            return Optional.of("upper-case scheme");
        }
        boolean caseFreeHost = CASE_FREE_HOSTS.contains(parts.scheme);
        if (caseFreeHost && !host(parts.authority).equals(host(parts.authority).toLowerCase(Locale.ROOT))) {
            return Optional.of("upper-case host");
        }
        String path = parts.path;
        String upper = path.toUpperCase(Locale.ROOT);
        if (path.indexOf('\\') >= 0 || upper.contains("%5C")) {
            return Optional.of("backslash in the path");
        }
        if (upper.contains("%2F")) {
            return Optional.of("encoded slash (%2F) in the path");
        }
        String[] segments = path.split("/", -1);
        for (int i = 0; i < segments.length; i++) {
            if (segments[i].equals(".") || segments[i].equals("..")) {
                return Optional.of("dot segment (" + segments[i] + ") in the path");
            }
            // "/a//b": the leading "" of an absolute path and a trailing "" (a directory) are fine.
            if (segments[i].isEmpty() && i > 0 && i < segments.length - 1) {
                return Optional.of("empty segment (//) in the path");
            }
        }
        if (!normalize(uri, caseFreeHost).equals(uri)) {
            return Optional.of("not in RFC 3986 normal form");
        }
        return Optional.empty();
    }

    /** As {@link #problem(String)}: true when the gateway decides on {@code uri} as it is. */
    public static boolean isNormal(String uri) {
        return problem(uri).isEmpty();
    }

    /**
     * As {@link #problem(String)} for an RFC 6570 URI template ({@code resources/templates/list}, a
     * {@code completion/complete} {@code ref/resource}): its literal text must be in normal form; each
     * expression stands for one harmless segment character, since what it expands to is decided when
     * the caller reads the URI it made.
     */
    public static Optional<String> templateProblem(String template) {
        if (template == null || template.isEmpty()) {
            return Optional.of("empty URI template");
        }
        StringBuilder literal = new StringBuilder(template.length());
        for (int i = 0; i < template.length(); i++) {
            int close = template.charAt(i) == '{' ? template.indexOf('}', i + 1) : -1;
            if (close > i + 1) {
                literal.append('x');
                i = close;
            } else {
                literal.append(template.charAt(i));
            }
        }
        return problem(literal.toString());
    }

    /**
     * RFC 3986 §6.2.2 syntax-based normalisation: scheme and host to lower case (§6.2.2.1), hex digits
     * of percent-encodings to upper case (§6.2.2.1), percent-encoded unreserved characters decoded
     * (§6.2.2.2), {@code remove_dot_segments} on the path (§6.2.2.3). Nothing else changes; a malformed
     * percent-encoding is kept as it is.
     */
    public static String normalize(String uri) {
        return normalize(uri, true);
    }

    private static String normalize(String uri, boolean lowerCaseHost) {
        Parts parts = Parts.of(percentNormalized(uri));
        StringBuilder out = new StringBuilder(uri.length());
        if (!parts.scheme.isEmpty()) {
            out.append(parts.scheme.toLowerCase(Locale.ROOT)).append(':');
        }
        if (parts.authority != null) {
            String host = host(parts.authority);
            int at = parts.authority.lastIndexOf('@') + 1;
            out.append("//").append(parts.authority, 0, at).append(lowerCaseHost ? host.toLowerCase(Locale.ROOT) : host)
                    .append(parts.authority.substring(at + host.length()));
        }
        out.append(removeDotSegments(parts.path)).append(parts.rest);
        return out.toString();
    }

    /** RFC 3986 §5.2.4, step by step as the RFC writes it. */
    public static String removeDotSegments(String path) {
        StringBuilder in = new StringBuilder(path);
        StringBuilder out = new StringBuilder(path.length());
        while (in.length() > 0) {
            if (startsWith(in, "../")) {                                   // A
                in.delete(0, 3);
            } else if (startsWith(in, "./")) {
                in.delete(0, 2);
            } else if (startsWith(in, "/./")) {                            // B
                in.delete(0, 2);
            } else if (equals(in, "/.")) {
                in.replace(0, 2, "/");
            } else if (startsWith(in, "/../")) {                           // C
                in.delete(0, 3);
                removeLastSegment(out);
            } else if (equals(in, "/..")) {
                in.replace(0, 3, "/");
                removeLastSegment(out);
            } else if (equals(in, ".") || equals(in, "..")) {              // D
                in.setLength(0);
            } else {                                                       // E
                int end = in.indexOf("/", in.charAt(0) == '/' ? 1 : 0);
                end = end < 0 ? in.length() : end;
                out.append(in, 0, end);
                in.delete(0, end);
            }
        }
        return out.toString();
    }

    private static boolean startsWith(StringBuilder s, String prefix) {
        return s.length() >= prefix.length() && s.substring(0, prefix.length()).equals(prefix);
    }

    private static boolean equals(StringBuilder s, String text) {
        return s.length() == text.length() && s.toString().equals(text);
    }

    private static void removeLastSegment(StringBuilder out) {
        int slash = out.lastIndexOf("/");
        out.setLength(Math.max(slash, 0));
    }

    /** Percent-encodings with upper-case hex digits; those of unreserved characters decoded. */
    private static String percentNormalized(String uri) {
        if (uri.indexOf('%') < 0) {
            return uri;
        }
        StringBuilder out = new StringBuilder(uri.length());
        for (int i = 0; i < uri.length(); i++) {
            char c = uri.charAt(i);
            if (c == '%' && i + 2 < uri.length() && hex(uri.charAt(i + 1)) >= 0 && hex(uri.charAt(i + 2)) >= 0) {
                int decoded = hex(uri.charAt(i + 1)) * 16 + hex(uri.charAt(i + 2));
                if (unreserved(decoded)) {
                    out.append((char) decoded);
                } else {
                    out.append('%').append(uri.substring(i + 1, i + 3).toUpperCase(Locale.ROOT));
                }
                i += 2;
            } else {
                out.append(c);
            }
        }
        return out.toString();
    }

    /** RFC 3986 §2.3: ALPHA / DIGIT / "-" / "." / "_" / "~". */
    private static boolean unreserved(int c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                || c == '-' || c == '.' || c == '_' || c == '~';
    }

    private static int hex(char c) {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    }

    /** The host of an authority ({@code user@host:port} → {@code host}); "" without an authority. */
    private static String host(String authority) {
        if (authority == null) {
            return "";
        }
        String hostPort = authority.substring(authority.lastIndexOf('@') + 1);
        if (hostPort.startsWith("[")) {
            int end = hostPort.indexOf(']');
            return end < 0 ? hostPort : hostPort.substring(0, end + 1);
        }
        int colon = hostPort.lastIndexOf(':');
        return colon < 0 ? hostPort : hostPort.substring(0, colon);
    }

    /** RFC 3986 §3 components: scheme ("" when none), authority (null when none), path, and "?query#fragment". */
    private record Parts(String scheme, String authority, String path, String rest) {
        static Parts of(String uri) {
            String scheme = "";
            int start = 0;
            int colon = uri.indexOf(':');
            if (colon > 0 && isScheme(uri.substring(0, colon))) {
                scheme = uri.substring(0, colon);
                start = colon + 1;
            }
            int end = uri.length();
            for (int i = start; i < uri.length(); i++) {
                if (uri.charAt(i) == '?' || uri.charAt(i) == '#') {
                    end = i;
                    break;
                }
            }
            String hier = uri.substring(start, end);
            String authority = null;
            if (hier.startsWith("//")) {
                int slash = hier.indexOf('/', 2);
                authority = slash < 0 ? hier.substring(2) : hier.substring(2, slash);
                hier = slash < 0 ? "" : hier.substring(slash);
            }
            return new Parts(scheme, authority, hier, uri.substring(end));
        }

        private static boolean isScheme(String text) {
            if (text.isEmpty() || !isAlpha(text.charAt(0))) {
                return false;
            }
            for (int i = 1; i < text.length(); i++) {
                char c = text.charAt(i);
                if (!(isAlpha(c) || (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.')) {
                    return false;
                }
            }
            return true;
        }

        private static boolean isAlpha(char c) {
            return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        }
    }
}
