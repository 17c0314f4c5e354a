package dev.portcullis.limit;

import static dev.portcullis.StageFixtures.authenticated;
import static dev.portcullis.StageFixtures.bytes;
import static dev.portcullis.StageFixtures.post;
import static dev.portcullis.StageFixtures.toolCall;
import static org.assertj.core.api.Assertions.assertThat;

import dev.portcullis.StageFixtures;
import dev.portcullis.authn.BearerToken;
import dev.portcullis.authn.Principal;
import dev.portcullis.authz.Authorize;
import dev.portcullis.authz.AuthorizedRequest;
import dev.portcullis.inspect.InspectedRequest;
import dev.portcullis.inspect.JsonRpcInspector;
import dev.portcullis.policy.Policy;
import dev.portcullis.policy.PolicyLoader;
import dev.portcullis.route.Route;
import dev.portcullis.store.ClusterStore;
import dev.portcullis.store.MemoryStore;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * Issue 18, {@code store.reserve}: a replica takes a reserve of a hot limit in one store round trip and spends it
 * without asking again; the store still counted every call first. No sockets: the shared store is a {@link MemoryStore}
 * that counts what it is asked, the clock is the test's.
 */
class ReservesTest {
    private static final String POLICY = """
            default: deny
            tools:
              hot:
                limits: [10000/min per route, 1000 concurrent per route]
              tight:
                limits: [300/min per route]
              capped:
                limits: [200 concurrent per route]
              guarded:
                limits: [10000/min per route, 1 concurrent per route]
              small:
                limits: [20/min per route, 2 concurrent per route]
            """;
    private static final Duration HOLD = Duration.ofSeconds(1);
    private final Authorize authorize = new Authorize();
    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private final Route route = StageFixtures.route(PolicyLoader.parse(POLICY, "reserves.yaml").policy());
    private final AtomicLong clock = new AtomicLong(1_000_000_000L);
    private final CountingStore shared = new CountingStore();

    private Limiter replica(double share) {
        Reserves reserves = new Reserves(shared, share, HOLD, clock::get, false);
        return new Limiter(shared, new MemoryStore(), 1, Duration.ofSeconds(60), registry, reserves);
    }

    private AuthorizedRequest call(int id, String tool) {
        byte[] bytes = bytes(toolCall(id, tool));
        Principal principal = new Principal("https://idp.example.com", "alice", "agent-1", Set.of(), Set.of(), Map.of(),
                "jti-1", Instant.now().plusSeconds(300), new BearerToken("caller-token"));
        return authorize.apply(new InspectedRequest(authenticated(route, post("/mcp"), principal), bytes,
                new JsonRpcInspector().inspect(bytes), false));
    }

    /** The counter of the route-wide limit {@code tools.<tool>#<index>}, as the limiter names it. */
    private String counterKey(String tool, int index) {
        String id = "tools." + tool + "#" + index;
        return Limiter.key(route.name(), route.policy().limits().all().stream().filter(l -> l.id().equals(id))
                .findFirst().orElseThrow(), null, null);
    }

    private static LimitOutcome decided(LimitOutcome outcome) {
        assertThat(outcome.future()).isCompleted(); // the MemoryStore answers at once
        return outcome;
    }

    @Test
    void aHotCounterAsksTheStoreOncePerReserveNotPerCall() {
        Limiter limiter = replica(0.01); // 1%: reserves of up to 100 calls of 10000/min, 10 permits of 1000
        int admitted = 0;
        for (int i = 0; i < 200; i++) {
            LimitOutcome outcome = decided(limiter.apply(call(i, "hot")));
            if (outcome.refused().isEmpty()) {
                admitted++;
            }
            outcome.release();
        }
        assertThat(admitted).isEqualTo(200);
        // Reserves of 1, 2, 4, ... 64, then 100: eight round trips for 200 calls (one per call without reserves).
        assertThat(shared.checks.get()).isEqualTo(8);
        // The store counted every admitted call before it was admitted (and the reserve's rest): never fewer.
        assertThat(shared.callsCounted.get()).isGreaterThanOrEqualTo(200).isLessThanOrEqualTo(200 + 100);
        // The permits: one held since the first call, kept as this replica's spare, no release in between.
        assertThat(shared.memory.held(counterKey("hot", 1))).isEqualTo(1);
        assertThat(shared.releases.get()).isZero();
    }

    @Test
    void withoutAReserveEveryCallAsksTheStore() {
        Limiter limiter = replica(0);
        for (int i = 0; i < 20; i++) {
            decided(limiter.apply(call(i, "hot"))).release();
        }
        assertThat(shared.checks.get()).isEqualTo(20);
        assertThat(shared.releases.get()).isEqualTo(20);
    }

    @Test
    void smallLimitsStayExact() {
        Limiter limiter = replica(0.10); // 10% of 20/min is 2 calls, of 2 permits 0: the rate reserves, the cap does not
        List<LimitOutcome> held = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            held.add(decided(limiter.apply(call(i, "small"))));
        }
        assertThat(held.stream().filter(o -> o.refused().isEmpty()).count()).isEqualTo(2); // the cap of 2 exactly
        held.forEach(LimitOutcome::release);
        assertThat(shared.memory.held(counterKey("small", 1))).isZero(); // released at once, no spare kept
    }

    @Test
    void twoReplicasTogetherNeverAdmitMoreThanTheRateAndUseAllOfIt() {
        Limiter one = replica(0.10); // reserves of up to 30 of 300/min
        Limiter two = replica(0.10);
        long started = System.nanoTime();
        int admitted = 0;
        for (int i = 0; i < 1_000; i++) {
            LimitOutcome outcome = decided((i % 3 == 0 ? two : one).apply(call(i, "tight")));
            if (outcome.refused().isEmpty()) {
                admitted++;
            }
        }
        long refilled = (System.nanoTime() - started) / 200_000_000L + 1; // 300/min refills one call every 200 ms
        // Near the limit a reserve no longer fits and calls ask for themselves alone: the whole bucket is used.
        assertThat(admitted).isBetween(300, (int) (300 + refilled));
        assertThat(shared.refunds.get()).isZero();
    }

    @Test
    void twoReplicasTogetherNeverHoldMoreThanTheCap() {
        Limiter one = replica(0.05); // reserves of up to 10 of 200 permits
        Limiter two = replica(0.05);
        List<LimitOutcome> held = new ArrayList<>();
        for (int i = 0; i < 260; i++) {
            LimitOutcome outcome = decided((i % 2 == 0 ? one : two).apply(call(i, "capped")));
            if (outcome.refused().isEmpty()) {
                held.add(outcome);
            }
        }
        assertThat(held).hasSize(200);
        String key = counterKey("capped", 0);
        assertThat(shared.memory.held(key)).isEqualTo(200);
        assertThat(shared.checks.get()).isLessThan(200); // spares served some of the calls
        held.forEach(LimitOutcome::release);
        // Back to each replica's spares (at most one reserve's worth each), the rest to the store at once.
        assertThat(shared.memory.held(key)).isLessThanOrEqualTo(20);
    }

    @Test
    void sparePermitsIdleForTheHoldGoBackToTheStore() {
        Limiter limiter = replica(0.01);
        Reserves reserves = limiter.reservesForTest();
        String cap = counterKey("hot", 1);
        for (int i = 0; i < 3; i++) {
            decided(limiter.apply(call(i, "hot"))).release();
        }
        assertThat(reserves.spare(cap)).isPositive();
        assertThat(shared.memory.held(cap)).isEqualTo(reserves.held(cap));
        reserves.sweep();
        assertThat(shared.memory.held(cap)).as("used just now: kept").isPositive();
        clock.addAndGet(HOLD.toNanos());
        reserves.sweep();
        assertThat(shared.memory.held(cap)).isZero();
        assertThat(reserves.held(cap)).isZero();
    }

    /** A permit the store lost (a Redis restart) is not counted by its replica for longer than its maximum age. */
    @Test
    void aSparePermitIsReusedForAtMostItsMaximumAgeThenGoesBack() {
        Reserves reserves = new Reserves(shared, 0.01, HOLD, Duration.ofSeconds(10), clock::get, false);
        Limiter limiter = new Limiter(shared, new MemoryStore(), 1, Duration.ofSeconds(60), registry, reserves);
        String cap = counterKey("hot", 1);
        decided(limiter.apply(call(1, "hot"))).release();
        assertThat(reserves.spare(cap)).isEqualTo(1);
        clock.addAndGet(Duration.ofSeconds(9).toNanos());
        decided(limiter.apply(call(2, "hot"))).release(); // nine seconds old: reused and kept
        assertThat(shared.releases.get()).isZero();
        assertThat(reserves.spare(cap)).isEqualTo(1);
        clock.addAndGet(Duration.ofSeconds(1).toNanos());
        decided(limiter.apply(call(3, "hot"))).release(); // ten: used once more, then given back to the store
        assertThat(shared.releases.get()).isEqualTo(1);
        assertThat(reserves.held(cap)).isZero();
        assertThat(shared.memory.held(cap)).isZero();
    }

    @Test
    void callsOfAReserveNotSpentWithinTheHoldGoBackToTheBucket() {
        Limiter limiter = replica(0.01);
        for (int i = 0; i < 4; i++) { // reserves of 1, 2 and 4: three calls of the last one left
            decided(limiter.apply(call(i, "hot"))).release();
        }
        assertThat(shared.callsCounted.get()).isEqualTo(7);
        clock.addAndGet(HOLD.toNanos());
        decided(limiter.apply(call(9, "hot"))).release(); // stale reserve: the store is asked, the old one given back
        assertThat(shared.refunds.get()).isEqualTo(1);
        assertThat(shared.refundedMicros.get()).isEqualTo(3 * 6_000L); // three calls of 10000/min (6 ms each)
        assertThat(shared.checks.get()).isEqualTo(4);
    }

    @Test
    void aCallALaterLimitRefusesGivesItsReservedCallBack() {
        Limiter limiter = replica(0.01);
        LimitOutcome first = decided(limiter.apply(call(1, "guarded"))); // holds the one permit
        assertThat(first.refused()).isEmpty();
        first.release();
        List<LimitOutcome> held = new ArrayList<>();
        held.add(decided(limiter.apply(call(2, "guarded"))));
        long counted = shared.callsCounted.get();
        // Each of these takes a call from the rate's reserve (or the store), then the cap refuses: nothing stays taken.
        for (int i = 3; i < 10; i++) {
            LimitOutcome refused = decided(limiter.apply(call(i, "guarded")));
            assertThat(refused.refused()).hasSize(1);
        }
        held.forEach(LimitOutcome::release);
        // Every refused call's rate was given back: the next admitted calls are served from the same reserve.
        long before = shared.checks.get();
        decided(limiter.apply(call(20, "guarded"))).release();
        assertThat(shared.callsCounted.get() - counted).as("calls the store counted for rates since")
                .isLessThanOrEqualTo(1);
        assertThat(shared.checks.get() - before).isLessThanOrEqualTo(1);
    }

    @Test
    void callsThatFindNoReserveWhileOneIsAskedForAskForThemselvesAndKeepIt() {
        Limiter limiter = replica(0.01);
        for (int i = 0; i < 3; i++) { // reserves of 1 and 2, used up: the next is 4
            decided(limiter.apply(call(i, "hot"))).release();
        }
        shared.deferred = new ArrayList<>();
        List<LimitOutcome> burst = new ArrayList<>();
        for (int i = 0; i < 5; i++) { // five calls at once, none answered yet
            burst.add(limiter.apply(call(10 + i, "hot")));
        }
        assertThat(shared.deferred).hasSize(5);
        assertThat(shared.deferredCalls).as("one asks for the next reserve, the other four for themselves alone")
                .containsExactly(4L, 1L, 1L, 1L, 1L);
        List<Runnable> answers = shared.deferred;
        shared.deferred = null;
        answers.forEach(Runnable::run);
        burst.forEach(o -> assertThat(decided(o).refused()).isEmpty());
        burst.forEach(LimitOutcome::release);
        assertThat(shared.refunds.get()).as("no reserve replaced by a call's own").isZero();
        int checks = shared.checks.get();
        for (int i = 0; i < 3; i++) { // the reserve of 4 (three left) serves the next three calls
            decided(limiter.apply(call(20 + i, "hot"))).release();
        }
        assertThat(shared.checks.get()).isEqualTo(checks);
    }

    /** The shared store: a {@link MemoryStore} that counts what it is asked. */
    static final class CountingStore implements ClusterStore {
        final MemoryStore memory = new MemoryStore();
        final AtomicInteger checks = new AtomicInteger();
        final AtomicLong callsCounted = new AtomicLong();
        final AtomicInteger refunds = new AtomicInteger();
        final AtomicLong refundedMicros = new AtomicLong();
        final AtomicInteger releases = new AtomicInteger();
        /** When set, checks are answered only when the test runs these (in order); the calls of the hot rate asked. */
        volatile List<Runnable> deferred;
        final List<Long> deferredCalls = new ArrayList<>();

        /** Counts calls by the time charged: both rates of the policy are per minute, 10000 or 300 of them. */
        @Override
        public CompletableFuture<long[]> check(List<Take> rates, List<Acquire> permits) {
            checks.incrementAndGet();
            if (deferred != null) {
                CompletableFuture<long[]> later = new CompletableFuture<>();
                deferredCalls.add(rates.get(0).intervalMicros() / 6_000);
                deferred.add(() -> later.complete(answer(rates, permits)));
                return later;
            }
            return CompletableFuture.completedFuture(answer(rates, permits));
        }

        private long[] answer(List<Take> rates, List<Acquire> permits) {
            long[] result = memory.checkNow(rates, permits);
            if (result[0] == 0) {
                for (Take take : rates) {
                    long oneCall = take.key().contains("tight") ? 200_000 : 6_000;
                    callsCounted.addAndGet(take.intervalMicros() / oneCall);
                }
            }
            return result;
        }

        @Override
        public void refund(String key, long micros) {
            refunds.incrementAndGet();
            refundedMicros.addAndGet(micros);
            memory.refund(key, micros);
        }

        @Override
        public void release(String key, String lease) {
            releases.incrementAndGet();
            memory.release(key, lease);
        }

        @Override
        public CompletableFuture<Long> take(String key, long intervalMicros, long periodMicros) {
            return memory.take(key, intervalMicros, periodMicros);
        }

        @Override
        public CompletableFuture<Boolean> acquire(String key, long limit, String lease, Duration leaseTime) {
            return memory.acquire(key, limit, lease, leaseTime);
        }

        @Override
        public CompletableFuture<Boolean> putIfAbsent(String key, String value, Duration ttl) {
            return memory.putIfAbsent(key, value, ttl);
        }

        @Override
        public CompletableFuture<Optional<String>> get(String key) {
            return memory.get(key);
        }

        @Override
        public CompletableFuture<Boolean> replace(String key, String expected, String value, Duration ttl) {
            return memory.replace(key, expected, value, ttl);
        }

        @Override
        public CompletableFuture<Optional<String>> take(String key) {
            return memory.take(key);
        }

        @Override
        public boolean up() {
            return true;
        }

        @Override
        public String describe() {
            return "counting memory";
        }

        @Override
        public void close() {
            memory.close();
        }
    }
}
