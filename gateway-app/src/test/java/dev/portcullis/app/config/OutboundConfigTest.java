package dev.portcullis.app.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.portcullis.config.GatewayConfig;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The {@code outbound} section (SECURITY-03): allowed private ranges and timeouts of the gateway's own fetches. */
class OutboundConfigTest {
    private static final String BASE = """
            issuers:
              - issuer: https://idp.example.com
            routes:
              - name: todo
                path: /mcp
                upstream: http://127.0.0.1:3000/mcp
                resource: https://gw.example.com/mcp
            """;

    @Test
    void defaultsAllowNoPrivateRange() {
        GatewayConfig config = ConfigLoader.parse(BASE, "gateway.yaml");
        assertThat(config.outbound().allowPrivate()).isEmpty();
        assertThat(config.outbound().connectTimeout()).isEqualTo(Duration.ofSeconds(5));
        assertThat(config.outbound().timeout()).isEqualTo(Duration.ofSeconds(10));
    }

    @Test
    void rangesAndTimeoutsAreRead() {
        GatewayConfig config = ConfigLoader.parse("""
                outbound:
                  allow-private: [10.0.0.0/8, "fd00::/8", 127.0.0.1]
                  connect-timeout: 2s
                  timeout: 3s
                """ + BASE, "gateway.yaml");
        assertThat(config.outbound().allowPrivate()).containsExactly("10.0.0.0/8", "fd00::/8", "127.0.0.1");
        assertThat(config.outbound().allowPrivateRanges()).hasSize(3);
        assertThat(config.outbound().timeout()).isEqualTo(Duration.ofSeconds(3));
    }

    @Test
    void aHostNameOrAmbiguousAddressIsAConfigErrorWithFileAndLine() {
        for (String bad : new String[] {"localhost", "010.0.0.0/8", "10.0.0.0/40"}) {
            String message = assertThatThrownBy(() -> ConfigLoader.parse("outbound:\n  allow-private: [" + bad + "]\n" + BASE,
                    "gateway.yaml")).isInstanceOf(ConfigLoader.InvalidConfigException.class).actual().getMessage();
            assertThat(message).as(bad).startsWith("gateway.yaml:2: outbound.allow-private: \"" + bad + "\" (expected: ");
        }
        String message = assertThatThrownBy(() -> ConfigLoader.parse("outbound:\n  timeout: 0s\n" + BASE, "gateway.yaml"))
                .actual().getMessage();
        assertThat(message).startsWith("gateway.yaml:2: outbound.timeout: \"0s\" (expected: 100ms..2m)");
    }
}
