package dev.portcullis.limit;

import dev.portcullis.authn.Principal;
import dev.portcullis.authz.AuthorizedRequest;
import dev.portcullis.authz.PartialBatch;
import dev.portcullis.failure.GatewayFailure;
import dev.portcullis.failure.Reason;
import dev.portcullis.inspect.InspectedRequest;
import dev.portcullis.inspect.McpMessage;
import dev.portcullis.policy.Decision;
import dev.portcullis.policy.Limit;
import dev.portcullis.policy.Limits;
import dev.portcullis.route.Route;
import dev.portcullis.store.ClusterStore;
import dev.portcullis.store.Gcra;
import dev.portcullis.store.MemoryStore;
import io.micrometer.core.instrument.MeterRegistry;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Issue 18: the second half of the authorize stage. After policy allowed a request (so a denied call
 * consumes nothing), each allowed request element counts against the limits of the rule that allowed it
 * and the route's default ({@link Limits#applying}): its rates first, then its concurrency caps, all or
 * nothing: an element a limit refuses consumes nothing (the rates it passed are not counted, the permits
 * it took are given back). With a shared store, all the limits of an element are one store round trip
 * ({@link ClusterStore#check}).
 *
 * <p>Where the counters live: in process ({@link MemoryStore}) when the gateway has no shared store; in the
 * shared store ({@code store: {type: redis}}) otherwise. When the shared store does not answer, the route's
 * {@code limits.fail} decides: {@code local} counts in process against each limit divided by
 * {@code store.replicas}; {@code closed} refuses the element (503).
 *
 * <p>Never blocks: the in-process path answers at once; the shared path answers through a future that
 * completes on the store's threads.
 */
public final class Limiter {
    private final ClusterStore shared;
    private final MemoryStore local;
    private final int replicas;
    private final Duration leaseTime;
    private final LimitMetrics metrics;
    private final String replicaId = replicaId();
    private final AtomicLong leases = new AtomicLong();
    /** This replica's reserves of the shared limits ({@code store.reserve}), or null (every call asks the store). */
    private final Reserves reserves;

    /**
     * @param shared   the shared store, or null for in-process limits only
     * @param local    in-process counters (the limits themselves without a shared store; the fallback with one)
     * @param replicas how many replicas share the limits (the fallback's divisor)
     */
    public Limiter(ClusterStore shared, MemoryStore local, int replicas, Duration leaseTime, MeterRegistry registry) {
        this(shared, local, replicas, leaseTime, 0, Duration.ofSeconds(1), registry);
    }

    /**
     * @param reserve     the share of each limit a replica may take ahead of its calls ({@code store.reserve}; 0: none)
     * @param reserveHold how long a reserve is kept ({@code store.reserve-hold})
     */
    public Limiter(ClusterStore shared, MemoryStore local, int replicas, Duration leaseTime, double reserve,
                   Duration reserveHold, MeterRegistry registry) {
        this(shared, local, replicas, leaseTime, registry,
                shared == null || reserve <= 0 ? null
                        : new Reserves(shared, reserve, reserveHold, leaseTime.dividedBy(2), System::nanoTime, true));
    }

    /** With {@code reserves} made by the caller (tests: a clock of their own, no sweeping thread). */
    Limiter(ClusterStore shared, MemoryStore local, int replicas, Duration leaseTime, MeterRegistry registry,
            Reserves reserves) {
        this.shared = shared;
        this.local = local;
        this.replicas = replicas;
        this.leaseTime = leaseTime;
        this.metrics = new LimitMetrics(registry);
        this.reserves = reserves;
    }

    /** A random id for this process's leases (so two replicas never hold the same lease name). */
    private static String replicaId() {
        byte[] id = new byte[8];
        new SecureRandom().nextBytes(id);
        return HexFormat.of().formatHex(id);
    }

    /** The in-process limiter of a gateway without a shared store. */
    public static Limiter local(MeterRegistry registry) {
        return new Limiter(null, new MemoryStore(), 1, Duration.ofSeconds(60), registry);
    }

    /**
     * Counts {@code authorized}'s allowed requests against their limits.
     *
     * @return null when nothing in the request counts against a limit (no allocation), else the outcome, ready
     *         now (in process) or later (shared store)
     */
    public LimitOutcome apply(AuthorizedRequest authorized) {
        InspectedRequest inspected = authorized.inspected();
        Route route = inspected.route();
        Limits limits = route.policy().limits();
        if (limits.isEmpty()) {
            return null;
        }
        List<McpMessage> messages = inspected.messages();
        List<Decision> decisions = authorized.decisions();
        PartialBatch partial = authorized.partialBatch();
        int counted = 0;
        for (int i = 0; i < messages.size(); i++) {
            if (counts(messages.get(i), decisions.get(i), partial, i, limits)) {
                counted++;
            }
        }
        if (counted == 0) {
            return null;
        }
        LimitOutcome outcome = new LimitOutcome(shared == null ? 0 : counted);
        Principal principal = inspected.principal();
        for (int i = 0; i < messages.size(); i++) {
            McpMessage message = messages.get(i);
            Decision decision = decisions.get(i);
            if (!counts(message, decision, partial, i, limits)) {
                continue;
            }
            List<Limit> applying = limits.applying(decision.ruleId());
            if (shared == null) {
                checkLocal(outcome, i, message, applying, principal, route.name(), 1);
            } else {
                checkShared(outcome, i, message, applying, principal, route.name(), limits.fail());
            }
        }
        return outcome;
    }

    private static boolean counts(McpMessage message, Decision decision, PartialBatch partial, int index, Limits limits) {
        return message.kind() == McpMessage.Kind.REQUEST && decision.allowed()
                && (partial == null || !partial.refused().containsKey(index))
                && !limits.applying(decision.ruleId()).isEmpty();
    }

    /**
     * In process: rates, then concurrency caps, each divided by {@code share} when this is the fallback; all or
     * nothing (a limit that refuses gives back what the element's earlier limits took).
     */
    private void checkLocal(LimitOutcome outcome, int index, McpMessage message, List<Limit> applying, Principal principal,
                            String route, int share) {
        int n = applying.size();
        String[] keys = new String[n];
        long[] results = new long[n];
        for (int j = 0; j < n; j++) {
            Limit limit = applying.get(j);
            if (limit.kind() != Limit.Kind.RATE) {
                continue;
            }
            Limit scaled = limit.scaled(share);
            keys[j] = key(route, limit, principal, message);
            results[j] = local.takeNow(keys[j], scaled.intervalMicros(), scaled.periodMicros());
            if (!Gcra.allowed(results[j])) {
                giveBackLocal(outcome, applying, keys, results, j, share);
                rated(outcome, index, message, scaled, results[j], route);
                return;
            }
        }
        for (int j = 0; j < n; j++) {
            Limit limit = applying.get(j);
            if (limit.kind() != Limit.Kind.CONCURRENT) {
                continue;
            }
            keys[j] = key(route, limit, principal, message);
            if (!local.acquireNow(keys[j], limit.scaled(share).count())) {
                giveBackLocal(outcome, applying, keys, results, j, share);
                giveBackLocal(outcome, applying, keys, results, n, share);
                refuse(outcome, index, message, limit, route, 1_000_000);
                return;
            }
            results[j] = 1;
        }
        for (int j = 0; j < n; j++) {
            Limit limit = applying.get(j);
            if (limit.kind() == Limit.Kind.RATE) {
                Limit scaled = limit.scaled(share);
                outcome.rate(scaled, Gcra.remaining(results[j], scaled.intervalMicros(), scaled.periodMicros()), results[j]);
            } else {
                outcome.hold(new LimitOutcome.Permit(local::release, keys[j], ""));
            }
        }
    }

    /**
     * A refused element gives back what its limits before {@code before} took: the permits of the caps when
     * {@code before} is a cap (its own permit excluded), else the rates (each reported without this call).
     */
    private void giveBackLocal(LimitOutcome outcome, List<Limit> applying, String[] keys, long[] results, int before, int share) {
        boolean caps = before < applying.size() && applying.get(before).kind() == Limit.Kind.CONCURRENT;
        for (int k = 0; k < before; k++) {
            Limit limit = applying.get(k);
            if (caps && limit.kind() == Limit.Kind.CONCURRENT && results[k] == 1) {
                local.releaseNow(keys[k]);
                results[k] = 0;
            } else if (!caps && limit.kind() == Limit.Kind.RATE && keys[k] != null) {
                Limit scaled = limit.scaled(share);
                local.refundNow(keys[k], scaled.intervalMicros());
                long without = Math.max(0, results[k] - scaled.intervalMicros());
                outcome.rate(scaled, Gcra.remaining(without, scaled.intervalMicros(), scaled.periodMicros()), without);
            }
        }
    }

    private boolean rated(LimitOutcome outcome, int index, McpMessage message, Limit limit, long result, String route) {
        if (Gcra.allowed(result)) {
            outcome.rate(limit, Gcra.remaining(result, limit.intervalMicros(), limit.periodMicros()), result);
            return true;
        }
        outcome.rate(limit, 0, Gcra.retryAfterMicros(result));
        refuse(outcome, index, message, limit, route, Gcra.retryAfterMicros(result));
        return false;
    }

    private void refuse(LimitOutcome outcome, int index, McpMessage message, Limit limit, String route, long retryMicros) {
        long seconds = Gcra.seconds(retryMicros);
        metrics.limited(route, limit);
        String what = limit.kind() == Limit.Kind.RATE ? "rate limit" : "concurrency limit";
        outcome.refuse(index, GatewayFailure.of(Reason.RATE_LIMITED, "Rate limit exceeded",
                        what + " " + limit.id() + " (" + limit.text() + ") reached; retry after " + seconds + "s")
                .withJsonRpcId(message.id())
                .withData(Map.of("retryAfter", seconds, "limit", limit.id()))
                .withDecision(Decision.denyVisible(limit.id(), what + " " + limit.text() + " reached; retry after "
                        + seconds + "s")));
    }

    private void unavailable(LimitOutcome outcome, int index, McpMessage message, Limit limit, String route) {
        metrics.limited(route, limit);
        outcome.refuse(index, GatewayFailure.of(Reason.LIMITS_UNAVAILABLE, "Rate limits unavailable",
                        "shared limit store down and limits.fail is closed (" + limit.id() + ")")
                .withJsonRpcId(message.id())
                .withData(Map.of("retryAfter", 1L, "limit", limit.id()))
                .withDecision(Decision.denyVisible(limit.id(), "shared limit store down; limits.fail: closed")));
    }

    /**
     * The counter's key: the route, the limit, and the values of its keys, each length-prefixed (so no
     * two different value lists give the same key, whatever characters a claim holds).
     */
    static String key(String route, Limit limit, Principal principal, McpMessage message) {
        StringBuilder key = new StringBuilder(96);
        part(key, route);
        part(key, limit.id());
        for (Limit.Key k : limit.keys()) {
            part(key, switch (k) {
                case SUBJECT -> principal.subject();
                case AGENT -> principal.agent();
                case ISSUER -> principal.issuer();
                case TOOL -> message.target().orElse(message.method());
                case ROUTE -> "";
            });
        }
        return key.toString();
    }

    private static void part(StringBuilder key, String value) {
        String v = value == null ? "" : value;
        key.append(v.length()).append(':').append(v);
    }

    /**
     * One element against the shared store: all its limits in one {@link ClusterStore#check} (one round trip), its
     * outcome recorded on the store's thread that answers (the {@link LimitOutcome} is synchronized; the request
     * continues on its own event loop once every element has answered). With reserves ({@code store.reserve}), the
     * limits this replica holds a reserve of are counted here, at once, and only the others go to the store (each
     * asking for a reserve of its own); when the store has nothing to ask, the element is decided without it.
     */
    private void checkShared(LimitOutcome outcome, int index, McpMessage message, List<Limit> applying, Principal principal,
                             String route, Limits.FailMode fail) {
        SharedCheck check = new SharedCheck(outcome, index, message, applying, principal, route, fail);
        if (reserves != null) {
            check.spendReserves();
        }
        check.ask(false);
    }

    /** One element's limits against the shared store, and the reserves it spent. */
    private final class SharedCheck {
        private final LimitOutcome outcome;
        private final int index;
        private final McpMessage message;
        private final List<Limit> applying;
        private final Principal principal;
        private final String route;
        private final Limits.FailMode fail;
        private final String[] keys;
        /** Per limit of {@code applying}: the rate reserve or the spare permit it was counted from here, else null. */
        private final Reserves.RateReserve[] fromReserve;
        private final String[] fromPool;
        // What the store is asked: the limits not counted here, rates then caps, with how many each asks for.
        private Limit[] order;
        private int[] at;
        private int[] sizes;
        /** Per limit asked: whether this check is the one refilling its reserve ({@link Reserves#startRefill}). */
        private boolean[] refill;
        private List<ClusterStore.Take> rates;
        private List<ClusterStore.Acquire> permits;

        SharedCheck(LimitOutcome outcome, int index, McpMessage message, List<Limit> applying, Principal principal,
                    String route, Limits.FailMode fail) {
            this.outcome = outcome;
            this.index = index;
            this.message = message;
            this.applying = applying;
            this.principal = principal;
            this.route = route;
            this.fail = fail;
            int n = applying.size();
            this.keys = new String[n];
            for (int j = 0; j < n; j++) {
                keys[j] = key(route, applying.get(j), principal, message);
            }
            this.fromReserve = new Reserves.RateReserve[n];
            this.fromPool = new String[n];
        }

        /** Counts the limits this replica holds a reserve of. */
        void spendReserves() {
            for (int j = 0; j < applying.size(); j++) {
                Limit limit = applying.get(j);
                if (limit.kind() == Limit.Kind.RATE) {
                    fromReserve[j] = reserves.takeRate(keys[j]);
                } else if (reserves.pooled(limit)) {
                    fromPool[j] = reserves.takePermit(keys[j]);
                }
            }
        }

        /** Asks the store for the limits not counted from a reserve ({@code exact}: one each, no reserve asked for). */
        void ask(boolean exact) {
            int n = applying.size();
            order = new Limit[n];
            at = new int[n];
            sizes = new int[n];
            refill = new boolean[n];
            rates = new ArrayList<>(n);
            permits = new ArrayList<>(1);
            int o = 0;
            for (int j = 0; j < n; j++) {
                Limit limit = applying.get(j);
                if (limit.kind() == Limit.Kind.RATE && fromReserve[j] == null) {
                    refill[o] = !exact && reserves != null && reserves.startRefill(keys[j], limit);
                    int size = refill[o] ? reserves.rateSize(keys[j], limit) : 1;
                    order[o] = limit;
                    at[o] = j;
                    sizes[o++] = size;
                    rates.add(new ClusterStore.Take(keys[j], limit.intervalMicros() * size, limit.periodMicros()));
                }
            }
            for (int j = 0; j < n; j++) {
                Limit limit = applying.get(j);
                if (limit.kind() == Limit.Kind.CONCURRENT && fromPool[j] == null) {
                    refill[o] = !exact && reserves != null && reserves.startRefill(keys[j], limit);
                    int size = refill[o] ? reserves.permitSize(keys[j], limit) : 1;
                    order[o] = limit;
                    at[o] = j;
                    sizes[o++] = size;
                    permits.add(new ClusterStore.Acquire(keys[j], limit.count(), replicaId + ":" + leases.incrementAndGet(),
                            leaseTime, size));
                }
            }
            if (o == 0) {
                try {
                    passed(null);
                } finally {
                    outcome.messageDone();
                }
                return;
            }
            CompletableFuture<long[]> checked;
            try {
                checked = shared.check(rates, permits);
            } catch (RuntimeException e) {
                checked = CompletableFuture.failedFuture(e);
            }
            boolean reserving = !exact && anyReserveAskedFor(o);
            checked.whenComplete((result, error) -> {
                boolean again = false;
                try {
                    if (error != null) {
                        giveBackReserves();
                        metrics.fallback(route, fail);
                        if (fail == Limits.FailMode.CLOSED) {
                            unavailable(outcome, index, message, applying.get(0), route);
                        } else {
                            checkLocal(outcome, index, message, applying, principal, route, replicas);
                        }
                    } else if (result[0] == 0) {
                        passed(result);
                    } else if (reserving) {
                        again = true; // a reserve did not fit (near the limit): the call alone, exactly
                    } else {
                        giveBackReserves();
                        refused(result);
                    }
                } catch (RuntimeException e) {
                    // A defect must not leave the request waiting: refuse the element (fail closed).
                    unavailable(outcome, index, message, applying.get(0), route);
                } finally {
                    endRefills();
                    if (again) {
                        ask(true);
                    } else {
                        outcome.messageDone();
                    }
                }
            });
        }

        private void endRefills() {
            for (int o = 0; o < refill.length; o++) {
                if (refill[o]) {
                    reserves.endRefill(keys[at[o]]);
                }
            }
        }

        private boolean anyReserveAskedFor(int asked) {
            for (int o = 0; o < asked; o++) {
                if (sizes[o] > 1) {
                    return true;
                }
            }
            return false;
        }

        /** Every limit passed: the store's answer ({@code result}; null when it was not asked) and the reserves spent. */
        private void passed(long[] result) {
            int r = rates.size();
            for (int o = 0; result != null && o < r + permits.size(); o++) {
                Limit limit = order[o];
                long value = result[1 + o];
                if (o < r) {
                    long left = 0;
                    if (refill[o]) {
                        // Even a reserve of one (this call alone) is remembered: how fast it went sizes the next.
                        left = reserves.installRate(keys[at[o]], limit, sizes[o], value).left.get();
                    }
                    outcome.rate(limit, Gcra.remaining(value, limit.intervalMicros(), limit.periodMicros()) + Math.max(0, left),
                            value);
                } else {
                    ClusterStore.Acquire acquire = permits.get(o - r);
                    if (reserves != null && reserves.pooled(limit)) {
                        reserves.installPermits(acquire, limit, refill[o]);
                        outcome.hold(new LimitOutcome.Permit(reserves::releasePermit, acquire.key(), acquire.member(1)));
                    } else {
                        outcome.hold(new LimitOutcome.Permit(shared::release, acquire.key(), acquire.lease()));
                    }
                }
            }
            for (int j = 0; j < applying.size(); j++) {
                Reserves.RateReserve reserve = fromReserve[j];
                if (reserve != null) {
                    Limit limit = applying.get(j);
                    outcome.rate(limit, Gcra.remaining(reserve.bucket, limit.intervalMicros(), limit.periodMicros())
                            + Math.max(0, reserve.left.get()), Math.max(0, reserve.bucket - reserves.ageMicros(reserve)));
                }
                if (fromPool[j] != null) {
                    outcome.hold(new LimitOutcome.Permit(reserves::releasePermit, keys[j], fromPool[j]));
                }
            }
        }

        /** The store refused: what it answered, as without reserves (the reserves spent are given back already). */
        private void refused(long[] result) {
            int refusedAt = (int) result[0];
            int r = rates.size();
            for (int o = 0; o < refusedAt; o++) {
                Limit limit = order[o];
                long value = result[1 + o];
                if (o < r) {
                    if (Gcra.allowed(value)) {
                        outcome.rate(limit, Gcra.remaining(value, limit.intervalMicros(), limit.periodMicros()), value);
                    } else {
                        rated(outcome, index, message, limit, value, route);
                    }
                } else if (o == refusedAt - 1) {
                    refuse(outcome, index, message, limit, route, 1_000_000);
                }
            }
        }

        /** The element is refused or falls back: the reserves it spent get their call or permit back. */
        private void giveBackReserves() {
            for (int j = 0; j < applying.size(); j++) {
                if (fromReserve[j] != null) {
                    fromReserve[j].putBack(shared, keys[j]);
                    fromReserve[j] = null;
                }
                if (fromPool[j] != null) {
                    reserves.releasePermit(keys[j], fromPool[j]);
                    fromPool[j] = null;
                }
            }
        }
    }

    /** Tests: this replica's reserves, or null. */
    Reserves reservesForTest() {
        return reserves;
    }

    /** The shared store, or null (tests, readiness). */
    public ClusterStore shared() {
        return shared;
    }

    public MemoryStore local() {
        return local;
    }

    /** Whether the limits are kept where every replica sees them, and that store answers. */
    public boolean sharedUp() {
        return shared == null || shared.up();
    }

    public void close() {
        if (reserves != null) {
            reserves.close();
        }
        if (shared != null) {
            shared.close();
        }
        local.close();
    }
}
