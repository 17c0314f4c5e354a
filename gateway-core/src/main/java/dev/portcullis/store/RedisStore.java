package dev.portcullis.store;

import dev.portcullis.config.StoreConfig;
import dev.portcullis.listen.Transport;
import io.lettuce.core.ClientOptions;
import io.lettuce.core.MaintNotificationsConfig;
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
import io.lettuce.core.cluster.SlotHash;
import io.lettuce.core.cluster.api.StatefulRedisClusterConnection;
import io.lettuce.core.codec.StringCodec;
import io.lettuce.core.event.DefaultEventPublisherOptions;
import io.lettuce.core.metrics.CommandLatencyRecorder;
import io.lettuce.core.resource.ClientResources;
import io.lettuce.core.resource.Delay;
import io.lettuce.core.resource.EventLoopGroupProvider;
import io.lettuce.core.resource.Transports;
import io.netty.channel.EventLoopGroup;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.ImmediateEventExecutor;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.Base64;
import java.util.HexFormat;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BiConsumer;
import java.util.function.Consumer;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The shared {@link ClusterStore} in Redis or Valkey, through Lettuce (non-blocking, on Netty; one
 * multiplexed connection, which pipelines the calls of every event loop). In the gateway the connection lives
 * on one of the gateway's own worker event loops (issue 18; Lettuce's own loops only for a cluster, or
 * without the gateway's loops): commands are queued and written in batches by the loop the connection is
 * on, at the end of that loop's current work, then flushed once per batch (auto-flush off). A call from a
 * request on that loop (with one worker loop, every call) is written and answered on the thread it came
 * from: no thread hop, no wake-up. No lock contention on Lettuce's write path (which takes a lock that would
 * park an event loop whenever two threads write at once), no extra thread, and under load many commands per
 * write system call. Each operation is one Lua script run with
 * {@code EVALSHA} (loaded again with {@code EVAL} after a Redis restart), atomic in Redis, on Redis's clock
 * ({@code TIME}), so replicas whose clocks differ still agree. All the limits of one call are one script
 * ({@link #check}): one round trip. The checks asked for while the writer was busy are coalesced: calls with the
 * same limits become one {@link #CHECK_MANY} that checks them one after the other, so under load a hot subject's,
 * tool's or route's calls cost Redis and the event loop one command per batch, not one per call.
 *
 * <p>Redis Cluster: a script's keys must share a slot, and a counter's slot must depend on the counter alone
 * (a per-route counter is shared by every subject's calls), so the keys are not hash-tagged: {@link #check}
 * groups a call's keys by slot and sends one script per slot, all at once (one round trip in parallel); when
 * one slot's script refuses while another's counted, the other's is taken back by an undo script (not
 * waited for), so the check stays all or nothing.
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
    /**
     * Every limit of {@code m} calls with the same limits ({@link ClusterStore#check}; on a standalone Redis the checks
     * the event loops asked for while the writer was busy, coalesced by {@link #drain}; on a cluster one call per slot):
     * the calls are checked one after the other in the order they arrived, each all or nothing: a call that a limit
     * refuses counts nothing (no rate consumed, no permit held), so the outcome is the one of {@code m} single-call
     * scripts pipelined, in one command. KEYS: the rate buckets, then the permit sets; ARGV: the number of rates, of
     * permits, of calls, each rate's interval and period (µs), each permit's limit, lease time (ms) and count (the
     * permits taken at once, all or none: a replica's reserve; each held as {@code <lease>#<i>} when more than one),
     * then each call's lease of each permit. Returns, for each call in turn, {refusedAt, one result per rate, one per
     * permit (the permits taken)}.
     */
    static final String CHECK_MANY = """
            local t = redis.call('TIME')
            local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
            local now_ms = math.floor(now / 1000)
            local r = tonumber(ARGV[1])
            local p = tonumber(ARGV[2])
            local m = tonumber(ARGV[3])
            local base = 3 + 2 * r
            local leases = base + 3 * p
            local width = 1 + r + p
            local tats = {}
            for i = 1, r do
              tats[i] = tonumber(redis.call('GET', KEYS[i]) or '0')
              if tats[i] < now then tats[i] = now end
            end
            local counts = {}
            for j = 1, p do
              redis.call('ZREMRANGEBYSCORE', KEYS[r + j], '-inf', now_ms)
              counts[j] = redis.call('ZCARD', KEYS[r + j])
            end
            local out = {}
            local passed = 0
            for c = 0, m - 1 do
              local at = c * width
              for k = 1, width do out[at + k] = 0 end
              local refused = 0
              for i = 1, r do
                local interval = tonumber(ARGV[2 + 2 * i])
                local allow_at = tats[i] + interval - tonumber(ARGV[3 + 2 * i])
                if now < allow_at then
                  refused = i
                  out[at + 1 + i] = -(allow_at - now) - 1
                  break
                end
                out[at + 1 + i] = tats[i] - now
              end
              if refused == 0 then
                for j = 1, p do
                  if counts[j] + tonumber(ARGV[base + 3 * j]) > tonumber(ARGV[base + 3 * j - 2]) then
                    refused = r + j
                    break
                  end
                end
              end
              if refused ~= 0 then
                out[at + 1] = refused
              else
                for i = 1, r do
                  tats[i] = tats[i] + tonumber(ARGV[2 + 2 * i])
                  out[at + 1 + i] = tats[i] - now
                end
                for j = 1, p do
                  local n = tonumber(ARGV[base + 3 * j])
                  local score = now_ms + tonumber(ARGV[base + 3 * j - 1])
                  local lease = ARGV[leases + c * p + j]
                  if n == 1 then
                    redis.call('ZADD', KEYS[r + j], score, lease)
                  else
                    for q = 1, n do redis.call('ZADD', KEYS[r + j], score, lease .. '#' .. q) end
                  end
                  counts[j] = counts[j] + n
                  out[at + 1 + r + j] = n
                end
                passed = passed + 1
              end
            end
            if passed > 0 then
              for i = 1, r do
                redis.call('SET', KEYS[i], string.format('%d', tats[i]), 'PX', math.floor((tats[i] - now) / 1000) + 1)
              end
              for j = 1, p do
                redis.call('PEXPIRE', KEYS[r + j], tonumber(ARGV[base + 3 * j - 1]))
              end
            end
            return out
            """;
    /** At most this many calls in one {@link #CHECK_MANY} (the rest go in the next one, in the same write). */
    static final int MAX_COALESCED = 64;

    /**
     * Takes back what a {@link #CHECK_MANY} counted on one slot of a cluster when another slot refused the call, or
     * the unused calls of an expired reserve ({@link #refund}). KEYS: as CHECK_MANY's; ARGV: the number of rates, of
     * permits, each rate's time to give back (µs), each permit's lease and count.
     */
    static final String UNDO = """
            local t = redis.call('TIME')
            local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
            local r = tonumber(ARGV[1])
            local p = tonumber(ARGV[2])
            for i = 1, r do
              local back = tonumber(redis.call('GET', KEYS[i]) or '0') - tonumber(ARGV[2 + i])
              if back <= now then
                redis.call('DEL', KEYS[i])
              else
                redis.call('SET', KEYS[i], string.format('%d', back), 'PX', math.floor((back - now) / 1000) + 1)
              end
            end
            for j = 1, p do
              local lease = ARGV[1 + r + 2 * j]
              local n = tonumber(ARGV[2 + r + 2 * j])
              if n == 1 then
                redis.call('ZREM', KEYS[r + j], lease)
              else
                for q = 1, n do redis.call('ZREM', KEYS[r + j], lease .. '#' .. q) end
              end
            end
            return 0
            """;

    private final StoreConfig config;
    private final String prefix;
    private final Duration leaseTime;
    private final Breaker breaker;
    private final ClientResources resources;
    /** The store's own thread ({@code portcullis-store}): connects, loads a cluster's topology, schedules renewals and probes. */
    private final ScheduledExecutorService timers;
    /** The event loops Lettuce's channels are on (the gateway's workers, or Lettuce's own). */
    private final EventLoopGroup ioGroup;
    /** Whether {@link #ioGroup} is the gateway's worker loops (issue 18), not Lettuce's own. */
    private final boolean borrowed;
    /** The loop the connection is on: writes every command, in batches. */
    private volatile EventExecutor writer;
    /** Commands asked for and not yet written (any thread adds, the writer drains). */
    private final ConcurrentLinkedQueue<Consumer<Commands>> outbox = new ConcurrentLinkedQueue<>();
    /** Permits given back and not yet written: {store key, lease} (any thread adds, the writer drains). */
    private final ConcurrentLinkedQueue<String[]> releases = new ConcurrentLinkedQueue<>();
    /** Checks asked for and not yet written (standalone; any thread adds, the writer drains and coalesces them). */
    private final ConcurrentLinkedQueue<PendingCheck> checks = new ConcurrentLinkedQueue<>();
    private final AtomicBoolean drainScheduled = new AtomicBoolean();
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

    /**
     * UTF-8 strings whose encoded length Lettuce is told exactly ({@code ByteBufUtil.utf8Bytes}, which counts as
     * {@code writeUtf8} writes), so each argument is written straight into the command's buffer. With
     * {@code StringCodec.UTF8} the length is an estimate and Lettuce encodes every key and argument into a buffer of
     * its own first (an allocation, a copy and a release per argument: the largest share of the store's own CPU in
     * the issue-18 profile).
     */
    static final class ExactUtf8 extends StringCodec {
        static final ExactUtf8 CODEC = new ExactUtf8();

        private ExactUtf8() {
            super(StandardCharsets.UTF_8);
        }

        @Override
        public int estimateSize(Object keyOrValue) {
            return keyOrValue instanceof String text ? io.netty.buffer.ByteBufUtil.utf8Bytes(text) : 0;
        }

        @Override
        public boolean isEstimateExact() {
            return true;
        }
    }

    private static final ThreadLocal<MessageDigest> SHA256 = ThreadLocal.withInitial(() -> digest("SHA-256"));

    /** A store on Lettuce's own event loops (two threads): for tests and tools that have no gateway loops. */
    public RedisStore(StoreConfig config) {
        this(config, null);
    }

    /**
     * @param loops the gateway's worker event loops ({@code GatewayServer.workers}), which the standalone connection
     *              then lives on: a call's script is written from the loop its request is on and answered on a
     *              gateway loop (with one loop, the same one: no thread hop at all). Not shut down by {@link #close}
     *              (close the store first, then the loops). {@code null}, or a cluster, or a transport Lettuce does
     *              not share with the gateway: Lettuce's own event loop group.
     */
    public RedisStore(StoreConfig config, EventLoopGroup loops) {
        this.config = config;
        this.prefix = config.keyPrefix();
        this.leaseTime = config.leaseTime();
        this.breaker = new Breaker(config.circuitFailures(), config.circuitOpen().toNanos(), System::nanoTime);
        // No command latency recording: with LatencyUtils on the class path (Micrometer brings it) Lettuce would
        // record every command's latency and run pause-detector threads that wake every millisecond; the gateway
        // measures its requests itself.
        ClientResources.Builder builder = ClientResources.builder().computationThreadPoolSize(2)
                .commandLatencyRecorder(CommandLatencyRecorder.disabled())
                .commandLatencyPublisherOptions(DefaultEventPublisherOptions.disabled())
                .reconnectDelay(Delay.constant(Duration.ofMillis(500)));
        this.borrowed = loops != null && !config.cluster() && sharesTransport();
        if (borrowed) {
            // Issue 18: the gateway's own loops. Lettuce's channel class (its transport) matches theirs.
            builder.eventLoopGroupProvider(new BorrowedLoops(loops));
        } else {
            // Lettuce's own event loop group, as small as Lettuce allows (two threads; it raises a smaller size to 2):
            // its transport must match the channels it makes (see docs/limits.md). A cluster keeps it: it connects to
            // each node on first use and refreshes its topology on these loops.
            builder.ioThreadPoolSize(2);
        }
        this.resources = builder.build();
        // The group Lettuce's channels use (the provider keeps one per transport); the writer is set to the
        // connection's loop once connected. A connection lives on one of its loops; answers complete there.
        this.ioGroup = resources.eventLoopGroupProvider().allocate(Transports.eventLoopGroupClass());
        this.writer = ioGroup.next();
        // The store's one thread: connects, renews leases and probes.
        this.timers = Executors.newSingleThreadScheduledExecutor(runnable -> {
            Thread thread = new Thread(runnable, "portcullis-store");
            thread.setDaemon(true);
            return thread;
        });
        SocketOptions socket = SocketOptions.builder().connectTimeout(config.connectTimeout()).keepAlive(true).build();
        SslOptions ssl = config.caFile() == null ? null : SslOptions.builder().trustManager(config.caFile().toFile()).build();
        List<RedisURI> uris = config.addresses().stream().map(this::uri).toList();
        // No maintenance notifications (a Redis Enterprise / Cloud feature): open-source Redis and Valkey refuse
        // the CLIENT MAINT_NOTIFICATIONS handshake at every connect, and the maintenance-aware writer would sit
        // in every command's path for nothing.
        if (config.cluster()) {
            // A cluster connects to each node on first use: its commands wait for that (bounded by the timeout)
            // instead of being rejected while the node's connection is made.
            ClusterClientOptions.Builder options = ClusterClientOptions.builder().autoReconnect(true)
                    .disconnectedBehavior(ClientOptions.DisconnectedBehavior.ACCEPT_COMMANDS)
                    .timeoutOptions(TimeoutOptions.enabled(config.timeout())).socketOptions(socket);
            options.maintNotificationsConfig(MaintNotificationsConfig.disabled());
            if (ssl != null) {
                options.sslOptions(ssl);
            }
            this.cluster = RedisClusterClient.create(resources, uris);
            this.cluster.setOptions(options.build());
            this.standalone = null;
        } else {
            ClientOptions.Builder options = ClientOptions.builder().autoReconnect(true)
                    .disconnectedBehavior(ClientOptions.DisconnectedBehavior.REJECT_COMMANDS)
                    .maintNotificationsConfig(MaintNotificationsConfig.disabled())
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

    /**
     * Whether Lettuce makes the gateway's kind of channel ({@link Transport}: epoll, or NIO), so its channels can be
     * registered on the gateway's loops (a loop serves the channels of its own transport only).
     */
    static boolean sharesTransport() {
        return Transports.socketChannelClass() == Transport.socketChannel();
    }

    /** Whether the connection lives on the gateway's loops (else on Lettuce's own). */
    public boolean onGatewayLoops() {
        return borrowed;
    }

    /**
     * Hands Lettuce the gateway's worker loops whatever group class it asks for (it only registers its channels on
     * them: an {@link EventLoopGroup} is all it uses), and never shuts them down: the gateway owns them.
     */
    private record BorrowedLoops(EventLoopGroup loops) implements EventLoopGroupProvider {
        @Override
        @SuppressWarnings("unchecked")
        public <T extends EventLoopGroup> T allocate(Class<T> type) {
            return (T) loops;
        }

        @Override
        public int threadPoolSize() {
            int n = 0;
            for (EventExecutor ignored : loops) {
                n++;
            }
            return n;
        }

        @Override
        public io.netty.util.concurrent.Future<Boolean> release(io.netty.util.concurrent.EventExecutorGroup group,
                                                                long quietPeriod, long timeout, TimeUnit unit) {
            return ImmediateEventExecutor.INSTANCE.newSucceededFuture(true);
        }

        @Override
        public io.netty.util.concurrent.Future<Boolean> shutdown(long quietPeriod, long timeout, TimeUnit unit) {
            return ImmediateEventExecutor.INSTANCE.newSucceededFuture(true);
        }
    }

    /** An open circuit is probed even without traffic, so {@code /readyz} and the next call see a store that is back. */
    private void probe() {
        Commands c = commands;
        if (c == null || closed || breaker.closed() || !breaker.allow()) {
            return;
        }
        command(commands -> commands.strings().get(prefix + "probe"), true);
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
                    .thenCompose(loaded -> cluster.connectAsync(ExactUtf8.CODEC));
        } else {
            future = standalone.connectAsync(ExactUtf8.CODEC, uriOf()).toCompletableFuture();
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
            // Standalone: the writer flushes once per batch. A cluster keeps flushing each command: Lettuce writes a
            // command for a node whose connection is still being made once that connection is up, after the batch's flush.
            made.setAutoFlushCommands(cluster != null);
            // Lettuce keeps at least two loops: write from the one the connection is on (its handshake completes
            // there), so a write needs no hand-over between loops.
            followConnection();
            connection = made;
            if (made instanceof StatefulRedisClusterConnection<String, String> c) {
                var async = c.async();
                commands = new Commands(async, async, async, async);
            } else {
                var async = ((StatefulRedisConnection<String, String>) made).async();
                commands = new Commands(async, async, async, async);
            }
            breaker.success();
            log.info("shared store {}: connected ({})", describe(), borrowed ? "on the gateway's event loops"
                    : "on Lettuce's own event loops");
            // Every script loaded up front (a cluster's SCRIPT LOAD goes to every node), so even the first use of one
            // is an EVALSHA; an UNDO answered NOSCRIPT would otherwise be sent again after checks queued behind it.
            for (String script : List.of(CHECK_MANY, UNDO, RENEW, TAKE, ACQUIRE, REPLACE, TAKE_VALUE)) {
                command(c -> c.scripting().scriptLoad(script), false);
            }
        });
    }

    private RedisURI uriOf() {
        return uri(config.addresses().get(0));
    }

    @Override
    public CompletableFuture<Long> take(String key, long intervalMicros, long periodMicros) {
        return script(TAKE, new String[] {key("rl:", key)}, Long.toString(intervalMicros), Long.toString(periodMicros));
    }

    @Override
    public CompletableFuture<Boolean> acquire(String key, long limit, String lease, Duration leaseTime) {
        String storeKey = key("cc:", key);
        return this.<Long>script(ACQUIRE, new String[] {storeKey}, Long.toString(limit), lease,
                Long.toString(leaseTime.toMillis())).thenApply(taken -> {
                    if (taken == 1L) {
                        leases.put(lease, storeKey);
                        return true;
                    }
                    return false;
                });
    }

    @Override
    public CompletableFuture<long[]> check(List<Take> rates, List<Acquire> permits) {
        int r = rates.size();
        int n = r + permits.size();
        String[] keys = new String[n];
        for (int i = 0; i < r; i++) {
            keys[i] = key("rl:", rates.get(i).key());
        }
        for (int j = 0; j < permits.size(); j++) {
            keys[r + j] = key("cc:", permits.get(j).key());
        }
        if (cluster == null) {
            if (commands == null || !breaker.allow()) {
                return CompletableFuture.failedFuture(StoreUnavailableException.CIRCUIT_OPEN);
            }
            PendingCheck pending = new PendingCheck(rates, permits, keys, signature(rates, permits, keys), new CompletableFuture<>());
            checks.add(pending);
            scheduleDrain();
            return pending.out;
        }
        if (oneSlot(keys)) {
            int[] all = new int[n];
            for (int i = 0; i < n; i++) {
                all[i] = i;
            }
            return checkSlot(rates, permits, keys, all).thenApply(result -> {
                holdLeases(permits, keys, all, result);
                return result;
            });
        }
        // Redis Cluster, keys on several slots: one script per slot, sent together; all or nothing by undoing.
        Map<Integer, List<Integer>> bySlot = new LinkedHashMap<>();
        for (int i = 0; i < n; i++) {
            bySlot.computeIfAbsent(SlotHash.getSlot(keys[i]), slot -> new ArrayList<>(2)).add(i);
        }
        List<int[]> groups = new ArrayList<>(bySlot.size());
        List<CompletableFuture<long[]>> answers = new ArrayList<>(bySlot.size());
        for (List<Integer> slot : bySlot.values()) {
            int[] group = slot.stream().mapToInt(Integer::intValue).toArray();
            groups.add(group);
            answers.add(checkSlot(rates, permits, keys, group));
        }
        return CompletableFuture.allOf(answers.toArray(CompletableFuture[]::new)).handle((all, error) -> {
            long[] merged = new long[1 + n];
            int refusedAt = 0;
            for (int g = 0; g < groups.size(); g++) {
                long[] answer = answers.get(g).isCompletedExceptionally() ? null : answers.get(g).join();
                if (answer != null && answer[0] != 0) {
                    int at = groups.get(g)[(int) answer[0] - 1] + 1;
                    refusedAt = refusedAt == 0 ? at : Math.min(refusedAt, at);
                }
                if (answer != null) {
                    for (int k = 0; k < groups.get(g).length; k++) {
                        merged[1 + groups.get(g)[k]] = answer[1 + k];
                    }
                }
            }
            if (error == null && refusedAt == 0) {
                int[] everything = new int[n];
                for (int i = 0; i < n; i++) {
                    everything[i] = i;
                }
                holdLeases(permits, keys, everything, merged);
                return merged;
            }
            // Refused (or failed) somewhere: the slots that counted give it back.
            for (int g = 0; g < groups.size(); g++) {
                CompletableFuture<long[]> answer = answers.get(g);
                if (!answer.isCompletedExceptionally() && answer.join()[0] == 0) {
                    undo(rates, permits, keys, groups.get(g));
                    for (int k : groups.get(g)) {
                        merged[1 + k] = k < r ? Math.max(0, merged[1 + k] - rates.get(k).intervalMicros()) : 0;
                    }
                }
            }
            if (error != null) {
                throw error instanceof CompletionException ce ? ce : new CompletionException(error);
            }
            merged[0] = refusedAt;
            return merged;
        });
    }

    private static boolean oneSlot(String[] keys) {
        int slot = keys.length == 0 ? 0 : SlotHash.getSlot(keys[0]);
        for (int i = 1; i < keys.length; i++) {
            if (SlotHash.getSlot(keys[i]) != slot) {
                return false;
            }
        }
        return true;
    }

    /** The {@link #CHECK_MANY} script for one call on the limits at {@code positions} (rates first, their keys in one slot). */
    private CompletableFuture<long[]> checkSlot(List<Take> rates, List<Acquire> permits, String[] keys, int[] positions) {
        int r = rates.size();
        int gr = 0;
        for (int k : positions) {
            if (k < r) {
                gr++;
            }
        }
        int gp = positions.length - gr;
        String[] slotKeys = new String[positions.length];
        String[] args = new String[3 + 2 * gr + 4 * gp];
        args[0] = Integer.toString(gr);
        args[1] = Integer.toString(gp);
        args[2] = "1"; // one call
        int a = 3;
        int lease = 3 + 2 * gr + 3 * gp;
        for (int k = 0; k < positions.length; k++) {
            int at = positions[k];
            slotKeys[k] = keys[at];
            if (at < r) {
                Take take = rates.get(at);
                args[a++] = Long.toString(take.intervalMicros());
                args[a++] = Long.toString(take.periodMicros());
            } else {
                Acquire acquire = permits.get(at - r);
                args[a++] = Long.toString(acquire.limit());
                args[a++] = Long.toString(acquire.leaseTime().toMillis());
                args[a++] = Integer.toString(acquire.count());
                args[lease++] = acquire.lease();
            }
        }
        return this.<List<Object>>script(CHECK_MANY, ScriptOutputType.MULTI, slotKeys, args).thenApply(reply -> {
            long[] result = new long[reply.size()];
            for (int i = 0; i < result.length; i++) {
                result[i] = ((Number) reply.get(i)).longValue();
            }
            return result;
        });
    }

    /** The {@link #UNDO} script for the limits at {@code positions} (counted by one slot's CHECK_MANY); not waited for. */
    private void undo(List<Take> rates, List<Acquire> permits, String[] keys, int[] positions) {
        int r = rates.size();
        String[] slotKeys = new String[positions.length];
        int gr = 0;
        for (int at : positions) {
            if (at < r) {
                gr++;
            }
        }
        String[] args = new String[2 + gr + 2 * (positions.length - gr)];
        int a = 2;
        for (int k = 0; k < positions.length; k++) {
            int at = positions[k];
            slotKeys[k] = keys[at];
            if (at < r) {
                args[a++] = Long.toString(rates.get(at).intervalMicros());
            } else {
                args[a++] = permits.get(at - r).lease();
                args[a++] = Integer.toString(permits.get(at - r).count());
            }
        }
        args[0] = Integer.toString(gr);
        args[1] = Integer.toString(positions.length - gr);
        tracked(script(UNDO, ScriptOutputType.INTEGER, slotKeys, args, false)); // sent even if the circuit opened meanwhile
    }

    /** Remembers (for renewal and release) the leases a passed check holds. */
    private void holdLeases(List<Acquire> permits, String[] keys, int[] positions, long[] result) {
        if (result[0] != 0 || permits.isEmpty()) {
            return;
        }
        int r = keys.length - permits.size();
        for (int k : positions) {
            if (k >= r) {
                Acquire acquire = permits.get(k - r);
                for (int q = 1; q <= acquire.count(); q++) {
                    leases.put(acquire.member(q), keys[k]);
                }
            }
        }
    }

    @Override
    public void refund(String key, long micros) {
        if (commands == null || closed || micros <= 0) {
            return; // the reserve's calls stay counted until the bucket refills: fewer calls, never more
        }
        tracked(script(UNDO, ScriptOutputType.INTEGER, new String[] {key("rl:", key)},
                new String[] {"1", "0", Long.toString(micros)}, false));
    }

    @Override
    public void release(String key, String lease) {
        String storeKey = leases.remove(lease);
        if (storeKey == null || commands == null || closed) {
            return; // never acquired here, or the store is gone: the lease expires on its own
        }
        // Not waited for: queued for the writer, which gives back every permit of one key released meanwhile with one
        // ZREM, pipelined with the other commands. A release lost with the connection expires with its lease.
        releases.add(new String[] {storeKey, lease});
        scheduleDrain();
    }

    /** One call's limits waiting for the writer: its rates, permits, store keys and what it is grouped by. */
    private record PendingCheck(List<Take> rates, List<Acquire> permits, String[] keys, String signature,
                                CompletableFuture<long[]> out) {}

    /** What calls must share to be checked by one {@link #CHECK_MANY}: the same keys, rates and caps (not leases). */
    private static String signature(List<Take> rates, List<Acquire> permits, String[] keys) {
        StringBuilder text = new StringBuilder(64 * keys.length);
        for (String key : keys) {
            text.append(key).append(' ');
        }
        for (Take take : rates) {
            text.append(take.intervalMicros()).append('/').append(take.periodMicros()).append(' ');
        }
        for (Acquire acquire : permits) {
            text.append(acquire.limit()).append('/').append(acquire.leaseTime().toMillis()).append('x')
                    .append(acquire.count()).append(' ');
        }
        return text.toString();
    }

    /**
     * On the writer: the checks queued since the last batch, coalesced: the calls with the same limits (a hot
     * subject's, tool's or route's) become one {@link #CHECK_MANY}, in the order they arrived. Under load this turns
     * many commands into a few (less to encode, write, run in Redis and decode); a lone call is one command as
     * before. Returns how many commands it wrote.
     */
    private int writeChecks(Commands c) {
        PendingCheck first = checks.poll();
        if (first == null) {
            return 0;
        }
        Map<String, List<PendingCheck>> bySignature = new LinkedHashMap<>();
        for (PendingCheck pending = first; pending != null; pending = checks.poll()) {
            bySignature.computeIfAbsent(pending.signature(), k -> new ArrayList<>(4)).add(pending);
        }
        int written = 0;
        for (List<PendingCheck> group : bySignature.values()) {
            for (int from = 0; from < group.size(); from += MAX_COALESCED) {
                writeCheckMany(c, group.subList(from, Math.min(group.size(), from + MAX_COALESCED)));
                written++;
            }
        }
        return written;
    }

    /** One {@link #CHECK_MANY} for {@code calls} (same signature); each call's future gets its own answer. */
    private void writeCheckMany(Commands c, List<PendingCheck> calls) {
        PendingCheck one = calls.get(0);
        int r = one.rates().size();
        int p = one.permits().size();
        int m = calls.size();
        String[] args = new String[3 + 2 * r + 3 * p + m * p];
        args[0] = Integer.toString(r);
        args[1] = Integer.toString(p);
        args[2] = Integer.toString(m);
        int a = 3;
        for (Take take : one.rates()) {
            args[a++] = Long.toString(take.intervalMicros());
            args[a++] = Long.toString(take.periodMicros());
        }
        for (Acquire acquire : one.permits()) {
            args[a++] = Long.toString(acquire.limit());
            args[a++] = Long.toString(acquire.leaseTime().toMillis());
            args[a++] = Integer.toString(acquire.count());
        }
        for (PendingCheck call : calls) {
            for (Acquire acquire : call.permits()) {
                args[a++] = acquire.lease();
            }
        }
        String[] keys = one.keys();
        Call<List<Object>> call = new Call<>(
                commands -> commands.scripting().<List<Object>>evalsha(scripts.computeIfAbsent(CHECK_MANY, RedisStore::sha1),
                        ScriptOutputType.MULTI, keys, args),
                commands -> commands.scripting().<List<Object>>eval(CHECK_MANY, ScriptOutputType.MULTI, keys, args), true);
        call.out.whenComplete((reply, error) -> {
            int width = 1 + r + p;
            for (int k = 0; k < m; k++) {
                PendingCheck pending = calls.get(k);
                if (error != null) {
                    pending.out().completeExceptionally(error);
                    continue;
                }
                long[] result = new long[width];
                for (int i = 0; i < width; i++) {
                    result[i] = ((Number) reply.get(k * width + i)).longValue();
                }
                holdLeases(pending.permits(), pending.keys(), everyPosition(width - 1), result);
                pending.out().complete(result);
            }
        });
        call.accept(c);
    }

    /** Checks that can no longer be written (the store is closed) fail: the caller's fail mode applies. */
    private void failChecks() {
        PendingCheck pending;
        while ((pending = checks.poll()) != null) {
            pending.out().completeExceptionally(new StoreUnavailableException("the store is closed", null));
        }
    }

    private static int[] everyPosition(int n) {
        int[] all = new int[n];
        for (int i = 0; i < n; i++) {
            all[i] = i;
        }
        return all;
    }

    /** On the writer: one {@code ZREM} per key for the releases queued; returns how many commands it wrote. */
    private int writeReleases(Commands c) {
        String[] release = releases.poll();
        if (release == null) {
            return 0;
        }
        Map<String, List<String>> byKey = new LinkedHashMap<>();
        for (; release != null; release = releases.poll()) {
            byKey.computeIfAbsent(release[0], k -> new ArrayList<>(2)).add(release[1]);
        }
        byKey.forEach((storeKey, members) -> {
            Call<Long> call = new Call<>(commands -> commands.sortedSets().zrem(storeKey, members.toArray(String[]::new)), null, false);
            tracked(call.out);
            call.accept(c);
        });
        return byKey.size();
    }

    /** Keeps {@code sent} until it is answered, so shutdown can wait for it. */
    private void tracked(CompletableFuture<?> sent) {
        releasing.add(sent);
        sent.whenComplete((value, error) -> releasing.remove(sent));
    }

    @Override
    public CompletableFuture<Boolean> putIfAbsent(String key, String value, Duration ttl) {
        if (commands == null || !breaker.allow()) {
            return CompletableFuture.failedFuture(StoreUnavailableException.CIRCUIT_OPEN);
        }
        String storeKey = key("kv:", key);
        return command(c -> c.strings().set(storeKey, value, SetArgs.Builder.nx().px(ttl.toMillis())), true).thenApply("OK"::equals);
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
        if (commands == null || !breaker.allow()) {
            return CompletableFuture.failedFuture(StoreUnavailableException.CIRCUIT_OPEN);
        }
        String storeKey = key("kv:", key);
        return this.<String>command(c -> c.strings().get(storeKey), true).thenApply(java.util.Optional::ofNullable);
    }

    @Override
    public CompletableFuture<Boolean> replace(String key, String expected, String value, Duration ttl) {
        return this.<Long>script(REPLACE, ScriptOutputType.INTEGER, new String[] {key("kv:", key)}, expected, value,
                Long.toString(Math.max(1, ttl.toMillis()))).thenApply(replaced -> replaced != null && replaced == 1L);
    }

    @Override
    public CompletableFuture<java.util.Optional<String>> take(String key) {
        return this.<String>script(TAKE_VALUE, ScriptOutputType.VALUE, new String[] {key("kv:", key)})
                .thenApply(java.util.Optional::ofNullable);
    }

    /** Runs {@code script} (an integer answer) on {@code storeKeys} (already namespaced) with {@code args}. */
    private <T> CompletableFuture<T> script(String script, String[] storeKeys, String... args) {
        return script(script, ScriptOutputType.INTEGER, storeKeys, args);
    }

    private <T> CompletableFuture<T> script(String script, ScriptOutputType type, String[] storeKeys, String... args) {
        if (commands == null || !breaker.allow()) {
            return CompletableFuture.failedFuture(StoreUnavailableException.CIRCUIT_OPEN);
        }
        return script(script, type, storeKeys, args, true);
    }

    /** Sends {@code script}; {@code guarded}: as for {@link #command}. */
    private <T> CompletableFuture<T> script(String script, ScriptOutputType type, String[] storeKeys, String[] args,
                                            boolean guarded) {
        Call<T> call = new Call<>(c -> c.scripting().<T>evalsha(scripts.computeIfAbsent(script, RedisStore::sha1), type,
                storeKeys, args), c -> c.scripting().<T>eval(script, type, storeKeys, args), guarded);
        send(call);
        return call.out;
    }

    /**
     * Sends one command (no script). A success closes the circuit; a failure counts against it only when
     * {@code guarded} (the call asked {@link Breaker#allow} first): a release or an undo sent while the circuit is
     * open must not keep it open.
     */
    private <T> CompletableFuture<T> command(Function<Commands, ? extends CompletionStage<T>> command, boolean guarded) {
        Call<T> call = new Call<>(command, null, guarded);
        send(call);
        return call.out;
    }

    /**
     * One command on its way: written by the writer ({@link #drain}), answered on the connection's loop, where its
     * outcome is recorded in the breaker and a failure becomes {@link StoreUnavailableException}. A script Redis
     * does not know ({@code NOSCRIPT}: Redis restarted, or its script cache was flushed) is sent once more with
     * {@code EVAL}, which loads it again.
     */
    private final class Call<T> implements Consumer<Commands>, BiConsumer<T, Throwable> {
        final CompletableFuture<T> out = new CompletableFuture<>();
        private Function<Commands, ? extends CompletionStage<T>> command;
        private Function<Commands, ? extends CompletionStage<T>> reload;
        private final boolean guarded;

        Call(Function<Commands, ? extends CompletionStage<T>> command, Function<Commands, ? extends CompletionStage<T>> reload,
             boolean guarded) {
            this.command = command;
            this.reload = reload;
            this.guarded = guarded;
        }

        @Override
        public void accept(Commands c) {
            try {
                if (c == null) {
                    throw new StoreUnavailableException("not connected", null);
                }
                command.apply(c).whenComplete(this);
            } catch (RuntimeException e) {
                accept(null, e);
            }
        }

        @Override
        public void accept(T value, Throwable error) {
            if (error == null) {
                if (cluster == null && !writer.inEventLoop()) {
                    followConnection(); // reconnected onto another loop of the group: write from there
                }
                if (breaker.success()) {
                    log.info("shared store {}: answering again; shared limits restored", describe());
                }
                out.complete(value);
                return;
            }
            if (reload != null && String.valueOf(rootMessage(error)).startsWith("NOSCRIPT")) {
                command = reload;
                reload = null;
                send(this);
                return;
            }
            if (guarded && breaker.failure()) {
                log.warn("shared store {}: {} failures in a row ({}); the routes' fail modes apply for {}",
                        describe(), config.circuitFailures(), rootMessage(error), config.circuitOpen());
            }
            out.completeExceptionally(error instanceof StoreUnavailableException unavailable ? unavailable
                    : new StoreUnavailableException(rootMessage(error), null));
        }
    }

    /** Makes the loop this thread is (if it is one of {@link #ioGroup}, where the connection's answers arrive) the writer. */
    private void followConnection() {
        for (EventExecutor loop : ioGroup) {
            if (loop.inEventLoop()) {
                writer = loop;
                return;
            }
        }
    }

    /** Queues {@code write} for the writer, which is woken once for however many commands are queued meanwhile. */
    private void send(Consumer<Commands> write) {
        outbox.add(write);
        scheduleDrain();
    }

    private void scheduleDrain() {
        if (drainScheduled.compareAndSet(false, true)) {
            try {
                writer.execute(this::drain);
            } catch (RejectedExecutionException shutDown) {
                drainScheduled.set(false);
                Consumer<Commands> pending;
                while ((pending = outbox.poll()) != null) {
                    pending.accept(null); // fails it: the store is closed
                }
                releases.clear(); // the leases expire on their own
                failChecks();
            }
        }
    }

    /** On the connection's event loop: writes every queued command, then flushes them in one write. */
    private void drain() {
        Commands c = commands;
        int written = 0;
        do {
            drainScheduled.set(false);
            Consumer<Commands> write;
            while ((write = outbox.poll()) != null) {
                write.accept(c);
                written++;
            }
            written += writeReleases(c);
            written += writeChecks(c);
        } while ((!outbox.isEmpty() || !releases.isEmpty() || !checks.isEmpty()) && drainScheduled.compareAndSet(false, true));
        StatefulConnection<String, String> made = connection;
        if (written > 0 && made != null && cluster == null) {
            made.flushCommands();
        }
    }

    private void renewLeases() {
        if (commands == null || closed || leases.isEmpty() || !breaker.closed()) {
            return;
        }
        String ttl = Long.toString(leaseTime.toMillis());
        leases.forEach((lease, storeKey) -> script(RENEW, new String[] {storeKey}, lease, ttl));
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
        if (commands != null && (!leases.isEmpty() || !releasing.isEmpty() || !releases.isEmpty())) {
            List<CompletableFuture<?>> sent = new ArrayList<>();
            leases.forEach((lease, storeKey) -> sent.add(command(c -> c.sortedSets().zrem(storeKey, lease), false)));
            sent.add(command(c -> c.strings().get(prefix + "probe"), false)); // answered after the queued releases
            sent.addAll(releasing);
            try {
                CompletableFuture.allOf(sent.toArray(CompletableFuture[]::new)).get(2, TimeUnit.SECONDS);
                CompletableFuture.allOf(releasing.toArray(CompletableFuture[]::new)).get(2, TimeUnit.SECONDS);
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
        Consumer<Commands> unsent;
        while ((unsent = outbox.poll()) != null) {
            unsent.accept(null); // asked for while closing: fails (the caller's fail mode applies) instead of never answering
        }
        failChecks();
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
