package dev.portcullis.app.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.portcullis.config.GatewayConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Issue 18: the {@code store} section: defaults, values, and errors naming file, line and field; no secret echoed. */
class StoreConfigTest {
    private static final String VALID = """
            issuers:
              - issuer: https://idp.example.com
            routes:
              - name: todo
                path: /mcp
                upstream: http://127.0.0.1:3000/mcp
                resource: https://gw.example.com/mcp
            """;

    private static String error(String yaml) {
        return assertThatThrownBy(() -> ConfigLoader.parse(yaml, "gateway.yaml", null, Map.of("REDIS_PASSWORD", "s3cr3t-pw")::get))
                .isInstanceOf(ConfigLoader.InvalidConfigException.class)
                .actual().getMessage();
    }

    @Test
    void theStoreIsInMemoryByDefault() {
        GatewayConfig config = ConfigLoader.parse(VALID, "gateway.yaml");
        assertThat(config.store().redis()).isFalse();
        assertThat(config.store().replicas()).isEqualTo(1);
    }

    @Test
    void aRedisStoreTakesItsPasswordFromTheEnvironmentAndNeverShowsIt() {
        GatewayConfig config = ConfigLoader.parse(VALID + """
                store:
                  type: redis
                  addresses: ["rediss://redis.internal:6380"]
                  password: ${REDIS_PASSWORD}
                  replicas: 3
                  timeout: 20ms
                """, "gateway.yaml", null, Map.of("REDIS_PASSWORD", "s3cr3t-pw")::get);
        assertThat(config.store().redis()).isTrue();
        assertThat(config.store().secret()).isEqualTo("s3cr3t-pw");
        assertThat(config.store().replicas()).isEqualTo(3);
        assertThat(config.store().timeout()).hasMillis(20);
        assertThat(config.store().toString()).doesNotContain("s3cr3t-pw");
        assertThat(config.toString()).doesNotContain("s3cr3t-pw");
    }

    @Test
    void aPasswordFileIsReadWithoutItsNewline(@TempDir Path dir) throws Exception {
        Path file = Files.writeString(dir.resolve("redis-password"), "from-a-file\n");
        GatewayConfig config = ConfigLoader.parse(VALID + "store: { type: redis, addresses: [\"redis://r:6379\"], password-file: "
                + file + " }\n", "gateway.yaml");
        assertThat(config.store().secret()).isEqualTo("from-a-file");
    }

    @Test
    void storeMistakesNameFileLineAndField() {
        assertThat(error(VALID + "store:\n  type: memcached\n"))
                .startsWith("gateway.yaml:9: store.type: \"memcached\" (expected: memory (one replica) or redis");
        assertThat(error(VALID + "store:\n  type: redis\n"))
                .startsWith("gateway.yaml:8: store.addresses: is required for type redis");
        assertThat(error(VALID + "store:\n  type: redis\n  addresses: [\"http://redis:6379\"]\n"))
                .startsWith("gateway.yaml:10: store.addresses: \"http://redis:6379\" (expected: redis://host:port or rediss://");
        assertThat(error(VALID + "store:\n  type: redis\n  addresses: [\"redis://r:6379\"]\n  timeout: 10s\n"))
                .startsWith("gateway.yaml:11: store.timeout: \"10s\" (expected: 1ms..5s");
        assertThat(error(VALID + "store:\n  type: redis\n  addresses: [\"redis://r:6379\"]\n  replicas: 0\n"))
                .startsWith("gateway.yaml:11: store.replicas: 0 (expected: 1..10000)");
        assertThat(error(VALID + "store:\n  type: redis\n  addresses: [\"redis://a:1\", \"redis://b:1\"]\n"))
                .contains("store.addresses").contains("one address in standalone mode");
        assertThat(error(VALID + "store:\n  type: redis\n  addresses: [\"redis://r:6379\"]\n  password-file: /no/such/file\n"))
                .contains("store.password-file: \"/no/such/file\" (expected: a readable file holding the password)");
        assertThat(error(VALID + "store:\n  tyoe: redis\n"))
                .startsWith("gateway.yaml:9: store.tyoe: unknown key");
    }

    /** Issue 18, {@code store.reserve}: a share of each limit, 0% to 10%, only for a shared store. */
    @Test
    void aReserveIsAShareOfEachLimitForASharedStore() {
        GatewayConfig config = ConfigLoader.parse(VALID + "store:\n  type: redis\n  addresses: [\"redis://r:6379\"]\n"
                + "  reserve: 0.5%\n  reserve-hold: 250ms\n", "gateway.yaml");
        assertThat(config.store().reserveShare()).isEqualTo(0.005);
        assertThat(config.store().reserveHold()).hasMillis(250);
        assertThat(ConfigLoader.parse(VALID, "gateway.yaml").store().reserveShare()).as("off by default").isZero();
        assertThat(error(VALID + "store:\n  type: redis\n  addresses: [\"redis://r:6379\"]\n  reserve: 20%\n"))
                .startsWith("gateway.yaml:11: store.reserve: \"20%\" (expected: a share of each limit from 0% (off) to 10%");
        assertThat(error(VALID + "store:\n  type: redis\n  addresses: [\"redis://r:6379\"]\n  reserve: 5\n"))
                .startsWith("gateway.yaml:11: store.reserve: \"5\" (expected: a share of each limit");
        assertThat(error(VALID + "store:\n  reserve: 1%\n"))
                .startsWith("gateway.yaml:9: store.reserve: \"1%\" (expected: 0% for type memory");
        assertThat(error(VALID + "store:\n  type: redis\n  addresses: [\"redis://r:6379\"]\n  reserve-hold: 5m\n"))
                .startsWith("gateway.yaml:11: store.reserve-hold: \"5m\" (expected: 10ms..1m)");
    }

    @Test
    void credentialsInTheAddressAreRefusedWithoutEchoingThem() {
        String message = error(VALID + "store:\n  type: redis\n  addresses: [\"redis://:${REDIS_PASSWORD}@redis:6379\"]\n");
        assertThat(message).contains("store.addresses").contains("password-file").doesNotContain("s3cr3t-pw");
    }
}
