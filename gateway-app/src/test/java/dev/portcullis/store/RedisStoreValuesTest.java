package dev.portcullis.store;

import static org.assertj.core.api.Assertions.assertThat;

import dev.portcullis.testing.RedisServer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Issue 17: the value operations approvals use, on a real {@code redis-server} shared by two stores (two
 * replicas): a value written by one is read by the other, compare-and-set, and an atomic take that exactly
 * one of many concurrent takers wins.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class RedisStoreValuesTest {
    private static RedisServer redis;

    @BeforeAll
    static void startRedis() {
        redis = RedisServer.start();
    }

    @AfterAll
    static void stopRedis() {
        redis.close();
    }

    @Test
    void aValueOneReplicaWritesTheOtherReads() throws Exception {
        try (RedisStore one = RedisStoreTest.connected(RedisStoreTest.config(redis, "v1:", null));
             RedisStore two = RedisStoreTest.connected(RedisStoreTest.config(redis, "v1:", null))) {
            assertThat(two.get("approval-1").get(5, TimeUnit.SECONDS)).isEmpty();
            one.putIfAbsent("approval-1", "{\"status\":\"pending\"}", Duration.ofMinutes(1)).get(5, TimeUnit.SECONDS);
            assertThat(two.get("approval-1").get(5, TimeUnit.SECONDS)).contains("{\"status\":\"pending\"}");
            List<String> keys = redis.with(r -> r.keys("v1:kv:*"));
            assertThat(keys).hasSize(1).allSatisfy(k -> assertThat(k).doesNotContain("approval-1"));
        }
    }

    @Test
    void aValueWithNonAsciiTextComesBackAsWritten() throws Exception {
        String value = "{\"approver\":\"Zoë Ångström\",\"tool\":\"日本語\",\"note\":\"🔐\"}";
        try (RedisStore one = RedisStoreTest.connected(RedisStoreTest.config(redis, "v5:", null));
             RedisStore two = RedisStoreTest.connected(RedisStoreTest.config(redis, "v5:", null))) {
            one.putIfAbsent("approval-ü", value, Duration.ofMinutes(1)).get(5, TimeUnit.SECONDS);
            assertThat(two.get("approval-ü").get(5, TimeUnit.SECONDS)).contains(value);
            assertThat(two.replace("approval-ü", value, value + " ", Duration.ofMinutes(1)).get(5, TimeUnit.SECONDS)).isTrue();
            assertThat(one.take("approval-ü").get(5, TimeUnit.SECONDS)).contains(value + " ");
        }
    }

    @Test
    void replaceIsACompareAndSetAcrossReplicas() throws Exception {
        try (RedisStore one = RedisStoreTest.connected(RedisStoreTest.config(redis, "v2:", null));
             RedisStore two = RedisStoreTest.connected(RedisStoreTest.config(redis, "v2:", null))) {
            one.putIfAbsent("r", "pending", Duration.ofMinutes(1)).get(5, TimeUnit.SECONDS);
            assertThat(two.replace("r", "pending", "approved-by-b", Duration.ofMinutes(1)).get(5, TimeUnit.SECONDS)).isTrue();
            assertThat(one.replace("r", "pending", "approved-by-a", Duration.ofMinutes(1)).get(5, TimeUnit.SECONDS))
                    .as("the state it read is gone").isFalse();
            assertThat(one.get("r").get(5, TimeUnit.SECONDS)).contains("approved-by-b");
            assertThat(one.replace("none", "x", "y", Duration.ofMinutes(1)).get(5, TimeUnit.SECONDS)).isFalse();
            assertThat(one.get("none").get(5, TimeUnit.SECONDS)).as("a refused replace creates nothing").isEmpty();
            one.replace("r", "approved-by-b", "short", Duration.ofMillis(200)).get(5, TimeUnit.SECONDS);
            long ttl = redis.with(r -> r.pttl(r.keys("v2:kv:*").get(0)));
            assertThat(ttl).as("the new expiry").isBetween(1L, 200L);
        }
    }

    @Test
    void exactlyOneOfManyConcurrentTakersGetsASingleUseValue() throws Exception {
        try (RedisStore one = RedisStoreTest.connected(RedisStoreTest.config(redis, "v3:", null));
             RedisStore two = RedisStoreTest.connected(RedisStoreTest.config(redis, "v3:", null))) {
            for (int round = 0; round < 20; round++) {
                String key = "grant-" + round;
                one.putIfAbsent(key, "approval-" + round, Duration.ofMinutes(1)).get(5, TimeUnit.SECONDS);
                List<CompletableFuture<Optional<String>>> takes = new ArrayList<>();
                for (int i = 0; i < 10; i++) {
                    takes.add((i % 2 == 0 ? one : two).take(key));
                }
                long winners = 0;
                for (CompletableFuture<Optional<String>> take : takes) {
                    Optional<String> got = take.get(5, TimeUnit.SECONDS);
                    if (got.isPresent()) {
                        assertThat(got.get()).isEqualTo("approval-" + round);
                        winners++;
                    }
                }
                assertThat(winners).as("round %d", round).isEqualTo(1);
                assertThat(two.get(key).get(5, TimeUnit.SECONDS)).isEmpty();
            }
        }
    }

    @Test
    void theValueScriptsAreLoadedAgainAfterRedisForgetsThem() throws Exception {
        try (RedisStore one = RedisStoreTest.connected(RedisStoreTest.config(redis, "v4:", null))) {
            one.putIfAbsent("k", "a", Duration.ofMinutes(1)).get(5, TimeUnit.SECONDS);
            assertThat(one.replace("k", "a", "b", Duration.ofMinutes(1)).get(5, TimeUnit.SECONDS)).isTrue();
            redis.with(r -> r.scriptFlush());
            assertThat(one.replace("k", "b", "c", Duration.ofMinutes(1)).get(5, TimeUnit.SECONDS)).isTrue();
            assertThat(one.take("k").get(5, TimeUnit.SECONDS)).contains("c");
        }
    }
}
