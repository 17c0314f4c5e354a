package dev.portcullis.app.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/** Issue 12 item 10: {@code listen.max-batch-size}, default 100, validated with file, line and field. */
class BatchLimitConfigTest {
    private static final String YAML = """
            listen:
              host: 127.0.0.1
              port: 8080
            %s
            issuers:
              - issuer: https://idp.example.com
                algorithms: [RS256]
            routes:
              - name: todo
                path: /mcp
                upstream: http://127.0.0.1:3000/mcp
                resource: https://gw.example.com/mcp
            """;

    @Test
    void maxBatchSizeDefaultsToWhatSdksSend() {
        assertThat(ConfigLoader.parse(YAML.formatted(""), "gateway.yaml").listen().maxBatchSize()).isEqualTo(100);
        assertThat(ConfigLoader.parse(YAML.formatted("  max-batch-size: 20"), "gateway.yaml").listen().maxBatchSize()).isEqualTo(20);
    }

    @Test
    void badMaxBatchSizeNamesFileLineAndField() {
        for (String bad : new String[] {"0", "10001", "-1"}) {
            assertThatThrownBy(() -> ConfigLoader.parse(YAML.formatted("  max-batch-size: " + bad), "gateway.yaml"))
                    .isInstanceOf(ConfigLoader.InvalidConfigException.class)
                    .hasMessage("gateway.yaml:4: listen.max-batch-size: " + bad + " (expected: 1..10000 elements)");
        }
        assertThatThrownBy(() -> ConfigLoader.parse(YAML.formatted("  max-batch-size: many"), "gateway.yaml"))
                .hasMessageStartingWith("gateway.yaml:4: listen.max-batch-size:").hasMessageContaining("whole number");
    }
}
