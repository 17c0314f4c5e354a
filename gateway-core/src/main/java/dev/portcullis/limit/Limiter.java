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
 * and the route's default ({@link Limits#applying}): its rates first, then its concurrency caps. An element
 * a rate refuses takes no permit; one a concurrency cap refuses gives back the permits it took. A rate an
 * element passed stays counted even if a later limit refuses the element.
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
                new SharedCheck(outcome, i, message, applying, principal, route.name(), limits.fail()).next(0);
            }
        }
        return outcome;
    }

    private static boolean counts(McpMessage message, Decision decision, PartialBatch partial, int index, Limits limits) {
        return message.kind() == McpMessage.Kind.REQUEST && decision.allowed()
                && (partial == null || !partial.refused().containsKey(index))
                && !limits.applying(decision.ruleId()).isEmpty();
    }

    /** In process: rates, then concurrency caps; divided by {@code share} when this is the fallback. */
    private void checkLocal(LimitOutcome outcome, int index, McpMessage message, List<Limit> applying, Principal principal,
                            String route, int share) {
        for (Limit limit : applying) {
            if (limit.kind() == Limit.Kind.RATE && !localRate(outcome, index, message, limit.scaled(share),
                    key(route, limit, principal, message), route)) {
                return;
            }
        }
        List<LimitOutcome.Permit> taken = null;
        for (Limit limit : applying) {
            if (limit.kind() != Limit.Kind.CONCURRENT) {
                continue;
            }
            String key = key(route, limit, principal, message);
            long cap = limit.scaled(share).count();
            if (!local.acquireNow(key, cap)) {
                if (taken != null) {
                    outcome.releaseFrom(taken);
                }
                refuse(outcome, index, message, limit, route, 1_000_000);
                return;
            }
            LimitOutcome.Permit permit = new LimitOutcome.Permit(local, key, "");
            outcome.hold(permit);
            if (taken == null) {
                taken = new ArrayList<>(2);
            }
            taken.add(permit);
        }
    }

    private boolean localRate(LimitOutcome outcome, int index, McpMessage message, Limit limit, String key, String route) {
        long result = local.takeNow(key, limit.intervalMicros(), limit.periodMicros());
        return rated(outcome, index, message, limit, result, route);
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

    /** One element against the shared store: each limit in turn, from the store's threads. */
    private final class SharedCheck {
        private final LimitOutcome outcome;
        private final int index;
        private final McpMessage message;
        private final List<Limit> applying;
        private final Principal principal;
        private final String route;
        private final Limits.FailMode fail;
        private final List<LimitOutcome.Permit> taken = new ArrayList<>(2);
        private boolean concurrencyPhase;

        SharedCheck(LimitOutcome outcome, int index, McpMessage message, List<Limit> applying, Principal principal,
                    String route, Limits.FailMode fail) {
            this.outcome = outcome;
            this.index = index;
            this.message = message;
            this.applying = applying;
            this.principal = principal;
            this.route = route;
            this.fail = fail;
        }

        /** Checks the limits from {@code from} on (rates first, then concurrency caps). */
        void next(int from) {
            try {
                for (int j = from; j < applying.size(); j++) {
                    Limit limit = applying.get(j);
                    boolean rate = limit.kind() == Limit.Kind.RATE;
                    if (rate == concurrencyPhase) {
                        continue;
                    }
                    int after = j + 1;
                    String key = key(route, limit, principal, message);
                    if (rate) {
                        shared.take(key, limit.intervalMicros(), limit.periodMicros())
                                .whenComplete((result, error) -> {
                                    if (error == null ? rated(outcome, index, message, limit, result, route)
                                            : fallbackRate(limit, key)) {
                                        next(after);
                                    } else {
                                        outcome.messageDone();
                                    }
                                });
                    } else {
                        String lease = replicaId + ":" + leases.incrementAndGet();
                        shared.acquire(key, limit.count(), lease, leaseTime).whenComplete((acquired, error) -> {
                            if (error == null ? acquiredShared(acquired, limit, key, lease) : fallbackPermit(limit, key)) {
                                next(after);
                            } else {
                                outcome.releaseFrom(taken);
                                outcome.messageDone();
                            }
                        });
                    }
                    return;
                }
                if (!concurrencyPhase) {
                    concurrencyPhase = true;
                    next(0);
                    return;
                }
                outcome.messageDone();
            } catch (RuntimeException e) {
                // A defect must not leave the request waiting: refuse the element (fail closed), release its permits.
                outcome.releaseFrom(taken);
                unavailable(outcome, index, message, applying.get(0), route);
                outcome.messageDone();
            }
        }

        private boolean acquiredShared(boolean acquired, Limit limit, String key, String lease) {
            if (!acquired) {
                refuse(outcome, index, message, limit, route, 1_000_000);
                return false;
            }
            LimitOutcome.Permit permit = new LimitOutcome.Permit(shared, key, lease);
            outcome.hold(permit);
            taken.add(permit);
            return true;
        }

        private boolean fallbackRate(Limit limit, String key) {
            metrics.fallback(route, fail);
            if (fail == Limits.FailMode.CLOSED) {
                unavailable(outcome, index, message, limit, route);
                return false;
            }
            Limit share = limit.scaled(replicas);
            return localRate(outcome, index, message, share, key, route);
        }

        private boolean fallbackPermit(Limit limit, String key) {
            metrics.fallback(route, fail);
            if (fail == Limits.FailMode.CLOSED) {
                unavailable(outcome, index, message, limit, route);
                return false;
            }
            if (!local.acquireNow(key, limit.scaled(replicas).count())) {
                refuse(outcome, index, message, limit, route, 1_000_000);
                return false;
            }
            LimitOutcome.Permit permit = new LimitOutcome.Permit(local, key, "");
            outcome.hold(permit);
            taken.add(permit);
            return true;
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
