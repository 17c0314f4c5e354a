package dev.portcullis.config;

import dev.portcullis.http.AddressRange;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The gateway's own fetches: issuer metadata, JWKS and token endpoints (SECURITY-03). Not the
 * upstream MCP servers, which are configured per route and usually live on private addresses.
 *
 * @param allowPrivate   non-public addresses (loopback, private, link-local, ...) these fetches may
 *                       connect to anyway: IP addresses or CIDR ranges, e.g. {@code [10.0.0.0/8, 127.0.0.1]}.
 *                       Default none; a loopback address that a configured URL names literally
 *                       ({@code http://127.0.0.1:8080/...}) is allowed without being listed
 * @param connectTimeout TCP (and TLS) connect timeout of these fetches (default {@code 5s})
 * @param timeout        a metadata or JWKS fetch must be complete (connect, headers, whole body) within
 *                       this (default {@code 10s}); token requests use {@code upstream-auth.timeout}
 */
public record OutboundConfig(List<String> allowPrivate, Duration connectTimeout, Duration timeout) {
    public OutboundConfig {
        allowPrivate = allowPrivate == null ? List.of() : List.copyOf(allowPrivate);
        for (String range : allowPrivate) {
            try {
                AddressRange.parse(range);
            } catch (IllegalArgumentException e) {
                throw ConfigException.expected("allow-private", range, e.getMessage());
            }
        }
        connectTimeout = connectTimeout == null ? Duration.ofSeconds(5) : connectTimeout;
        timeout = timeout == null ? Duration.ofSeconds(10) : timeout;
        if (connectTimeout.compareTo(Duration.ofMillis(100)) < 0 || connectTimeout.compareTo(Duration.ofMinutes(1)) > 0) {
            throw ConfigException.expected("connect-timeout", DurationText.format(connectTimeout), "100ms..1m");
        }
        if (timeout.compareTo(Duration.ofMillis(100)) < 0 || timeout.compareTo(Duration.ofMinutes(2)) > 0) {
            throw ConfigException.expected("timeout", DurationText.format(timeout), "100ms..2m");
        }
    }

    public static OutboundConfig defaults() {
        return new OutboundConfig(null, null, null);
    }

    public List<AddressRange> allowPrivateRanges() {
        List<AddressRange> ranges = new ArrayList<>();
        allowPrivate.forEach(r -> ranges.add(AddressRange.parse(r)));
        return ranges;
    }
}
