package dev.portcullis.app;

import static dev.portcullis.app.GatewayHarness.RESOURCE;
import static org.assertj.core.api.Assertions.assertThat;

import dev.portcullis.testing.TestIdp;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Issue 12 item 15: the 401 for a wrong audience said only "aud does not contain the resource", so an
 * operator could not see that the IdP issued a client id where the route expects a URL. The log line
 * names the expected and the presented {@code aud}, escaped, and never the token.
 */
class WrongAudienceLogLineTest {
    @RegisterExtension
    static final GatewayExtension peers = GatewayExtension.builder().route("resource-aliases: [mcp-gateway]").build();
    private final TestIdp idp = peers.idp();
    private final GatewayHarness gw = peers.gateway();

    @Test
    void wrongAudience401LogLineNamesExpectedAndPresentedAudNeverTheToken() {
        int before = CapturingAppender.lines().size();
        String token = idp.accessToken(RESOURCE, "mcp:tools", Map.of("aud", List.of("account", "evil\r\nforged line")));
        assertThat(gw.send(gw.post(GatewayHarness.toolCall(1, "echo")).header("Authorization", "Bearer " + token).build())
                .statusCode()).isEqualTo(401);
        List<String> lines = CapturingAppender.lines().subList(before, CapturingAppender.lines().size()).stream()
                .filter(l -> l.startsWith("portcullis.access") && l.contains("error.type=invalid_token")).toList();
        assertThat(lines).singleElement().satisfies(line -> assertThat(line)
                .contains("aud [\"account\", \"evil\\u000d\\u000aforged line\"] does not contain the resource"
                        + " (expected one of [\"" + RESOURCE + "\", \"mcp-gateway\"])")
                .doesNotContain(token).doesNotContain(token.split("\\.")[1]).doesNotContain("\n"));
    }
}
