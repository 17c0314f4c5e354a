package dev.portcullis.app.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.portcullis.config.GatewayConfig;
import dev.portcullis.config.PinningConfig;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Issue 17: a route's {@code pinning:} block; bad values name file, line and field like the rest of the config. */
class PinningConfigTest {
    private static final String YAML = """
            issuers:
              - issuer: https://idp.example.com
            routes:
              - name: notes
                path: /mcp
                upstream: http://127.0.0.1:3000/mcp
                resource: https://gw.example.com/mcp
            %s
            """;

    private static GatewayConfig parse(String route) {
        return ConfigLoader.parse(YAML.formatted(route), "gateway.yaml", Path.of("/etc/portcullis"), name -> null);
    }

    private static String error(String route) {
        return assertThatThrownBy(() -> parse(route)).isInstanceOf(ConfigLoader.InvalidConfigException.class)
                .actual().getMessage();
    }

    @Test
    void offByDefaultAndHideToolsWhenOnWithTheFileBesideTheConfig() {
        assertThat(parse("").routes().get(0).pinning()).isNull();
        PinningConfig pinning = parse("    pinning: { file: pins.yaml }").routes().get(0).pinning();
        assertThat(pinning.file()).isEqualTo(Path.of("/etc/portcullis/pins.yaml"));
        assertThat(pinning.hidesUnpinned()).isTrue();
        assertThat(pinning.kinds()).containsExactly("tools");
        PinningConfig all = parse("    pinning: { file: p.yaml, unpinned: show, kinds: [tools, prompts, resource-templates] }")
                .routes().get(0).pinning();
        assertThat(all.hidesUnpinned()).isFalse();
        assertThat(all.kinds()).containsExactly("tools", "prompts", "resource-templates");
    }

    @Test
    void badValuesNameFileLineAndField() {
        assertThat(error("    pinning:\n      file: pins.yaml\n      unpinned: maybe")).isEqualTo("gateway.yaml:10: "
                + "routes[0].pinning.unpinned: \"maybe\" (expected: hide (an item the pins file does not name is hidden and "
                + "its calls refused) or show)");
        assertThat(error("    pinning: { unpinned: hide }")).isEqualTo("gateway.yaml:8: routes[0].pinning.file: is required");
        assertThat(error("    pinning: { file: p.yaml, kinds: [] }"))
                .isEqualTo("gateway.yaml:8: routes[0].pinning.kinds: is empty (expected: one or more of tools, prompts, "
                        + "resource-templates)");
        assertThat(error("    pinning: { file: p.yaml, kinds: [tools, tools] }")).endsWith("(expected: each kind once)");
        assertThat(error("    pinning: { file: p.yaml, colour: blue }")).startsWith("gateway.yaml:8: routes[0].pinning.colour: "
                + "unknown key (expected one of: file, kinds, unpinned)");
        assertThat(List.of(error("    pinning: { file: p.yaml, kinds: [widgets] }")))
                .singleElement().asString().contains("routes[0].pinning.kinds: \"widgets\"");
    }
}
