package dev.portcullis.store;

import static org.assertj.core.api.Assertions.assertThat;

import dev.portcullis.config.StoreConfig;
import dev.portcullis.testing.RedisServer;
import io.lettuce.core.cluster.SlotHash;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Issue 18: {@link RedisStore} against a real {@code redis-server}: GCRA buckets and permits shared by two
 * stores (two replicas), leases that expire, the script cache lost with a restart, set-if-absent with TTL,
 * a password, and a Redis that dies and comes back (fast failure, automatic recovery).
 */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class RedisStoreTest {
    private static RedisServer redis;

    @BeforeAll
    static void startRedis() {
        redis = RedisServer.start();
    }

    @AfterAll
    static void stopRedis() {
        redis.close();
    }

    static StoreConfig config(RedisServer server, String prefix, String password) {
        return new StoreConfig("redis", null, List.of(server.url()), null, password, null, null, prefix,
                Duration.ofMillis(200), Duration.ofSeconds(1), Duration.ofMillis(300), 2, 1, null, null, null, null);
    }

    static RedisStore connected(StoreConfig config) throws InterruptedException {
        RedisStore store = new RedisStore(config);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!store.up() && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertThat(store.up()).as("connected to %s", config.addresses()).isTrue();
        return store;
    }

    private static long take(ClusterStore store, String key, long intervalMicros, long periodMicros) throws Exception {
        return store.take(key, intervalMicros, periodMicros).get(5, TimeUnit.SECONDS);
    }

    @Test
    void twoStoresShareOneBucketExactly() throws Exception {
        try (RedisStore one = connected(config(redis, "t1:", null)); RedisStore two = connected(config(redis, "t1:", null))) {
            // 10 per minute: the first 10 pass (whichever replica takes them), the 11th waits about 6 s.
            int allowed = 0;
            long refusedWait = -1;
            for (int i = 0; i < 30; i++) {
                long result = take(i % 2 == 0 ? one : two, "route|limit|alice", 6_000_000, 60_000_000);
                if (Gcra.allowed(result)) {
                    allowed++;
                } else {
                    refusedWait = Gcra.retryAfterMicros(result);
                }
            }
            assertThat(allowed).isEqualTo(10);
            assertThat(refusedWait).isBetween(5_000_000L, 6_000_000L);
            assertThat(Gcra.allowed(take(one, "route|limit|bob", 6_000_000, 60_000_000))).as("another key").isTrue();
            // Keys are namespaced and hashed (no claim value in Redis), and expire.
            List<String> keys = redis.with(r -> r.keys("t1:rl:*"));
            assertThat(keys).hasSize(2).allSatisfy(k -> assertThat(k).doesNotContain("alice").doesNotContain("bob"));
            long ttl = redis.with(r -> r.pttl(keys.get(0)));
            assertThat(ttl).isBetween(1L, 61_000L);
        }
    }

    @Test
    void concurrentTakesFromManyThreadsNeverOverAdmit() throws Exception {
        try (RedisStore one = connected(config(redis, "t2:", null)); RedisStore two = connected(config(redis, "t2:", null))) {
            List<CompletableFuture<Long>> calls = new ArrayList<>();
            for (int i = 0; i < 400; i++) {
                calls.add((i % 2 == 0 ? one : two).take("hot", 600_000_000L / 50, 600_000_000L)); // 50 per 10 min
            }
            long allowed = 0;
            for (CompletableFuture<Long> call : calls) {
                if (Gcra.allowed(call.get(10, TimeUnit.SECONDS))) {
                    allowed++;
                }
            }
            assertThat(allowed).isEqualTo(50);
        }
    }

    @Test
    void permitsAreSharedReleasedAndExpire() throws Exception {
        try (RedisStore one = connected(config(redis, "t3:", null)); RedisStore two = connected(config(redis, "t3:", null))) {
            Duration lease = Duration.ofSeconds(30);
            assertThat(one.acquire("deploy", 2, "a", lease).get(5, TimeUnit.SECONDS)).isTrue();
            assertThat(two.acquire("deploy", 2, "b", lease).get(5, TimeUnit.SECONDS)).isTrue();
            assertThat(one.acquire("deploy", 2, "c", lease).get(5, TimeUnit.SECONDS)).as("third of two").isFalse();
            assertThat(redis.permitsHeld("t3:")).isEqualTo(2);
            one.release("deploy", "a");
            one.release("deploy", "a"); // twice: nothing more happens
            awaitPermits("t3:", 1);
            assertThat(two.acquire("deploy", 2, "d", lease).get(5, TimeUnit.SECONDS)).isTrue();
            two.release("deploy", "b");
            two.release("deploy", "d");
            awaitPermits("t3:", 0);
            // A replica that dies holding a permit: its lease expires.
            assertThat(one.acquire("solo", 1, "crashed", Duration.ofMillis(300)).get(5, TimeUnit.SECONDS)).isTrue();
            assertThat(two.acquire("solo", 1, "next", lease).get(5, TimeUnit.SECONDS)).isFalse();
            Thread.sleep(400);
            assertThat(two.acquire("solo", 1, "next", lease).get(5, TimeUnit.SECONDS)).as("after the lease expired").isTrue();
        }
    }

    private static final Duration LEASE = Duration.ofSeconds(30);

    /** As {@link #config}, with a 2 s timeout: these tests are about what a check counts, not about a slow machine. */
    static StoreConfig patient(RedisServer server, String prefix) {
        return new StoreConfig("redis", null, List.of(server.url()), null, null, null, null, prefix,
                Duration.ofSeconds(2), Duration.ofSeconds(2), Duration.ofMillis(300), 2, 1, null, null, null, null);
    }

    private static long calls(String commandStats, String command) {
        return commandStats.lines().filter(l -> l.startsWith("cmdstat_" + command + ":")).findFirst()
                .map(l -> Long.parseLong(l.replaceAll("^[^:]+:calls=(\\d+).*$", "$1"))).orElse(0L);
    }

    /**
     * Issue 18: {@link RedisStore#check}, every limit of a call in one script, all or nothing: a call a later
     * limit refuses consumes none of the earlier ones (neither a rate nor a permit), shared by two stores; and
     * each check is exactly one {@code EVALSHA} in Redis ({@code INFO commandstats}, Redis's own count).
     */
    @Test
    void aCheckCountsEveryLimitOfACallInOneScriptAllOrNothing() throws Exception {
        try (RedisStore one = connected(patient(redis, "tb:")); RedisStore two = connected(patient(redis, "tb:"))) {
            long interval = 30_000_000; // 2/min
            List<ClusterStore.Take> rates = List.of(new ClusterStore.Take("rate-a", interval, 2 * interval),
                    new ClusterStore.Take("rate-b", interval, 4 * interval));
            long[] first = one.check(rates, List.of(new ClusterStore.Acquire("cap", 1, "lease-1", LEASE))).get(5, TimeUnit.SECONDS);
            assertThat(first).as("all passed, rate-a 1 left, rate-b 3 left, the permit held").hasSize(4);
            assertThat(first[0]).isZero();
            assertThat(Gcra.remaining(first[1], interval, 2 * interval)).isEqualTo(1);
            assertThat(Gcra.remaining(first[2], interval, 4 * interval)).isEqualTo(3);
            assertThat(first[3]).isEqualTo(1);
            assertThat(redis.permitsHeld("tb:")).isEqualTo(1);
            assertThat(one.leasesHeld()).isEqualTo(1);
            String rateA = one.key("rl:", "rate-a");
            String before = redis.with(r -> r.get(rateA));

            // The cap (1 permit, held) refuses: position 3; the two rates it passed are not consumed.
            redis.with(r -> r.configResetstat());
            long[] refused = two.check(rates, List.of(new ClusterStore.Acquire("cap", 1, "lease-2", LEASE))).get(5, TimeUnit.SECONDS);
            String stats = redis.with(r -> r.info("commandstats"));
            assertThat(calls(stats, "evalsha")).as("one check, one script call:\n%s", stats).isEqualTo(1);
            assertThat(calls(stats, "eval")).isZero();
            assertThat(refused[0]).isEqualTo(3);
            assertThat(Gcra.remaining(refused[1], interval, 2 * interval)).as("rate-a without the refused call").isEqualTo(1);
            String after = redis.with(r -> r.get(rateA));
            assertThat(after).as("rate-a's bucket untouched").isEqualTo(before);
            assertThat(redis.permitsHeld("tb:")).isEqualTo(1);
            assertThat(two.leasesHeld()).isZero();

            // The permit back: rate-a's second call passes; its third is refused at position 1, and rate-b and the
            // cap are not counted for it.
            one.release("cap", "lease-1");
            awaitPermits("tb:", 0);
            long[] second = two.check(rates, List.of(new ClusterStore.Acquire("cap", 1, "lease-3", LEASE))).get(5, TimeUnit.SECONDS);
            assertThat(second[0]).isZero();
            assertThat(Gcra.remaining(second[2], interval, 4 * interval)).isEqualTo(2);
            two.release("cap", "lease-3");
            awaitPermits("tb:", 0);
            long[] third = one.check(rates, List.of(new ClusterStore.Acquire("cap", 5, "lease-4", LEASE))).get(5, TimeUnit.SECONDS);
            assertThat(third[0]).as("refused by rate-a").isEqualTo(1);
            assertThat(Gcra.retryAfterMicros(third[1])).isBetween(interval - 2_000_000, interval);
            assertThat(redis.permitsHeld("tb:")).isZero();
            assertThat(one.leasesHeld()).isZero();
            long[] onlyB = one.check(List.of(rates.get(1)), List.of()).get(5, TimeUnit.SECONDS);
            assertThat(Gcra.remaining(onlyB[1], interval, 4 * interval)).as("rate-b counted twice, not three times").isEqualTo(1);
        }
    }

    /**
     * Issue 18, {@code store.reserve}: a check may take several calls of a rate (a GCRA call of several intervals) and
     * several permits of a cap at once, all or none, each permit under its own lease; a reserve's unused calls go back
     * with {@link RedisStore#refund}; and a reserve that does not fit is refused without counting anything.
     */
    @Test
    void aReserveTakesSeveralCallsAndPermitsAtOnceAndGivesUnusedCallsBack() throws Exception {
        try (RedisStore one = connected(patient(redis, "tr:")); RedisStore two = connected(patient(redis, "tr:"))) {
            long interval = 6_000_000; // 10/min
            long period = 10 * interval;
            // Four calls and three of five permits in one script.
            long[] reserve = one.check(List.of(new ClusterStore.Take("r", 4 * interval, period)),
                    List.of(new ClusterStore.Acquire("c", 5, "block-1", LEASE, 3))).get(5, TimeUnit.SECONDS);
            assertThat(reserve[0]).isZero();
            assertThat(Gcra.remaining(reserve[1], interval, period)).as("10 - 4 calls").isEqualTo(6);
            assertThat(reserve[2]).as("permits taken").isEqualTo(3);
            assertThat(redis.permitsHeld("tr:")).isEqualTo(3);
            assertThat(one.leasesHeld()).as("one lease per permit, each renewed and released on its own").isEqualTo(3);
            // Three more permits do not fit in the two left: refused, nothing counted, the rate untouched.
            String bucket = one.key("rl:", "r");
            String before = redis.with(r -> r.get(bucket));
            long[] tooMany = two.check(List.of(new ClusterStore.Take("r", interval, period)),
                    List.of(new ClusterStore.Acquire("c", 5, "block-2", LEASE, 3))).get(5, TimeUnit.SECONDS);
            assertThat(tooMany[0]).isEqualTo(2);
            assertThat((String) redis.with(r -> r.get(bucket))).isEqualTo(before);
            assertThat(redis.permitsHeld("tr:")).isEqualTo(3);
            // Seven calls of the six left do not fit either; one does.
            assertThat(two.check(List.of(new ClusterStore.Take("r", 7 * interval, period)), List.of()).get(5, TimeUnit.SECONDS)[0])
                    .isEqualTo(1);
            long[] single = two.check(List.of(new ClusterStore.Take("r", interval, period)), List.of()).get(5, TimeUnit.SECONDS);
            assertThat(Gcra.remaining(single[1], interval, period)).isEqualTo(5);
            // Three unused calls of the reserve go back: eight left.
            one.refund("r", 3 * interval);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            long[] after;
            do {
                after = two.check(List.of(new ClusterStore.Take("r", 0, period)), List.of()).get(5, TimeUnit.SECONDS);
            } while (Gcra.remaining(after[1], interval, period) < 8 && System.nanoTime() < deadline);
            assertThat(Gcra.remaining(after[1], interval, period)).isEqualTo(8);
            // Each permit of the block goes back on its own.
            one.release("c", "block-1#1");
            one.release("c", "block-1#2");
            awaitPermits("tr:", 1);
            one.release("c", "block-1#3");
            awaitPermits("tr:", 0);
            assertThat(one.leasesHeld()).isZero();
        }
    }

    /** Under load the checks of many threads are pipelined and still exact (no over-admission, no lost permit). */
    @Test
    void concurrentChecksFromManyThreadsNeverOverAdmitAndGiveEveryPermitBack() throws Exception {
        try (RedisStore one = connected(patient(redis, "tp:")); RedisStore two = connected(patient(redis, "tp:"))) {
            List<CompletableFuture<long[]>> calls = new ArrayList<>();
            List<ClusterStore.Take> rates = List.of(new ClusterStore.Take("hot", 600_000_000L / 50, 600_000_000L),
                    new ClusterStore.Take("wide", 1, 1_000_000_000L));
            for (int i = 0; i < 400; i++) {
                calls.add((i % 2 == 0 ? one : two).check(rates, List.of(new ClusterStore.Acquire("cap", 1_000, "l" + i, LEASE))));
            }
            int allowed = 0;
            for (int i = 0; i < calls.size(); i++) {
                long[] result = calls.get(i).get(10, TimeUnit.SECONDS);
                if (result[0] == 0) {
                    allowed++;
                    (i % 2 == 0 ? one : two).release("cap", "l" + i);
                } else {
                    assertThat(result[0]).isEqualTo(1);
                }
            }
            assertThat(allowed).isEqualTo(50);
            awaitPermits("tp:", 0);
        }
    }

    @Test
    void closingAStoreGivesBackTheLeasesItHolds() throws Exception {
        RedisStore one = connected(config(redis, "t4:", null));
        for (int i = 0; i < 5; i++) {
            assertThat(one.acquire("k" + i, 10, "lease-" + i, Duration.ofSeconds(60)).get(5, TimeUnit.SECONDS)).isTrue();
        }
        assertThat(redis.permitsHeld("t4:")).isEqualTo(5);
        one.close();
        assertThat(redis.permitsHeld("t4:")).isZero();
    }

    /**
     * Issue 18 (≤150 µs added to p50 on one core): on the gateway's worker loops a call's script is written from the
     * loop its request is on and answered on that same thread (one worker loop: no hop to Lettuce's own loops, no
     * wake-up of another thread); many calls in one turn of the loop still count exactly. Closing the store gives
     * its leases back over those loops and leaves them running: the gateway owns them and stops them after it.
     */
    @Test
    void onTheGatewaysLoopsACallIsWrittenAndAnsweredOnTheLoopItCameFrom() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(RedisStore.sharesTransport(), "Lettuce's transport is the gateway's");
        io.netty.channel.EventLoopGroup workers = dev.portcullis.listen.GatewayServer.workers(1);
        try {
            RedisStore store = new RedisStore(config(redis, "tl:", null), workers);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (!store.up() && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            assertThat(store.up()).isTrue();
            assertThat(store.onGatewayLoops()).isTrue();
            io.netty.util.concurrent.EventExecutor loop = workers.next();
            List<String> answeredOn = java.util.Collections.synchronizedList(new ArrayList<>());
            CompletableFuture<List<Long>> results = new CompletableFuture<>();
            loop.execute(() -> {
                List<CompletableFuture<Long>> calls = new ArrayList<>();
                for (int i = 0; i < 200; i++) { // one turn of the loop: written as one batch
                    calls.add(store.take("loop-hot", 600_000_000L / 50, 600_000_000L).whenComplete(
                            (value, error) -> answeredOn.add(Thread.currentThread().getName()
                                    + (loop.inEventLoop() ? "" : " (not the caller's loop)"))));
                }
                CompletableFuture.allOf(calls.toArray(CompletableFuture[]::new))
                        .thenRun(() -> results.complete(calls.stream().map(CompletableFuture::join).toList()));
            });
            assertThat(results.get(10, TimeUnit.SECONDS).stream().filter(Gcra::allowed).count()).isEqualTo(50);
            assertThat(answeredOn).hasSize(200).allSatisfy(name -> assertThat(name).startsWith("portcullis-io-")
                    .doesNotContain("not the caller's loop"));
            CompletableFuture<Boolean> acquired = new CompletableFuture<>();
            loop.execute(() -> store.acquire("loop-permit", 5, "held", Duration.ofSeconds(60)).whenComplete((ok, error) -> {
                if (error != null) {
                    acquired.completeExceptionally(error);
                } else {
                    acquired.complete(ok && loop.inEventLoop());
                }
            }));
            assertThat(acquired.get(5, TimeUnit.SECONDS)).as("acquired, answered on the caller's loop").isTrue();
            assertThat(redis.permitsHeld("tl:")).isEqualTo(1);
            store.close();
            assertThat(redis.permitsHeld("tl:")).as("given back at close, over the gateway's loops").isZero();
            assertThat(workers.isShuttingDown()).as("the gateway's loops outlive the store").isFalse();
            assertThat(workers.submit(() -> 7).get(5, TimeUnit.SECONDS)).isEqualTo(7);
        } finally {
            workers.shutdownGracefully(0, 1, TimeUnit.SECONDS).await(5, TimeUnit.SECONDS);
        }
    }

    /**
     * Issue 18 (full throughput with pipelined calls): the checks the event loop asks for in one turn are coalesced,
     * one {@code CHECK_MANY} per set of limits ({@code INFO commandstats}: two script calls for eight checks of two
     * kinds), and each call is still checked on its own, all or nothing, in the order it came: the same answers as
     * eight scripts one after the other.
     */
    @Test
    void checksOfOneTurnOfTheLoopAreCoalescedAndStillExactInTheirOrder() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(RedisStore.sharesTransport(), "Lettuce's transport is the gateway's");
        io.netty.channel.EventLoopGroup workers = dev.portcullis.listen.GatewayServer.workers(1);
        try (RedisStore store = new RedisStore(patient(redis, "tc:"), workers)) {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (!store.up() && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            long interval = 12_000_000; // 5/min
            List<ClusterStore.Take> rateA = List.of(new ClusterStore.Take("a", interval, 5 * interval));
            List<ClusterStore.Take> rateB = List.of(new ClusterStore.Take("b", interval, 2 * interval));
            Thread.sleep(200); // the scripts loaded at connect are counted before the reset
            redis.with(r -> r.configResetstat());
            CompletableFuture<List<long[]>> answers = new CompletableFuture<>();
            workers.next().execute(() -> {
                List<CompletableFuture<long[]>> calls = new ArrayList<>();
                for (int i = 0; i < 4; i++) { // one turn of the loop, two kinds of call interleaved
                    calls.add(store.check(rateA, List.of(new ClusterStore.Acquire("cap", 3, "a" + i, LEASE))));
                    calls.add(store.check(rateB, List.of()));
                }
                CompletableFuture.allOf(calls.toArray(CompletableFuture[]::new))
                        .whenComplete((all, error) -> {
                            if (error != null) {
                                answers.completeExceptionally(error);
                            } else {
                                answers.complete(calls.stream().map(CompletableFuture::join).toList());
                            }
                        });
            });
            List<long[]> got = answers.get(10, TimeUnit.SECONDS);
            String stats = redis.with(r -> r.info("commandstats"));
            assertThat(calls(stats, "evalsha")).as("eight checks of two kinds, two script calls:\n%s", stats).isEqualTo(2);
            for (int i = 0; i < 3; i++) {
                long[] a = got.get(2 * i);
                assertThat(a[0]).as("a%d passed", i).isZero();
                assertThat(Gcra.remaining(a[1], interval, 5 * interval)).isEqualTo(4 - i);
                assertThat(a[2]).isEqualTo(1);
            }
            long[] fourthA = got.get(6);
            assertThat(fourthA[0]).as("the fourth a refused by the cap (3 held)").isEqualTo(2);
            assertThat(Gcra.remaining(fourthA[1], interval, 5 * interval)).as("its rate not consumed").isEqualTo(2);
            for (int i = 0; i < 4; i++) {
                long[] b = got.get(2 * i + 1);
                assertThat(b[0]).as("b%d", i).isEqualTo(i < 2 ? 0 : 1);
            }
            assertThat(Gcra.retryAfterMicros(got.get(5)[1])).isBetween(interval - 2_000_000, interval);
            assertThat(redis.permitsHeld("tc:")).isEqualTo(3);
            assertThat(store.leasesHeld()).isEqualTo(3);
            for (int i = 0; i < 3; i++) {
                store.release("cap", "a" + i);
            }
            awaitPermits("tc:", 0);
            long[] afterwards = store.check(rateA, List.of(new ClusterStore.Acquire("cap", 3, "a9", LEASE))).get(5, TimeUnit.SECONDS);
            assertThat(afterwards[0]).isZero();
            assertThat(Gcra.remaining(afterwards[1], interval, 5 * interval)).as("a counted three times before, not four").isEqualTo(1);
        } finally {
            workers.shutdownGracefully(0, 1, TimeUnit.SECONDS).await(5, TimeUnit.SECONDS);
        }
    }

    @Test
    void putIfAbsentSetsOnceUntilItExpires() throws Exception {
        try (RedisStore one = connected(config(redis, "t5:", null)); RedisStore two = connected(config(redis, "t5:", null))) {
            assertThat(one.putIfAbsent("jti-1", "x", Duration.ofMillis(300)).get(5, TimeUnit.SECONDS)).isTrue();
            assertThat(two.putIfAbsent("jti-1", "y", Duration.ofMillis(300)).get(5, TimeUnit.SECONDS)).isFalse();
            Thread.sleep(400);
            assertThat(two.putIfAbsent("jti-1", "y", Duration.ofMillis(300)).get(5, TimeUnit.SECONDS)).isTrue();
        }
    }

    @Test
    void scriptsAreLoadedAgainAfterRedisForgetsThem() throws Exception {
        try (RedisStore one = connected(config(redis, "t6:", null))) {
            assertThat(Gcra.allowed(take(one, "k", 1_000, 1_000_000))).isTrue();
            redis.with(r -> r.scriptFlush());
            assertThat(Gcra.allowed(take(one, "k", 1_000, 1_000_000))).as("NOSCRIPT answered by EVAL").isTrue();
            assertThat(one.up()).isTrue();
        }
    }

    @Test
    void aPasswordProtectedRedis() throws Exception {
        try (RedisServer locked = RedisServer.start("--requirepass", "s3cret-pw")) {
            try (RedisStore store = connected(config(locked, "t7:", "s3cret-pw"))) {
                assertThat(Gcra.allowed(take(store, "k", 1_000, 1_000_000))).isTrue();
            }
            RedisStore wrong = new RedisStore(config(locked, "t7:", "wrong"));
            try {
                Thread.sleep(500);
                assertThat(wrong.up()).as("a wrong password never connects").isFalse();
                assertThat(wrong.take("k", 1_000, 1_000_000)).failsWithin(Duration.ofSeconds(2))
                        .withThrowableOfType(ExecutionException.class).withCauseInstanceOf(StoreUnavailableException.class);
                assertThat(wrong.describe()).doesNotContain("s3cret").doesNotContain("wrong");
            } finally {
                wrong.close();
            }
        }
    }

    @Test
    void aRedisThatSpeaksOnlyTls(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        io.netty.pkitesting.X509Bundle cert = new io.netty.pkitesting.CertificateBuilder().subject("CN=redis-test")
                .addSanIpAddress("127.0.0.1").notBefore(java.time.Instant.now().minusSeconds(60))
                .notAfter(java.time.Instant.now().plusSeconds(3600)).setIsCertificateAuthority(true).rsa2048().buildSelfSigned();
        java.nio.file.Path crt = java.nio.file.Files.writeString(dir.resolve("redis.crt"), cert.getCertificatePEM());
        java.nio.file.Path key = java.nio.file.Files.writeString(dir.resolve("redis.key"), cert.getPrivateKeyPEM());
        try (RedisServer tls = RedisServer.startTls(crt, key)) {
            StoreConfig trusting = new StoreConfig("redis", null, List.of(tls.url()), null, null, null, crt, "t9:",
                    Duration.ofMillis(500), Duration.ofSeconds(2), Duration.ofMillis(300), 2, 1, null, null, null, null);
            try (RedisStore store = connected(trusting)) {
                assertThat(Gcra.allowed(take(store, "k", 1_000, 1_000_000))).isTrue();
            }
            // Without the CA the server's certificate is not trusted: never connected, every call fails.
            StoreConfig untrusting = new StoreConfig("redis", null, List.of(tls.url()), null, null, null, null, "t9:",
                    Duration.ofMillis(500), Duration.ofSeconds(2), Duration.ofMillis(300), 2, 1, null, null, null, null);
            RedisStore refused = new RedisStore(untrusting);
            try {
                Thread.sleep(1_000);
                assertThat(refused.up()).isFalse();
            } finally {
                refused.close();
            }
        }
    }

    @Test
    void aRedisClusterSharesBucketsAndPermitsAcrossStores(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
            throws Exception {
        List<RedisServer> nodes = RedisServer.startCluster(3, dir);
        try {
            StoreConfig cluster = new StoreConfig("redis", "cluster", nodes.stream().map(RedisServer::url).toList(), null, null,
                    null, null, "tc:", Duration.ofMillis(500), Duration.ofSeconds(2), Duration.ofMillis(300), 2, 1, null, null, null, null);
            try (RedisStore one = connected(cluster); RedisStore two = connected(cluster)) {
                // Many keys, so they land on every node's slots; each bucket of 3 is shared exactly.
                for (int k = 0; k < 30; k++) {
                    int allowed = 0;
                    for (int i = 0; i < 5; i++) {
                        if (Gcra.allowed(take(i % 2 == 0 ? one : two, "subject-" + k, 20_000_000, 60_000_000))) {
                            allowed++;
                        }
                    }
                    assertThat(allowed).as("key %d", k).isEqualTo(3);
                }
                assertThat(one.acquire("deploy", 1, "a", Duration.ofSeconds(30)).get(5, TimeUnit.SECONDS)).isTrue();
                assertThat(two.acquire("deploy", 1, "b", Duration.ofSeconds(30)).get(5, TimeUnit.SECONDS)).isFalse();
                one.release("deploy", "a");
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
                boolean freed = false;
                while (!freed && System.nanoTime() < deadline) {
                    freed = two.acquire("deploy", 1, "b", Duration.ofSeconds(30)).get(5, TimeUnit.SECONDS);
                    Thread.sleep(20);
                }
                assertThat(freed).isTrue();
                two.release("deploy", "b");

                // A check whose keys lie on several slots (so nodes): one script per slot, all or nothing: the cap
                // refuses, and the rates counted on the other slots are taken back.
                String rateKey = "spread-rate";
                String capKey = java.util.stream.IntStream.range(0, 100).mapToObj(i -> "spread-cap-" + i)
                        .filter(k -> SlotHash.getSlot(one.key("cc:", k)) != SlotHash.getSlot(one.key("rl:", rateKey)))
                        .findFirst().orElseThrow();
                List<ClusterStore.Take> rate = List.of(new ClusterStore.Take(rateKey, 20_000_000, 40_000_000));
                long[] passed = one.check(rate, List.of(new ClusterStore.Acquire(capKey, 1, "x", Duration.ofSeconds(30))))
                        .get(5, TimeUnit.SECONDS);
                assertThat(passed[0]).isZero();
                assertThat(passed[2]).isEqualTo(1);
                for (int i = 0; i < 3; i++) {
                    long[] refused = two.check(rate, List.of(new ClusterStore.Acquire(capKey, 1, "y" + i, Duration.ofSeconds(30))))
                            .get(5, TimeUnit.SECONDS);
                    assertThat(refused[0]).as("refused by the cap").isEqualTo(2);
                }
                one.release(capKey, "x");
                long deadline2 = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
                long[] again;
                do {
                    again = two.check(rate, List.of(new ClusterStore.Acquire(capKey, 1, "z", Duration.ofSeconds(30))))
                            .get(5, TimeUnit.SECONDS);
                    Thread.sleep(20);
                } while (again[0] == 2 && System.nanoTime() < deadline2);
                assertThat(again[0]).as("the rate's second call was not used up by the three refused checks").isZero();
                two.release(capKey, "z");
                assertThat(one.check(rate, List.of()).get(5, TimeUnit.SECONDS)[0]).as("2 per 40 s: the third is refused")
                        .isEqualTo(1);
            }
            long keysOnNodes = nodes.stream().mapToLong(n -> n.with(r -> r.dbsize())).filter(size -> size > 0).count();
            assertThat(keysOnNodes).as("keys spread over the nodes").isGreaterThan(1);
        } finally {
            nodes.forEach(RedisServer::close);
        }
    }

    @Test
    void aDeadRedisFailsFastAndARestartedOneIsUsedAgain() throws Exception {
        try (RedisServer mortal = RedisServer.start(); RedisStore store = connected(config(mortal, "t8:", null))) {
            assertThat(Gcra.allowed(take(store, "k", 1_000, 1_000_000))).isTrue();
            mortal.kill();
            AtomicInteger failed = new AtomicInteger();
            long slowest = 0;
            for (int i = 0; i < 20; i++) {
                long start = System.nanoTime();
                try {
                    store.take("k", 1_000, 1_000_000).get(5, TimeUnit.SECONDS);
                } catch (ExecutionException e) {
                    assertThat(e.getCause()).isInstanceOf(StoreUnavailableException.class);
                    failed.incrementAndGet();
                }
                slowest = Math.max(slowest, System.nanoTime() - start);
            }
            assertThat(failed.get()).as("every call fails while Redis is down").isEqualTo(20);
            assertThat(Duration.ofNanos(slowest)).as("no call waits longer than the timeout").isLessThan(Duration.ofMillis(1000));
            assertThat(store.up()).isFalse();
            mortal.restart();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
            while (!store.up() && System.nanoTime() < deadline) {
                Thread.sleep(50);
            }
            assertThat(store.up()).as("reconnected and the circuit closed, without a call").isTrue();
            assertThat(Gcra.allowed(take(store, "k", 1_000, 1_000_000))).isTrue();
        }
    }

    private static void awaitPermits(String prefix, long expected) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (redis.permitsHeld(prefix) != expected && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertThat(redis.permitsHeld(prefix)).isEqualTo(expected);
    }
}
