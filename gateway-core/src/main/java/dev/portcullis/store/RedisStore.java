package dev.portcullis.store;

import dev.portcullis.config.StoreConfig;
import io.lettuce.core.ClientOptions;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.SetArgs;
import io.lettuce.core.SocketOptions;
import io.lettuce.core.SslOptions;
import io.lettuce.core.TimeoutOptions;
import io.lettuce.core.api.StatefulConnection;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.async.RedisKeyAsyncCommands;
import io.lettuce.core.api.async.RedisScriptingAsyncCommands;
import io.lettuce.core.api.async.RedisSortedSetAsyncCommands;
import io.lettuce.core.api.async.RedisStringAsyncCommands;
import io.lettuce.core.cluster.ClusterClientOptions;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.cluster.api.StatefulRedisClusterConnection;
import io.lettuce.core.codec.StringCodec;
import io.lettuce.core.resource.ClientResources;
import io.lettuce.core.resource.Delay;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The shared {@link ClusterStore} in Redis or Valkey, through Lettuce (non-blocking, on Netty; one
 * multiplexed connection, which pipelines the calls of every event loop). Every command is written from the
 * store's one thread ({@code portcullis-store}): Lettuce's write path takes a lock that would otherwise park
 * an event loop whenever two threads write at once. Each operation is one Lua script
 * run with {@code EVALSHA} (loaded again with {@code EVAL} after a Redis restart), atomic in Redis, on
 * Redis's clock ({@code TIME}), so replicas whose clocks differ still agree.
 *
 * <p>Keys: {@code <key-prefix>rl:<hash>} (rate buckets, a string that expires when the bucket is full
 * again), {@code <key-prefix>cc:<hash>} (concurrency permits: a sorted set of leases scored by their
 * expiry; a replica renews the leases it holds, and the set itself expires after the lease time), and
 * {@code <key-prefix>kv:<hash>}; {@code <hash>} is a SHA-256 of the caller's key (subject, agent, ...), so
 * no claim value is stored in Redis and key lengths are bounded.
 *
 * <p>Failure handling: every call has the configured {@code timeout}; commands fail at once while the
 * connection is down (Lettuce reconnects by itself, every 500 ms); {@code circuit-failures} failures in a
 * row open a {@link Breaker} for {@code circuit-open}. A failed call completes with
 * {@link StoreUnavailableException} and the caller applies its route's fail mode.
 */
public final class RedisStore implements ClusterStore {
    private static final Logger log = LoggerFactory.getLogger(RedisStore.class);

    static final String TAKE = """
            local t = redis.call('TIME')
            local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
            local interval = tonumber(ARGV[1])
            local period = tonumber(ARGV[2])
            local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
            if tat < now then tat = now end
            local nxt = tat + interval
            local allow_at = nxt - period
            if now < allow_at then return -(allow_at - now) - 1 end
            redis.call('SET', KEYS[1], string.format('%d', nxt), 'PX', math.floor((nxt - now) / 1000) + 1)
            return nxt - now
            """;
    static final String ACQUIRE = """
            local t = redis.call('TIME')
            local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
            redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
            if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
              redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])
              redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]))
              return 1
            end
            return 0
            """;
    static final String RENEW = """
            local t = redis.call('TIME')
            local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
            local renewed = redis.call('ZADD', KEYS[1], 'XX', 'CH', now + tonumber(ARGV[2]), ARGV[1])
            redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
            return renewed
            """;

    private final StoreConfig config;
    private final String prefix;
    private final Duration leaseTime;
    private final Breaker breaker;
    private final ClientResources resources;
    private final ScheduledExecutorService timers;
    private final Map<String, String> scripts = new ConcurrentHashMap<>();
    /** The leases this replica holds (lease → store key), renewed every third of the lease time. */
    private final Map<String, String> leases = new ConcurrentHashMap<>();
    /** Releases sent and not yet answered: shutdown waits for them before it disconnects. */
    private final java.util.Set<CompletableFuture<?>> releasing = ConcurrentHashMap.newKeySet();
    private final RedisClient standalone;
    private final RedisClusterClient cluster;
    private volatile StatefulConnection<String, String> connection;
    private volatile Commands commands;
    private volatile boolean closed;
    /** Failed first connection attempts (only the first is logged as a warning). Touched by one thread at a time. */
    private int connectFailures;

    /** The command groups this store uses: standalone and cluster connections both offer them. */
    private record Commands(RedisScriptingAsyncCommands<String, String> scripting,
                            RedisStringAsyncCommands<String, String> strings,
                            RedisSortedSetAsyncCommands<String, String> sortedSets,
                            RedisKeyAsyncCommands<String, String> keys) {}

    private static final ThreadLocal<MessageDigest> SHA256 = ThreadLocal.withInitial(() -> digest("SHA-256"));

    public RedisStore(StoreConfig config) {
        this.config = config;
        this.prefix = config.keyPrefix();
        this.leaseTime = config.leaseTime();
        this.breaker = new Breaker(config.circuitFailures(), config.circuitOpen().toNanos(), System::nanoTime);
        // Lettuce's own small event loop group: its transport must match the channels it makes (see docs/limits.md).
        this.resources = ClientResources.builder().ioThreadPoolSize(1).computationThreadPoolSize(1)
                .reconnectDelay(Delay.constant(Duration.ofMillis(500))).build();
        // The store's one thread: connects, renews leases, probes, and writes every command (onStoreThread).
        this.timers = Executors.newSingleThreadScheduledExecutor(runnable -> {
            Thread thread = new Thread(runnable, "portcullis-store");
            thread.setDaemon(true);
            return thread;
        });
        SocketOptions socket = SocketOptions.builder().connectTimeout(config.connectTimeout()).keepAlive(true).build();
        SslOptions ssl = config.caFile() == null ? null : SslOptions.builder().trustManager(config.caFile().toFile()).build();
        List<RedisURI> uris = config.addresses().stream().map(this::uri).toList();
        if (config.cluster()) {
            // A cluster connects to each node on first use: its commands wait for that (bounded by the timeout)
            // instead of being rejected while the node's connection is made.
            ClusterClientOptions.Builder options = ClusterClientOptions.builder().autoReconnect(true)
                    .disconnectedBehavior(ClientOptions.DisconnectedBehavior.ACCEPT_COMMANDS)
                    .timeoutOptions(TimeoutOptions.enabled(config.timeout())).socketOptions(socket);
            if (ssl != null) {
                options.sslOptions(ssl);
            }
            this.cluster = RedisClusterClient.create(resources, uris);
            this.cluster.setOptions(options.build());
            this.standalone = null;
        } else {
            ClientOptions.Builder options = ClientOptions.builder().autoReconnect(true)
                    .disconnectedBehavior(ClientOptions.DisconnectedBehavior.REJECT_COMMANDS)
                    .timeoutOptions(TimeoutOptions.enabled(config.timeout())).socketOptions(socket);
            if (ssl != null) {
                options.sslOptions(ssl);
            }
            this.standalone = RedisClient.create(resources, uris.get(0));
            this.standalone.setOptions(options.build());
            this.cluster = null;
        }
        breaker.trip(); // down until the first connection is made
        connect();
        long renewEvery = Math.max(1_000, leaseTime.toMillis() / 3);
        timers.scheduleWithFixedDelay(this::renewLeases, renewEvery, renewEvery, TimeUnit.MILLISECONDS);
        long probeEvery = Math.max(100, config.circuitOpen().toMillis() / 2);
        timers.scheduleWithFixedDelay(this::probe, probeEvery, probeEvery, TimeUnit.MILLISECONDS);
    }

    /** An open circuit is probed even without traffic, so {@code /readyz} and the next call see a store that is back. */
    private void probe() {
        Commands c = commands;
        if (c == null || closed || breaker.closed() || !breaker.allow()) {
            return;
        }
        guarded(c.strings().get(prefix + "probe"));
    }

    private RedisURI uri(String address) {
        RedisURI uri = RedisURI.create(address);
        // The connection's initialization (TLS, AUTH, HELLO) gets the connect timeout; each command gets the short
        // timeout (TimeoutOptions), so a slow handshake to a remote Redis does not fail forever.
        uri.setTimeout(config.connectTimeout());
        String secret = config.secret();
        if (secret != null) {
            uri.setAuthentication(config.username(), secret.toCharArray()); // username null: the default user
        }
        return uri;
    }

    /** Connects without blocking; until it succeeds, retried every second (Lettuce reconnects an established connection itself). */
    private void connect() {
        if (closed) {
            return;
        }
        CompletableFuture<? extends StatefulConnection<String, String>> future;
        if (config.cluster()) {
            // The cluster's topology first (Lettuce loads it blocking, so on the store's thread), then the connection.
            future = CompletableFuture.runAsync(cluster::getPartitions, timers)
                    .thenCompose(loaded -> cluster.connectAsync(StringCodec.UTF8));
        } else {
            future = standalone.connectAsync(StringCodec.UTF8, uriOf()).toCompletableFuture();
        }
        future.whenComplete((made, error) -> {
            if (error != null || made == null) {
                String why = error == null ? "no connection" : rootMessage(error);
                if (connectFailures++ == 0) {
                    log.warn("shared store {}: cannot connect ({}); the routes' fail modes apply; retrying every second",
                            describe(), why);
                } else {
                    log.debug("shared store {}: cannot connect ({})", describe(), why);
                }
                if (!closed) {
                    timers.schedule(this::connect, 1, TimeUnit.SECONDS);
                }
                return;
            }
            if (closed) {
                made.closeAsync();
                return;
            }
            connection = made;
            if (made instanceof StatefulRedisClusterConnection<String, String> c) {
                var async = c.async();
                commands = new Commands(async, async, async, async);
            } else {
                var async = ((StatefulRedisConnection<String, String>) made).async();
                commands = new Commands(async, async, async, async);
            }
            breaker.success();
            log.info("shared store {}: connected", describe());
        });
    }

    private RedisURI uriOf() {
        return uri(config.addresses().get(0));
    }

    @Override
    public CompletableFuture<Long> take(String key, long intervalMicros, long periodMicros) {
        return script(TAKE, key("rl:", key), Long.toString(intervalMicros), Long.toString(periodMicros));
    }

    @Override
    public CompletableFuture<Boolean> acquire(String key, long limit, String lease, Duration leaseTime) {
        String storeKey = key("cc:", key);
        return this.<Long>script(ACQUIRE, storeKey, Long.toString(limit), lease, Long.toString(leaseTime.toMillis()))
                .thenApply(taken -> {
                    if (taken == 1L) {
                        leases.put(lease, storeKey);
                        return true;
                    }
                    return false;
                });
    }

    @Override
    public void release(String key, String lease) {
        String storeKey = leases.remove(lease);
        Commands c = commands;
        if (storeKey == null || c == null || closed) {
            return; // never acquired here, or the store is gone: the lease expires on its own
        }
        // Not waited for: a release lost with the connection expires with its lease.
        CompletableFuture<Long> sent = onStoreThread(() -> c.sortedSets().zrem(storeKey, lease));
        releasing.add(sent);
        sent.whenComplete((removed, error) -> releasing.remove(sent));
    }

    @Override
    public CompletableFuture<Boolean> putIfAbsent(String key, String value, Duration ttl) {
        Commands c = commands;
        if (c == null || !breaker.allow()) {
            return CompletableFuture.failedFuture(StoreUnavailableException.CIRCUIT_OPEN);
        }
        String storeKey = key("kv:", key);
        return guarded(onStoreThread(() -> c.strings().set(storeKey, value, SetArgs.Builder.nx().px(ttl.toMillis()))))
                .thenApply("OK"::equals);
    }

    /** Issue 17: compare and set with a new expiry; 1 when replaced. */
    static final String REPLACE = """
            if redis.call('GET', KEYS[1]) == ARGV[1] then
              redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
              return 1
            end
            return 0
            """;

    /** Issue 17: GET and DEL in one step (GETDEL needs Redis 6.2; this runs on any Redis or Valkey). */
    static final String TAKE_VALUE = """
            local v = redis.call('GET', KEYS[1])
            if v then redis.call('DEL', KEYS[1]) end
            return v
            """;

    @Override
    public CompletableFuture<java.util.Optional<String>> get(String key) {
        Commands c = commands;
        if (c == null || !breaker.allow()) {
            return CompletableFuture.failedFuture(StoreUnavailableException.CIRCUIT_OPEN);
        }
        String storeKey = key("kv:", key);
        return guarded(onStoreThread(() -> c.strings().get(storeKey))).thenApply(java.util.Optional::ofNullable);
    }

    @Override
    public CompletableFuture<Boolean> replace(String key, String expected, String value, Duration ttl) {
        return this.<Long>script(REPLACE, ScriptOutputType.INTEGER, key("kv:", key), expected, value,
                Long.toString(Math.max(1, ttl.toMillis()))).thenApply(replaced -> replaced != null && replaced == 1L);
    }

    @Override
    public CompletableFuture<java.util.Optional<String>> take(String key) {
        return this.<String>script(TAKE_VALUE, ScriptOutputType.VALUE, key("kv:", key))
                .thenApply(java.util.Optional::ofNullable);
    }

    /** Runs {@code script} on {@code storeKey} (already namespaced) with {@code args}. */
    private <T> CompletableFuture<T> script(String script, String storeKey, String... args) {
        return script(script, ScriptOutputType.INTEGER, storeKey, args);
    }

    private <T> CompletableFuture<T> script(String script, ScriptOutputType output, String storeKey, String... args) {
        Commands c = commands;
        if (c == null || !breaker.allow()) {
            return CompletableFuture.failedFuture(StoreUnavailableException.CIRCUIT_OPEN);
        }
        String sha = scripts.computeIfAbsent(script, RedisStore::sha1);
        String[] keys = {storeKey};
        CompletableFuture<T> first = onStoreThread(() -> c.scripting().<T>evalsha(sha, output, keys, args));
        CompletableFuture<T> withReload = first.handle((value, error) -> {
            if (error == null) {
                return CompletableFuture.completedFuture(value);
            }
            if (String.valueOf(rootMessage(error)).startsWith("NOSCRIPT")) {
                // Redis restarted (or its script cache was flushed): EVAL loads the script again.
                return this.<T>onStoreThread(() -> c.scripting().<T>eval(script, output, keys, args));
            }
            return CompletableFuture.<T>failedFuture(error);
        }).thenCompose(f -> f);
        return guarded(withReload);
    }

    /**
     * Hands {@code call} (a Lettuce command) to the store's one thread and returns its answer. Lettuce guards its
     * write path with a lock ({@code SharedLock}) that parks a writer while another thread writes: with every
     * command written from this one thread, neither the gateway's event loops nor Lettuce's ever wait on it
     * (found by SharedLimitsBlockHoundTest). The answer completes on Lettuce's event loop.
     */
    private <T> CompletableFuture<T> onStoreThread(Supplier<? extends CompletionStage<T>> call) {
        CompletableFuture<T> out = new CompletableFuture<>();
        try {
            timers.execute(() -> {
                try {
                    call.get().whenComplete((value, error) -> {
                        if (error != null) {
                            out.completeExceptionally(error);
                        } else {
                            out.complete(value);
                        }
                    });
                } catch (RuntimeException e) {
                    out.completeExceptionally(e);
                }
            });
        } catch (java.util.concurrent.RejectedExecutionException closing) {
            out.completeExceptionally(new StoreUnavailableException("store closed", null));
        }
        return out;
    }

    /** Records the outcome in the breaker; a failure becomes {@link StoreUnavailableException}. */
    private <T> CompletableFuture<T> guarded(CompletionStage<T> call) {
        CompletableFuture<T> out = new CompletableFuture<>();
        call.whenComplete((value, error) -> {
            if (error == null) {
                if (breaker.success()) {
                    log.info("shared store {}: answering again; shared limits restored", describe());
                }
                out.complete(value);
            } else {
                if (breaker.failure()) {
                    log.warn("shared store {}: {} failures in a row ({}); the routes' fail modes apply for {}",
                            describe(), config.circuitFailures(), rootMessage(error), config.circuitOpen());
                }
                out.completeExceptionally(new StoreUnavailableException(rootMessage(error), null));
            }
        });
        return out;
    }

    private void renewLeases() {
        Commands c = commands;
        if (c == null || closed || leases.isEmpty() || !breaker.closed()) {
            return;
        }
        String sha = scripts.computeIfAbsent(RENEW, RedisStore::sha1);
        String ttl = Long.toString(leaseTime.toMillis());
        leases.forEach((lease, storeKey) -> c.scripting().<Long>evalsha(sha, ScriptOutputType.INTEGER, new String[] {storeKey},
                lease, ttl).exceptionally(error -> {
                    if (String.valueOf(rootMessage(error)).startsWith("NOSCRIPT")) {
                        onStoreThread(() -> c.scripting().eval(RENEW, ScriptOutputType.INTEGER, new String[] {storeKey}, lease, ttl));
                    }
                    return null;
                }));
    }

    /** {@code <prefix><kind><sha-256 of key, base64url, 128 bits>}. */
    String key(String kind, String key) {
        MessageDigest sha = SHA256.get();
        byte[] hash = sha.digest(key.getBytes(StandardCharsets.UTF_8));
        return prefix + kind + Base64.getUrlEncoder().withoutPadding().encodeToString(java.util.Arrays.copyOf(hash, 16));
    }

    @Override
    public boolean up() {
        StatefulConnection<String, String> c = connection;
        return c != null && c.isOpen() && breaker.closed();
    }

    /** Concurrency leases this replica holds in Redis now. */
    public int leasesHeld() {
        return leases.size();
    }

    @Override
    public String describe() {
        return "redis " + config.mode() + " " + String.join(",", config.addresses());
    }

    /** Gives back every lease still held (shutdown: a call cut by it releases its permit), then disconnects. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        Commands c = commands;
        if (c != null && (!leases.isEmpty() || !releasing.isEmpty())) {
            List<CompletableFuture<?>> releases = new java.util.ArrayList<>(releasing);
            leases.forEach((lease, storeKey) -> releases.add(c.sortedSets().zrem(storeKey, lease).toCompletableFuture()));
            try {
                CompletableFuture.allOf(releases.toArray(CompletableFuture[]::new)).get(2, TimeUnit.SECONDS);
            } catch (Exception e) {
                log.warn("shared store {}: {} lease(s) not released at shutdown; they expire within {}", describe(),
                        leases.size(), leaseTime);
            }
            leases.clear();
        }
        closed = true;
        timers.shutdownNow();
        StatefulConnection<String, String> made = connection;
        if (made != null) {
            made.close();
        }
        if (standalone != null) {
            standalone.shutdown(Duration.ZERO, Duration.ofSeconds(2));
        }
        if (cluster != null) {
            cluster.shutdown(Duration.ZERO, Duration.ofSeconds(2));
        }
        resources.shutdown(0, 2, TimeUnit.SECONDS);
    }

    private static String rootMessage(Throwable error) {
        Throwable root = error;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        String message = root.getMessage();
        return message == null ? root.getClass().getSimpleName() : message;
    }

    static String sha1(String script) {
        return HexFormat.of().formatHex(digest("SHA-1").digest(script.getBytes(StandardCharsets.UTF_8)));
    }

    private static MessageDigest digest(String algorithm) {
        try {
            return MessageDigest.getInstance(algorithm);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
