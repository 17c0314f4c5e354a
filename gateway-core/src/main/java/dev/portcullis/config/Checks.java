package dev.portcullis.config;

import java.net.InetAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.util.Locale;

/** Small validation helpers shared by the config records; each names the field it checks. */
final class Checks {
    private Checks() {}

    static <T> T required(String field, T value) {
        if (value == null) {
            throw new ConfigException(field, "is required");
        }
        return value;
    }

    static int port(String field, Integer value, int fallback) {
        int port = value == null ? fallback : value;
        if (port < 0 || port > 65535) {
            throw ConfigException.expected(field, port, "0..65535, 0 picks a free port");
        }
        return port;
    }

    /**
     * An absolute http(s) URL without fragment or user info. Plain {@code http} is accepted only
     * for loopback hosts or when {@code allowInsecure} is set (development).
     */
    static URI httpUrl(String field, String value, boolean allowInsecure) {
        required(field, value);
        URI uri;
        try {
            uri = new URI(value);
        } catch (URISyntaxException e) {
            throw ConfigException.expected(field, value, "an absolute https URL");
        }
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
        if (!uri.isAbsolute() || uri.getHost() == null || !(scheme.equals("https") || scheme.equals("http"))) {
            throw ConfigException.expected(field, value, "an absolute https URL");
        }
        if (uri.getFragment() != null || uri.getUserInfo() != null) {
            throw ConfigException.expected(field, value, "a URL without fragment or user info");
        }
        if (scheme.equals("http") && !allowInsecure && !isLoopback(uri.getHost())) {
            throw ConfigException.expected(field, value,
                    "https (plain http only for loopback hosts, or with allow-insecure-http: true)");
        }
        return uri;
    }

    static boolean isLoopback(String host) {
        String h = host.startsWith("[") ? host.substring(1, host.length() - 1) : host;
        if (h.equalsIgnoreCase("localhost")) {
            return true;
        }
        // Only literal addresses are judged here; no DNS lookup happens at validation time.
        if (!h.isEmpty() && (Character.digit(h.charAt(0), 16) >= 0 || h.contains(":"))) {
            try {
                return h.matches("[0-9.]+|[0-9a-fA-F:.]+") && InetAddress.getByName(h).isLoopbackAddress();
            } catch (java.net.UnknownHostException e) {
                return false;
            }
        }
        return false;
    }
}
