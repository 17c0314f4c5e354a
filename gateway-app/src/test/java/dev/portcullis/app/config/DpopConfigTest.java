package dev.portcullis.app.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.portcullis.config.DpopMode;
import dev.portcullis.config.GatewayConfig;
import dev.portcullis.route.Route;
import dev.portcullis.route.RouteDpop;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Issue 16: {@code dpop:} per issuer and per route, and what it means for a route; bad values name file, line, field. */
class DpopConfigTest {
    private static final String YAML = """
            issuers:
              - issuer: https://idp.example.com
                algorithms: [RS256, ES256]
            %s
              - issuer: https://other.example.com
                algorithms: [PS256]
            %s
            routes:
              - name: notes
                path: /mcp
                upstream: http://127.0.0.1:3000/mcp
                resource: https://gw.example.com/mcp
            %s
            """;

    private static GatewayConfig parse(String first, String second, String route) {
        return ConfigLoader.parse(YAML.formatted(first, second, route), "gateway.yaml");
    }

    private static String error(String first, String second, String route) {
        return assertThatThrownBy(() -> parse(first, second, route))
                .isInstanceOf(ConfigLoader.InvalidConfigException.class).actual().getMessage();
    }

    private static RouteDpop dpop(GatewayConfig config) {
        return Route.compile(config.routes().get(0), List.of(), null, config.issuers()).dpop();
    }

    @Test
    void dpopIsOffByDefault() {
        GatewayConfig config = parse("", "", "");
        assertThat(config.issuers().get(0).dpopMode()).isEqualTo(DpopMode.OFF);
        assertThat(config.routes().get(0).dpopMode()).isEqualTo(DpopMode.OFF);
        assertThat(config.routes().get(0).dpopProofWindow()).isEqualTo(Duration.ofMinutes(5));
        assertThat(dpop(config)).isEqualTo(RouteDpop.OFF);
    }

    @Test
    void anIssuersDpopReachesEveryRouteWithItsAlgorithmsOnly() {
        RouteDpop dpop = dpop(parse("    dpop: allowed", "", ""));
        assertThat(dpop.accepted()).isTrue();
        assertThat(dpop.bearerAllowed()).isTrue();
        assertThat(dpop.algorithms()).containsExactly("RS256", "ES256");
    }

    @Test
    void theStricterOfRouteAndIssuerApplies() {
        GatewayConfig config = parse("    dpop: required", "", "    dpop: allowed");
        RouteDpop dpop = dpop(config);
        assertThat(dpop.modeFor(config.issuers().get(0))).isEqualTo(DpopMode.REQUIRED);
        assertThat(dpop.modeFor(config.issuers().get(1))).isEqualTo(DpopMode.ALLOWED);
        assertThat(dpop.bearerAllowed()).as("the other issuer's bearer tokens").isTrue();
        assertThat(dpop.algorithms()).containsExactly("RS256", "ES256", "PS256");
        assertThat(dpop(parse("    dpop: required", "    dpop: required", "")).required()).isTrue();
        assertThat(dpop(parse("", "", "    dpop: required")).required()).isTrue();
    }

    @Test
    void routeNonceAndWindow() {
        GatewayConfig config = parse("", "", "    dpop: required\n    dpop-nonce: true\n    dpop-proof-window: 60s");
        assertThat(dpop(config).nonce()).isTrue();
        assertThat(dpop(config).window()).isEqualTo(Duration.ofSeconds(60));
    }

    @Test
    void badValuesNameFileLineAndField() {
        assertThat(error("    dpop: sometimes", "", "")).startsWith(
                "gateway.yaml:4: issuers[0].dpop: \"sometimes\" (expected: off, allowed or required)");
        assertThat(error("", "", "    dpop: yes please")).startsWith(
                "gateway.yaml:13: routes[0].dpop: \"yes please\" (expected: off, allowed or required)");
        assertThat(error("", "", "    dpop: allowed\n    dpop-proof-window: 10m")).startsWith(
                "gateway.yaml:14: routes[0].dpop-proof-window: \"10m\" (expected: 5s..5m");
        assertThat(error("", "", "    dpop-nonce: true")).startsWith(
                "gateway.yaml:13: routes[0].dpop-nonce: is true, but no DPoP is accepted on this route");
    }

    /** YAML 1.1 reads a bare off as false; the config says what it expects either way. */
    @Test
    void dpopOffAsWritten() {
        GatewayConfig config = parse("    dpop: \"off\"", "", "    dpop: off");
        assertThat(config.routes().get(0).dpopMode()).isEqualTo(DpopMode.OFF);
        assertThat(config.issuers().get(0).dpopMode()).isEqualTo(DpopMode.OFF);
        assertThat(error("", "", "    dpop: on")).startsWith("gateway.yaml:13: routes[0].dpop: ")
                .contains("(expected: off, allowed or required)");
    }
}
