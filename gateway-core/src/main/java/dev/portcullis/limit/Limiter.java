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

    /**
     * @param shared   the shared store, or null for in-process limits only
     * @param local    in-process counters (the limits themselves without a shared store; the fallback with one)
     * @param replicas how many replicas share the limits (the fallback's divisor)
     */
    public Limiter(ClusterStore shared, MemoryStore local, int replicas, Duration leaseTime, MeterRegistry registry) {
        this.shared = shared;
        this.local = local;
        this.replicas = replicas;
        this.leaseTime = leaseTime;
        this.metrics = new LimitMetrics(registry);
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
                outcome.hold(new LimitOutcome.Permit(local, keys[j], ""));
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
     * continues on its own event loop once every element has answered).
     */
    private void checkShared(LimitOutcome outcome, int index, McpMessage message, List<Limit> applying, Principal principal,
                             String route, Limits.FailMode fail) {
        int n = applying.size();
        Limit[] order = new Limit[n]; // the rates, then the caps, as the store checks them
        String[] keys = new String[n];
        List<ClusterStore.Take> rates = new ArrayList<>(n);
        List<ClusterStore.Acquire> permits = new ArrayList<>(1);
        for (Limit limit : applying) {
            if (limit.kind() == Limit.Kind.RATE) {
                String key = key(route, limit, principal, message);
                keys[rates.size()] = key;
                order[rates.size()] = limit;
                rates.add(new ClusterStore.Take(key, limit.intervalMicros(), limit.periodMicros()));
            }
        }
        int r = rates.size();
        for (Limit limit : applying) {
            if (limit.kind() == Limit.Kind.CONCURRENT) {
                String key = key(route, limit, principal, message);
                keys[r + permits.size()] = key;
                order[r + permits.size()] = limit;
                permits.add(new ClusterStore.Acquire(key, limit.count(), replicaId + ":" + leases.incrementAndGet(), leaseTime));
            }
        }
        CompletableFuture<long[]> checked;
        try {
            checked = shared.check(rates, permits);
        } catch (RuntimeException e) {
            checked = CompletableFuture.failedFuture(e);
        }
        checked.whenComplete((result, error) -> {
            try {
                if (error == null) {
                    counted(outcome, index, message, route, order, keys, permits, result);
                } else {
                    metrics.fallback(route, fail);
                    if (fail == Limits.FailMode.CLOSED) {
                        unavailable(outcome, index, message, applying.get(0), route);
                    } else {
                        checkLocal(outcome, index, message, applying, principal, route, replicas);
                    }
                }
            } catch (RuntimeException e) {
                // A defect must not leave the request waiting: refuse the element (fail closed).
                unavailable(outcome, index, message, applying.get(0), route);
            } finally {
                outcome.messageDone();
            }
        });
    }

    /** Records what the store answered for one element ({@link ClusterStore#check}'s result). */
    private void counted(LimitOutcome outcome, int index, McpMessage message, String route, Limit[] order, String[] keys,
                         List<ClusterStore.Acquire> permits, long[] result) {
        int refusedAt = (int) result[0];
        int r = order.length - permits.size();
        int checkedUpTo = refusedAt == 0 ? order.length : refusedAt;
        for (int j = 0; j < checkedUpTo; j++) {
            Limit limit = order[j];
            long value = result[1 + j];
            if (j < r) {
                if (Gcra.allowed(value)) {
                    outcome.rate(limit, Gcra.remaining(value, limit.intervalMicros(), limit.periodMicros()), value);
                } else {
                    rated(outcome, index, message, limit, value, route);
                }
            } else if (value == 1) {
                outcome.hold(new LimitOutcome.Permit(shared, keys[j], permits.get(j - r).lease()));
            } else {
                refuse(outcome, index, message, limit, route, 1_000_000);
            }
        }
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
        if (shared != null) {
            shared.close();
        }
        local.close();
    }
}
