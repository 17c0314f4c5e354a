package dev.portcullis.authz;

import static dev.portcullis.StageFixtures.authenticated;
import static dev.portcullis.StageFixtures.bytes;
import static dev.portcullis.StageFixtures.post;
import static dev.portcullis.StageFixtures.principal;
import static dev.portcullis.StageFixtures.toolCall;
import static org.assertj.core.api.Assertions.assertThat;

import dev.portcullis.StageFixtures;
import dev.portcullis.config.RouteConfig;
import dev.portcullis.inspect.InspectedRequest;
import dev.portcullis.inspect.JsonRpcInspector;
import dev.portcullis.policy.ItemKind;
import dev.portcullis.policy.Policy;
import dev.portcullis.policy.PolicyLoader;
import dev.portcullis.route.Route;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What authorize hands forward about lists (POLICY-05, V26-5): decided here, so forward never asks the policy. */
class ListVisibilityTest {

    private static Route policyRoute(Path dir) throws Exception {
        Path file = Files.writeString(dir.resolve("policy.yaml"), StageFixtures.POLICY);
        RouteConfig config = new RouteConfig("r", "/mcp", "http://127.0.0.1:1/mcp", StageFixtures.RESOURCE, null, null,
                null, file, null, null, null, null, null, null, null, null);
        return Route.compile(config, List.of("https://idp.example.com"), PolicyLoader.load(file).policy());
    }

    @Test
    void policy05AuthorizeHandsForwardWhatThisCallerMaySee(@TempDir Path dir) throws Exception {
        byte[] body = bytes(toolCall(1, "read_file"));
        InspectedRequest inspected = new InspectedRequest(authenticated(policyRoute(dir), post("/mcp"), principal("files:read")),
                body, new JsonRpcInspector().inspect(body), false);
        ListVisibility visibility = new Authorize().apply(inspected).visibility();
        assertThat(visibility.filters()).isTrue();
        assertThat(visibility.sees(ItemKind.TOOL, "read_file")).isTrue();
        assertThat(visibility.sees(ItemKind.TOOL, "write_file")).as("needs a step-up: not listed").isFalse();
        assertThat(visibility.sees(ItemKind.TOOL, "delete_repo")).isFalse();
        assertThat(visibility.mayEverSee(ItemKind.TOOL)).isTrue();
        assertThat(visibility.mayEverSee(ItemKind.PROMPT)).as("V26-5").isFalse();
    }

    @Test
    void aRouteWithoutAPolicyFileHidesNothing() {
        ListVisibility visibility = ListVisibility.of(StageFixtures.route(Policy.authenticatedOnly()), principal().asSubject());
        assertThat(visibility.filters()).isFalse();
        assertThat(visibility.sees(ItemKind.TOOL, "anything")).isTrue();
        assertThat(visibility.mayComplete()).isTrue();
    }
}
