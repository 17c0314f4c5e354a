package dev.portcullis.config;

import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;

/**
 * Issue 18: where the state every replica shares lives: rate-limit buckets and concurrency permits (and
 * later DPoP replay entries and approvals). {@code memory} (the default) keeps it in the process, right
 * for one replica; {@code redis} keeps it in Redis or Valkey, so the policy's limits hold across replicas.
 *
 * @param type            {@code memory} (default) or {@code redis}
 * @param mode            {@code standalone} (default: one address) or {@code cluster} (seed addresses of a Redis Cluster)
 * @param addresses       {@code redis://host:port} or {@code rediss://host:port} (TLS); no credentials in the URL
 * @param username        ACL user name (optional)
 * @param password        the password; write {@code ${REDIS_PASSWORD}} to take it from the environment
 * @param passwordFile    a file holding the password (a mounted secret); not with {@code password}
 * @param caFile          PEM certificates to trust for {@code rediss://} (default: the JVM's trust store)
 * @param keyPrefix       every key the gateway writes starts with this (default {@code portcullis:})
 * @param timeout         how long one store call may take before the route's fail mode applies (default 50ms)
 * @param connectTimeout  TCP and TLS connect and the connection handshake (AUTH, HELLO) (default 2s)
 * @param circuitOpen     after {@code circuit-failures} failures in a row, the store is not asked for this long
 *                        (default 2s); then one call probes it, and success closes the circuit
 * @param circuitFailures failures in a row that open the circuit (default 3)
 * @param replicas        how many replicas share the limits: with {@code fail: local} each enforces its share
 *                        ({@code limit / replicas}, rounded up) while the store is down (default 1)
 * @param leaseTime       how long a concurrency permit outlives a replica that died holding it (default 60s);
 *                        a live replica renews its permits
 * @param maxLocalBuckets bound on the in-process buckets (default 200000)
 * @param reserve         {@code redis} only: the share of each limit a replica may take ahead of its own calls, in one
 *                        store round trip, and spend without asking the store again (e.g. {@code 1%}; default {@code 0%}:
 *                        every call asks the store). A reserve grows with a counter's traffic (doubling from one call,
 *                        at most this share of the limit and {@value #MAX_RESERVE}); a limit whose share is under two calls
 *                        stays exact. Never admits more calls than the limit over time; see docs/limits.md for the tolerance
 * @param reserveHold     how long a reserve is kept: a rate's unused calls are then given back, a cap's idle permits
 *                        released (default 1s)
 */
public record StoreConfig(String type, String mode, List<String> addresses, String username, String password,
                          Path passwordFile, Path caFile, String keyPrefix, Duration timeout, Duration connectTimeout,
                          Duration circuitOpen, Integer circuitFailures, Integer replicas, Duration leaseTime,
                          Long maxLocalBuckets, String reserve, Duration reserveHold) {
    /** The most calls or permits one reserve holds. */
    public static final int MAX_RESERVE = 256;

    public StoreConfig {
        type = type == null ? "memory" : type;
        if (!type.equals("memory") && !type.equals("redis")) {
            throw ConfigException.expected("type", type, "memory (one replica) or redis (shared by the replicas)");
        }
        mode = mode == null ? "standalone" : mode;
        if (!mode.equals("standalone") && !mode.equals("cluster")) {
            throw ConfigException.expected("mode", mode, "standalone or cluster");
        }
        addresses = addresses == null ? List.of() : List.copyOf(addresses);
        if (type.equals("redis")) {
            if (addresses.isEmpty()) {
                throw new ConfigException("addresses", "is required for type redis (expected: redis://host:6379 or "
                        + "rediss://host:6380 for TLS)");
            }
            if (mode.equals("standalone") && addresses.size() > 1) {
                throw ConfigException.expected("addresses", addresses.size() + " addresses",
                        "one address in standalone mode (mode: cluster takes several seeds)");
            }
            for (String address : addresses) {
                checkAddress(address);
            }
        } else if (!addresses.isEmpty()) {
            throw ConfigException.expected("addresses", addresses.get(0), "no addresses for type memory (set type: redis)");
        }
        if (password != null && passwordFile != null) {
            throw ConfigException.expected("password-file", passwordFile.toString(), "password or password-file, not both");
        }
        if (password != null && password.isEmpty()) {
            throw ConfigException.expected("password", "", "a non-empty password, or no password key");
        }
        if (passwordFile != null) {
            readPassword(passwordFile);
        }
        if (caFile != null && !Files.isReadable(caFile)) {
            throw ConfigException.expected("ca-file", caFile.toString(), "a readable PEM file");
        }
        if (caFile != null && addresses.stream().noneMatch(a -> a.startsWith("rediss://"))) {
            throw ConfigException.expected("ca-file", caFile.toString(), "only with rediss:// (TLS) addresses");
        }
        keyPrefix = keyPrefix == null ? "portcullis:" : keyPrefix;
        if (keyPrefix.isEmpty() || keyPrefix.length() > 64 || !keyPrefix.chars().allMatch(c -> c > 0x20 && c < 0x7f)) {
            throw ConfigException.expected("key-prefix", keyPrefix, "1 to 64 visible ASCII characters, e.g. portcullis:");
        }
        timeout = timeout == null ? Duration.ofMillis(50) : timeout;
        if (timeout.compareTo(Duration.ofMillis(1)) < 0 || timeout.compareTo(Duration.ofSeconds(5)) > 0) {
            throw ConfigException.expected("timeout", DurationText.format(timeout), "1ms..5s (a short timeout: calls wait for it)");
        }
        connectTimeout = connectTimeout == null ? Duration.ofSeconds(2) : connectTimeout;
        circuitOpen = circuitOpen == null ? Duration.ofSeconds(2) : circuitOpen;
        if (circuitOpen.compareTo(Duration.ofMillis(100)) < 0) {
            throw ConfigException.expected("circuit-open", DurationText.format(circuitOpen), "at least 100ms");
        }
        circuitFailures = circuitFailures == null ? 3 : circuitFailures;
        if (circuitFailures < 1 || circuitFailures > 1000) {
            throw ConfigException.expected("circuit-failures", circuitFailures, "1..1000");
        }
        replicas = replicas == null ? 1 : replicas;
        if (replicas < 1 || replicas > 10_000) {
            throw ConfigException.expected("replicas", replicas, "1..10000");
        }
        leaseTime = leaseTime == null ? Duration.ofSeconds(60) : leaseTime;
        if (leaseTime.compareTo(Duration.ofSeconds(3)) < 0) {
            throw ConfigException.expected("lease-time", DurationText.format(leaseTime), "at least 3s");
        }
        maxLocalBuckets = maxLocalBuckets == null ? 200_000L : maxLocalBuckets;
        if (maxLocalBuckets < 100 || maxLocalBuckets > 100_000_000L) {
            throw ConfigException.expected("max-local-buckets", maxLocalBuckets, "100..100000000");
        }
        reserve = reserve == null ? "0%" : reserve.strip();
        double share = share(reserve);
        if (share > 0 && !type.equals("redis")) {
            throw ConfigException.expected("reserve", reserve, "0% for type memory (a reserve saves round trips to a shared store)");
        }
        reserveHold = reserveHold == null ? Duration.ofSeconds(1) : reserveHold;
        if (reserveHold.compareTo(Duration.ofMillis(10)) < 0 || reserveHold.compareTo(Duration.ofMinutes(1)) > 0) {
            throw ConfigException.expected("reserve-hold", DurationText.format(reserveHold), "10ms..1m");
        }
    }

    /** {@code reserve} as a fraction (0 when off). */
    public double reserveShare() {
        return share(reserve);
    }

    private static double share(String text) {
        if (text.matches("(0|[1-9][0-9]?)(\\.[0-9]{1,2})?%")) {
            double share = Double.parseDouble(text.substring(0, text.length() - 1)) / 100;
            if (share <= 0.1) {
                return share;
            }
        }
        throw ConfigException.expected("reserve", text, "a share of each limit from 0% (off) to 10%, e.g. 1% or 0.5%");
    }

    /** Never the password. */
    @Override
    public String toString() {
        return "StoreConfig[type=" + type + ", mode=" + mode + ", addresses=" + addresses + ", key-prefix=" + keyPrefix
                + ", timeout=" + timeout + ", replicas=" + replicas + ", reserve=" + reserve
                + (password != null ? ", password=(set)" : "")
                + (passwordFile != null ? ", password-file=" + passwordFile : "") + "]";
    }

    public static StoreConfig defaults() {
        return new StoreConfig(null, null, null, null, null, null, null, null, null, null, null, null, null, null, null, null, null);
    }

    public boolean redis() {
        return type.equals("redis");
    }

    public boolean cluster() {
        return mode.equals("cluster");
    }

    /** The password from {@code password} or {@code password-file} (trailing newline dropped), or null. Never logged. */
    public String secret() {
        return passwordFile != null ? readPassword(passwordFile) : password;
    }

    private static void checkAddress(String address) {
        URI uri;
        try {
            uri = new URI(address);
        } catch (java.net.URISyntaxException e) {
            throw ConfigException.expected("addresses", address, "redis://host:port or rediss://host:port");
        }
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
        if (!scheme.equals("redis") && !scheme.equals("rediss")) {
            throw ConfigException.expected("addresses", address, "redis://host:port or rediss://host:port (TLS)");
        }
        if (uri.getRawUserInfo() != null) {
            // Never echo the URL: it holds a credential.
            throw new ConfigException("addresses", "an address with credentials in it (expected: redis://host:port;"
                    + " put the password in password-file, or password: ${REDIS_PASSWORD})");
        }
        if (uri.getHost() == null || (uri.getRawPath() != null && !uri.getRawPath().isEmpty() && !uri.getRawPath().matches("/[0-9]{1,2}"))
                || uri.getRawQuery() != null) {
            throw ConfigException.expected("addresses", address, "redis://host:port[/database] without a query");
        }
    }

    private static String readPassword(Path file) {
        try {
            String text = Files.readString(file, StandardCharsets.UTF_8);
            String value = text.endsWith("\r\n") ? text.substring(0, text.length() - 2)
                    : text.endsWith("\n") ? text.substring(0, text.length() - 1) : text;
            if (value.isEmpty()) {
                throw ConfigException.expected("password-file", file.toString(), "a file holding the password (it is empty)");
            }
            return value;
        } catch (IOException e) {
            throw ConfigException.expected("password-file", file.toString(), "a readable file holding the password");
        }
    }
}
