package dev.portcullis.authz;

import static dev.portcullis.StageFixtures.authenticated;
import static dev.portcullis.StageFixtures.bytes;
import static dev.portcullis.StageFixtures.post;
import static dev.portcullis.StageFixtures.principal;
import static dev.portcullis.StageFixtures.toolCall;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.portcullis.StageFixtures;
import dev.portcullis.authn.Principal;
import dev.portcullis.failure.GatewayFailure;
import dev.portcullis.failure.Reason;
import dev.portcullis.inspect.InspectedRequest;
import dev.portcullis.inspect.JsonRpcInspector;
import dev.portcullis.policy.Policy;
import dev.portcullis.route.Route;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Stage 5 alone: an inspected request in, an authorized one out, or the refusal in its exact shape. No sockets. */
class AuthorizeTest {
    private final Authorize authorize = new Authorize();
    private Policy policy;

    @BeforeEach
    void setUp(@TempDir Path dir) throws Exception {
        policy = StageFixtures.policy(dir);
    }

    private InspectedRequest inspected(Route route, String body, boolean batch, Principal principal) {
        byte[] bytes = bytes(body);
        return new InspectedRequest(authenticated(route, post("/mcp"), principal), bytes, new JsonRpcInspector().inspect(bytes),
                batch);
    }

    private GatewayFailure refusal(String body, String... scopes) {
        Throwable thrown = org.assertj.core.api.Assertions.catchThrowable(() ->
                authorize.apply(inspected(StageFixtures.route(policy), body, false, principal(scopes))));
        assertThat(thrown).isInstanceOf(GatewayFailure.class);
        return (GatewayFailure) thrown;
    }

    @Test
    void policy01AnAllowedCallPassesWithItsDecisionAndTheClientsBytes() {
        String body = toolCall(1, "read_file");
        AuthorizedRequest authorized = authorize.apply(inspected(StageFixtures.route(policy), body, false, principal("files:read")));
        assertThat(authorized.decisions()).singleElement().satisfies(d -> assertThat(d.allowed()).isTrue());
        assertThat(new String(authorized.upstreamBody(), StandardCharsets.UTF_8)).isEqualTo(body);
        assertThat(authorized.partialBatch()).isNull();
    }

    @Test
    void jsonrpc08aHiddenToolIsAnsweredAsUnknownWithTheRequestId() {
        GatewayFailure refusal = refusal(toolCall(5, "delete_repo"), "files:read");
        assertThat(refusal.reason()).isEqualTo(Reason.UNKNOWN_TOOL);
        assertThat(refusal.description()).isEqualTo("Unknown tool: delete_repo");
        assertThat(refusal.jsonRpcId().asInt()).isEqualTo(5);
    }

    @Test
    void challenge04MissingScopeTheCallerCouldGetIsAStepUpChallenge() {
        GatewayFailure refusal = refusal(toolCall(2, "write_file"), "files:read");
        assertThat(refusal.reason()).isEqualTo(Reason.INSUFFICIENT_SCOPE);
        assertThat(refusal.scopes()).contains("files:read", "files:write");
    }

    @Test
    void policy07PartialBatchForwardsOnlyTheAllowedElements() {
        String allowed = toolCall(1, "read_file");
        String batch = "[" + allowed + "," + toolCall(2, "delete_repo") + "]";
        AuthorizedRequest authorized = authorize.apply(inspected(StageFixtures.route(policy), batch, true, principal("files:read")));
        assertThat(authorized.partialBatch()).isNotNull();
        assertThat(authorized.partialBatch().refused()).containsOnlyKeys(1);
        assertThat(new String(authorized.upstreamBody(), StandardCharsets.UTF_8)).isEqualTo("[" + allowed + "]");
    }

    @Test
    void policy07RejectWholeRouteRefusesTheBatchWithAnErrorPerRequest() {
        String batch = "[" + toolCall(1, "read_file") + "," + toolCall(2, "delete_repo") + "]";
        Route rejectWhole = StageFixtures.route(policy, null, "reject-whole");
        assertThatThrownBy(() -> authorize.apply(inspected(rejectWhole, batch, true, principal("files:read"))))
                .isInstanceOfSatisfying(GatewayFailure.class, f -> {
                    assertThat(f.reason()).isEqualTo(Reason.BATCH_DENIED);
                    assertThat(f.elements()).extracting(e -> e.jsonRpcId().asInt()).containsExactly(1, 2);
                });
    }

    @Test
    void responsesPostedByTheClientAreNotPolicySubjects() {
        AuthorizedRequest authorized = authorize.apply(inspected(StageFixtures.route(policy),
                "{\"jsonrpc\":\"2.0\",\"id\":9,\"result\":{}}", false, principal()));
        assertThat(authorized.decisions()).singleElement().satisfies(d -> assertThat(d.allowed()).isTrue());
        assertThat(Optional.ofNullable(authorized.partialBatch())).isEmpty();
    }
}
