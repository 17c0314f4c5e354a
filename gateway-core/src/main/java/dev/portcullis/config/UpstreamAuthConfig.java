package dev.portcullis.config;

import java.util.Locale;

/**
 * How the gateway authenticates to the upstream. The caller's token is never forwarded: there
 * is no passthrough mode (EXCHANGE-10).
 *
 * @param type {@code none} (send no credentials upstream). {@code token-exchange} (RFC 8693) and
 *             {@code client-credentials} are part of the schema and refused until they are built
 */
public record UpstreamAuthConfig(String type) {
    public enum Type { NONE, TOKEN_EXCHANGE, CLIENT_CREDENTIALS }

    public UpstreamAuthConfig {
        type = type == null ? "none" : type;
        Type parsed;
        try {
            parsed = Type.valueOf(type.toUpperCase(Locale.ROOT).replace('-', '_'));
        } catch (IllegalArgumentException e) {
            throw ConfigException.expected("type", type,
                    "none, token-exchange or client-credentials (there is no passthrough mode)");
        }
        if (parsed != Type.NONE) {
            throw ConfigException.expected("type", type, "none (" + type + " is not available in this build yet)");
        }
    }

    public Type parsedType() {
        return Type.valueOf(type.toUpperCase(Locale.ROOT).replace('-', '_'));
    }

    public static UpstreamAuthConfig none() {
        return new UpstreamAuthConfig("none");
    }
}
