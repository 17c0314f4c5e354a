package dev.portcullis.authn;

import static org.assertj.core.api.Assertions.assertThat;

import com.github.benmanes.caffeine.cache.Ticker;
import dev.portcullis.Step;
import dev.portcullis.store.ClusterStore;
import dev.portcullis.store.MemoryStore;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The DPoP replay record across replicas (issue 16 on issue 18's store): a proof accepted by one replica is a
 * replay at another; with the store down, each replica's own record still refuses replays to it.
 */
class SharedReplayGuardTest {
    private static final Duration WINDOW = Duration.ofSeconds(60);

    private static boolean first(ReplayGuard guard, String key) throws Exception {
        Step<Boolean> step = guard.firstUse(key, WINDOW);
        return step.ready() ? step.value() : step.future().get(5, TimeUnit.SECONDS);
    }

    private static ReplayGuard replica(ClusterStore store) {
        return new SharedReplayGuard(new InMemoryReplayGuard(1000, Ticker.systemTicker()), store);
    }

    @Test
    void aProofAcceptedByOneReplicaIsAReplayAtAnother() throws Exception {
        ClusterStore store = new MemoryStore();
        ReplayGuard one = replica(store);
        ReplayGuard two = replica(store);
        assertThat(first(one, "jti-digest-1")).isTrue();
        assertThat(first(two, "jti-digest-1")).as("replayed to the other replica").isFalse();
        assertThat(first(one, "jti-digest-1")).as("replayed to the same replica").isFalse();
        assertThat(first(two, "jti-digest-2")).isTrue();
    }

    @Test
    void withTheStoreDownEachReplicasOwnRecordDecides() throws Exception {
        ClusterStore down = (ClusterStore) java.lang.reflect.Proxy.newProxyInstance(getClass().getClassLoader(),
                new Class<?>[] {ClusterStore.class}, (proxy, method, args) -> switch (method.getName()) {
                    case "putIfAbsent" -> CompletableFuture.failedFuture(new java.io.IOException("connection refused"));
                    case "up" -> false;
                    case "describe" -> "redis (down)";
                    default -> null;
                });
        ReplayGuard one = replica(down);
        assertThat(first(one, "jti-digest-3")).as("not failed, not waiting: the local record says first use").isTrue();
        assertThat(first(one, "jti-digest-3")).as("a replay to the same replica is still refused").isFalse();
    }
}
