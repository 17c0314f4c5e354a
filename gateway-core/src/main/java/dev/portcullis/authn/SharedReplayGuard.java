package dev.portcullis.authn;

import dev.portcullis.Step;
import dev.portcullis.store.ClusterStore;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The DPoP replay record across replicas (issue 16 on issue 18's shared store): a proof's {@code jti} is recorded
 * in this replica's memory first (a replay to the same replica is refused without a network trip), then in the
 * shared store with set-if-absent and the proof's window as time to live, so a proof replayed to another replica
 * is refused too.
 *
 * <p>When the store does not answer (down, circuit open, timed out), the local record alone decides — the same
 * choice as {@code fail: local} for limits: the request is neither failed nor waits, and a replay to another
 * replica within the window is not caught while the store is down (counted by the store's own metrics and logged
 * once per outage). Keys are the caller's fixed-size digests, namespaced here and by the store's prefix.
 */
public final class SharedReplayGuard implements ReplayGuard {
    private static final Logger log = LoggerFactory.getLogger(SharedReplayGuard.class);
    private static final String NAMESPACE = "dpop-jti:";

    private final ReplayGuard local;
    private final ClusterStore store;
    private volatile boolean storeDown;

    public SharedReplayGuard(ReplayGuard local, ClusterStore store) {
        this.local = local;
        this.store = store;
    }

    @Override
    public Step<Boolean> firstUse(String key, Duration ttl) {
        Step<Boolean> here = local.firstUse(key, ttl);
        if (!here.ready()) {
            return Step.later(here.future().thenCompose(first -> first ? shared(key, ttl) : CompletableFuture.completedFuture(false)));
        }
        if (!here.value()) {
            return here; // seen by this replica: a replay, whatever the store says
        }
        return Step.later(shared(key, ttl));
    }

    private CompletableFuture<Boolean> shared(String key, Duration ttl) {
        return store.putIfAbsent(NAMESPACE + key, "1", ttl).handle((first, error) -> {
            if (error != null) {
                if (!storeDown) {
                    storeDown = true;
                    log.warn("DPoP replay record: the shared store does not answer ({}); this replica's record decides until it does",
                            error.getClass().getSimpleName());
                }
                return true; // the local record said first use
            }
            if (storeDown) {
                storeDown = false;
                log.info("DPoP replay record: the shared store answers again");
            }
            return first;
        });
    }
}
