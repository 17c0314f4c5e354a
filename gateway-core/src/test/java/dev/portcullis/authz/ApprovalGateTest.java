package dev.portcullis.authz;

import static dev.portcullis.StageFixtures.authenticated;
import static dev.portcullis.StageFixtures.bytes;
import static dev.portcullis.StageFixtures.post;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.portcullis.FakeTime;
import dev.portcullis.StageFixtures;
import dev.portcullis.Step;
import dev.portcullis.approval.ApprovalAudit;
import dev.portcullis.approval.ApprovalRequest;
import dev.portcullis.approval.SharedApprovals;
import dev.portcullis.audit.ArgumentLogging;
import dev.portcullis.authn.BearerToken;
import dev.portcullis.authn.Principal;
import dev.portcullis.authn.SessionBinding;
import dev.portcullis.failure.FailureResponses;
import dev.portcullis.failure.GatewayFailure;
import dev.portcullis.failure.Reason;
import dev.portcullis.inspect.InspectedRequest;
import dev.portcullis.inspect.JsonRpcInspector;
import dev.portcullis.inspect.McpMessage;
import dev.portcullis.policy.Policy;
import dev.portcullis.policy.PolicyLoader;
import dev.portcullis.revision.McpRevision;
import dev.portcullis.route.Route;
import dev.portcullis.store.MemoryStore;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * Issue 17: the approval gate, no sockets. A held call is answered per revision; an approval lets exactly the
 * approved call through (same subject, agent, tool, arguments, policy version), once unless the rule says
 * otherwise, until it expires; the requester cannot approve itself; every step is audited.
 */
class ApprovalGateTest {
    static final String POLICY = """
            default: deny
            tools:
              pay:
                approval:
                  approvers: { roles: [finance] }
                  expires: 15m
                  when: { amount: { min: 1000 } }
                  mask: [card]
              deploy:
                approval:
                  approvers: { roles: [ops] }
                  count: 2
              report:
                approval:
                  approvers: { groups: [auditors] }
                  single-use: false
                  self-approval: true
              read: {}
            """;
    private static final ObjectMapper JSON = new ObjectMapper();

    private final FakeTime time = new FakeTime(Instant.now());
    private final MemoryStore memory = new MemoryStore();
    private final SharedApprovals store = new SharedApprovals(memory, time);
    private final List<String> audited = new ArrayList<>();
    private final ApprovalAudit audit = new ApprovalAudit() {
        @Override
        public void record(Action action, ApprovalRequest request, ApprovalRequest.Party approver, String reason, String comment) {
            audited.add(action.eventName() + " " + request.tool() + (approver == null ? "" : " by " + approver.subject()));
        }
    };
    private final SessionBinding seal = SessionBinding.withRandomKey();
    private final ApprovalGate gate = new ApprovalGate(store, audit, seal, ArgumentLogging.parse("digest", List.of()),
            "https://approve.example.com/", time);
    private final Authorize authorize = new Authorize();
    private Policy policy = PolicyLoader.parse(POLICY, "approvals.yaml").policy();

    static Principal principal(String subject, String agent) {
        return new Principal("https://idp.example.com", subject, agent, Set.of(), Set.of(), Map.of(), "jti-1",
                Instant.now().plusSeconds(300), new BearerToken("caller-token"), Instant.now().plusSeconds(300), subject + "-name");
    }

    static final Principal ALICE = principal("alice", "agent-1");
    static final ApprovalRequest.Party BOB = new ApprovalRequest.Party("https://idp.example.com", "bob", "", "Bob");
    static final ApprovalRequest.Party CAROL = new ApprovalRequest.Party("https://idp.example.com", "carol", "", "Carol");
    static final ApprovalRequest.Party ALICE_AS_APPROVER = new ApprovalRequest.Party("https://idp.example.com", "alice", "", "");

    static String call(int id, String tool, String arguments) {
        return "{\"jsonrpc\":\"2.0\",\"id\":" + id + ",\"method\":\"tools/call\",\"params\":{\"name\":\"" + tool
                + "\",\"arguments\":" + arguments + "}}";
    }

    static String modernCall(int id, String tool, String arguments, String extraParams) {
        return "{\"jsonrpc\":\"2.0\",\"id\":" + id + ",\"method\":\"tools/call\",\"params\":{\"name\":\"" + tool
                + "\",\"arguments\":" + arguments + extraParams + ",\"_meta\":{\"" + McpRevision.VERSION_KEY
                + "\":\"2026-07-28\",\"" + McpRevision.CAPABILITIES_KEY + "\":{}}}}";
    }

    private AuthorizedRequest request(String body, Principal principal, String... headers) {
        Route route = StageFixtures.route(policy);
        byte[] bytes = bytes(body);
        List<McpMessage> messages = new JsonRpcInspector().inspect(bytes);
        McpRevision revision = McpRevision.of(route, messages, false);
        return authorize.apply(new InspectedRequest(authenticated(route, post("/mcp", headers), principal), bytes, messages,
                false, revision, Optional.empty()));
    }

    /** The gate's answer: the request it lets go on, or the failure that holds it. */
    private Object through(AuthorizedRequest request) {
        try {
            Step<AuthorizedRequest> step = gate.apply(request);
            return step.ready() ? step.value() : step.future().join();
        } catch (GatewayFailure failure) {
            return failure;
        } catch (java.util.concurrent.CompletionException e) {
            return e.getCause();
        }
    }

    private GatewayFailure held(AuthorizedRequest request) {
        Object answer = through(request);
        assertThat(answer).as("held").isInstanceOf(GatewayFailure.class);
        return (GatewayFailure) answer;
    }

    private AuthorizedRequest passed(AuthorizedRequest request) {
        Object answer = through(request);
        assertThat(answer).as("let through").isInstanceOf(AuthorizedRequest.class);
        return (AuthorizedRequest) answer;
    }

    /** The approval id in a held call's answer (the page URL's last segment). */
    private static String idOf(GatewayFailure held) {
        String url = (String) held.data().get("approvalUrl");
        return url.substring(url.lastIndexOf('/') + 1);
    }

    private ApprovalRequest.Outcome decide(String id, ApprovalRequest.Party approver, Set<String> roles, boolean approve) {
        return store.update(id, r -> r.decide(approver, roles, Set.of(), approve, "ok", time.millis())).join().outcome();
    }

    @Test
    void callsTheRuleDoesNotHoldPassUntouched() {
        AuthorizedRequest small = request(call(1, "pay", "{\"amount\": 999}"), ALICE);
        assertThat(passed(small)).isSameAs(small);
        AuthorizedRequest read = request(call(2, "read", "{}"), ALICE);
        assertThat(passed(read)).isSameAs(read);
        assertThat(audited).isEmpty();
    }

    @Test
    void aHeldCallIsAnsweredWithTheUrlTheWayAnOlderClientUnderstands() {
        GatewayFailure held = held(request(call(7, "pay", "{\"amount\": 5000, \"card\": \"4111-1111\"}"), ALICE));
        assertThat(held.reason()).isEqualTo(Reason.APPROVAL_REQUIRED);
        String url = (String) held.data().get("approvalUrl");
        assertThat(url).matches("https://approve\\.example\\.com/approvals/[A-Za-z0-9_-]{22}");
        assertThat(held.description()).contains(url);
        assertThat(held.jsonRpcId().asInt()).isEqualTo(7);
        assertThat(held.decision().ruleId()).isEqualTo("tools.pay");
        byte[] body = new FailureResponses(JSON).jsonRpcError(held);
        assertThat(new String(body, StandardCharsets.UTF_8)).contains("-31428").contains(url);
        assertThat(audited).containsExactly("approval.requested pay");
        // The approvers see the arguments with the rule's masked paths replaced.
        ApprovalRequest request = store.find(idOf(held)).join().orElseThrow();
        assertThat(request.arguments().toString()).doesNotContain("4111").contains("[redacted]").contains("5000");
        assertThat(request.requester().subject()).isEqualTo("alice");
        assertThat(request.requester().agent()).isEqualTo("agent-1");
    }

    @Test
    void the20251125RevisionGetsTheUrlElicitationRequiredError() {
        GatewayFailure held = held(request(call(3, "pay", "{\"amount\": 5000}"), ALICE, "MCP-Protocol-Version", "2025-11-25"));
        assertThat(held.reason()).isEqualTo(Reason.APPROVAL_URL_REQUIRED);
        JsonNode error = readTree(new FailureResponses(JSON).jsonRpcError(held)).get("error");
        assertThat(error.get("code").asInt()).isEqualTo(-32042);
        JsonNode elicitation = error.get("data").get("elicitations").get(0);
        assertThat(elicitation.get("mode").asText()).isEqualTo("url");
        assertThat(elicitation.get("url").asText()).startsWith("https://approve.example.com/approvals/");
        assertThat(elicitation.get("elicitationId").asText()).isNotEmpty();
    }

    @Test
    void the20260728RevisionGetsAnInputRequiredResultWithASealedRequestState() {
        GatewayFailure held = held(request(modernCall(4, "pay", "{\"amount\": 5000}", ""), ALICE,
                "MCP-Protocol-Version", "2026-07-28", "Mcp-Method", "tools/call", "Mcp-Name", "pay"));
        assertThat(held.reason()).isEqualTo(Reason.APPROVAL_INPUT_REQUIRED);
        var response = new FailureResponses(JSON).render(StageFixtures.route(policy), held, null);
        assertThat(response.status().code()).isEqualTo(200);
        JsonNode body = readTree(io.netty.buffer.ByteBufUtil.getBytes(response.content()));
        JsonNode result = body.get("result");
        assertThat(body.has("error")).isFalse();
        assertThat(body.get("id").asInt()).isEqualTo(4);
        assertThat(result.get("resultType").asText()).isEqualTo("input_required");
        JsonNode input = result.get("inputRequests").get(ApprovalGate.INPUT_KEY);
        assertThat(input.get("method").asText()).isEqualTo("elicitation/create");
        assertThat(input.get("params").get("mode").asText()).isEqualTo("url");
        assertThat(input.get("params").get("url").asText()).startsWith("https://approve.example.com/approvals/");
        assertThat(result.get("requestState").asText()).startsWith(ApprovalGate.STATE_PREFIX).doesNotContain("alice");
        assertThat(new String(io.netty.buffer.ByteBufUtil.getBytes(response.content()), StandardCharsets.UTF_8))
                .doesNotContain("-32042"); // V26-26: never to a modern client
    }

    @Test
    void anApprovedCallGoesThroughExactlyOnceAndAReplayIsHeldAgain() {
        AuthorizedRequest first = request(call(1, "pay", "{\"amount\": 5000}"), ALICE);
        String id = idOf(held(first));
        assertThat(idOf(held(request(call(2, "pay", "{\"amount\": 5000}"), ALICE)))).as("the same open request").isEqualTo(id);
        assertThat(decide(id, BOB, Set.of("finance"), true)).isEqualTo(ApprovalRequest.Outcome.APPROVED);
        passed(request(call(3, "pay", "{\"amount\": 5000}"), ALICE));
        // Single use: the same call again is a new request, held with a new id.
        String again = idOf(held(request(call(4, "pay", "{\"amount\": 5000}"), ALICE)));
        assertThat(again).isNotEqualTo(id);
        assertThat(store.find(id).join().orElseThrow().status()).isEqualTo(ApprovalRequest.Status.USED);
        assertThat(audited).containsExactly("approval.requested pay", "approval.used pay", "approval.requested pay");
        // Approving the used request again does nothing.
        assertThat(decide(id, CAROL, Set.of("finance"), true)).isEqualTo(ApprovalRequest.Outcome.NOT_PENDING);
    }

    @Test
    void anApprovalDoesNotPassOtherArgumentsAnotherAgentOrAnotherPerson() {
        String id = idOf(held(request(call(1, "pay", "{\"amount\": 5000, \"to\": \"acme\"}"), ALICE)));
        decide(id, BOB, Set.of("finance"), true);
        held(request(call(2, "pay", "{\"amount\": 5001, \"to\": \"acme\"}"), ALICE));
        held(request(call(3, "pay", "{\"amount\": 5000, \"to\": \"evil\"}"), ALICE));
        held(request(call(4, "pay", "{\"amount\": 5000, \"to\": \"acme\"}"), principal("alice", "agent-2")));
        held(request(call(5, "pay", "{\"amount\": 5000, \"to\": \"acme\"}"), principal("mallory", "agent-1")));
        // Key order and whitespace are not the call: the canonical digest matches.
        passed(request(call(6, "pay", "{ \"to\":\"acme\" ,\"amount\":5000}"), ALICE));
    }

    @Test
    void anExpiredApprovalIsRefusedAndTheExpiryAudited() {
        String id = idOf(held(request(call(1, "pay", "{\"amount\": 5000}"), ALICE)));
        decide(id, BOB, Set.of("finance"), true);
        time.advance(Duration.ofMinutes(16));
        String next = idOf(held(request(call(2, "pay", "{\"amount\": 5000}"), ALICE)));
        assertThat(next).isNotEqualTo(id);
        assertThat(audited).containsExactly("approval.requested pay", "approval.expired pay", "approval.requested pay");
        // And an approver arriving late cannot approve the expired request.
        String late = idOf(held(request(call(3, "pay", "{\"amount\": 7000}"), ALICE)));
        time.advance(Duration.ofMinutes(16));
        assertThat(decide(late, BOB, Set.of("finance"), true)).isEqualTo(ApprovalRequest.Outcome.EXPIRED);
    }

    @Test
    void theRequesterCannotApproveItsOwnCallNorCanSomeoneWithoutTheRole() {
        String id = idOf(held(request(call(1, "pay", "{\"amount\": 5000}"), ALICE)));
        assertThat(decide(id, ALICE_AS_APPROVER, Set.of("finance"), true)).isEqualTo(ApprovalRequest.Outcome.SELF_APPROVAL);
        assertThat(decide(id, CAROL, Set.of("sales"), true)).isEqualTo(ApprovalRequest.Outcome.NOT_AN_APPROVER);
        held(request(call(2, "pay", "{\"amount\": 5000}"), ALICE));
        assertThat(store.find(id).join().orElseThrow().decisions()).isEmpty();
    }

    @Test
    void aRuleMayAllowSelfApprovalAndReuseUntilExpiry() {
        String id = idOf(held(request(call(1, "report", "{}"), ALICE)));
        assertThat(store.update(id, r -> r.decide(ALICE_AS_APPROVER, Set.of(), Set.of("auditors"), true, "", time.millis()))
                .join().outcome()).isEqualTo(ApprovalRequest.Outcome.APPROVED);
        passed(request(call(2, "report", "{}"), ALICE));
        passed(request(call(3, "report", "{}"), ALICE));
        time.advance(Duration.ofMinutes(16));
        held(request(call(4, "report", "{}"), ALICE));
    }

    @Test
    void countTwoNeedsTwoDistinctApprovers() {
        String id = idOf(held(request(call(1, "deploy", "{}"), ALICE)));
        assertThat(decide(id, BOB, Set.of("ops"), true)).isEqualTo(ApprovalRequest.Outcome.COUNTED);
        assertThat(decide(id, BOB, Set.of("ops"), true)).isEqualTo(ApprovalRequest.Outcome.ALREADY_DECIDED);
        held(request(call(2, "deploy", "{}"), ALICE));
        assertThat(decide(id, CAROL, Set.of("ops"), true)).isEqualTo(ApprovalRequest.Outcome.APPROVED);
        passed(request(call(3, "deploy", "{}"), ALICE));
    }

    @Test
    void aDenialIsAnsweredOnceThenTheCallAsksAgain() {
        String id = idOf(held(request(call(1, "pay", "{\"amount\": 5000}"), ALICE)));
        assertThat(decide(id, BOB, Set.of("finance"), false)).isEqualTo(ApprovalRequest.Outcome.DENIED);
        GatewayFailure denied = held(request(call(2, "pay", "{\"amount\": 5000}"), ALICE));
        assertThat(denied.reason()).isEqualTo(Reason.POLICY_DENIED);
        assertThat(denied.decision().ruleId()).isEqualTo("tools.pay");
        assertThat(idOf(held(request(call(3, "pay", "{\"amount\": 5000}"), ALICE)))).isNotEqualTo(id);
    }

    @Test
    void aChangedPolicyDoesNotHonourApprovalsGivenUnderTheOldOne() {
        String id = idOf(held(request(call(1, "pay", "{\"amount\": 5000}"), ALICE)));
        decide(id, BOB, Set.of("finance"), true);
        policy = PolicyLoader.parse(POLICY + "  other: {}\n", "approvals.yaml").policy();
        held(request(call(2, "pay", "{\"amount\": 5000}"), ALICE));
    }

    @Test
    void aModernRetryCarriesItsSealedStateWhichIsCheckedAndNotForwarded() throws Exception {
        String[] headers = {"MCP-Protocol-Version", "2026-07-28", "Mcp-Method", "tools/call", "Mcp-Name", "pay"};
        GatewayFailure held = held(request(modernCall(1, "pay", "{\"amount\": 5000}", ""), ALICE, headers));
        @SuppressWarnings("unchecked")
        String state = (String) ((Map<String, Object>) held.data()).get("requestState");
        @SuppressWarnings("unchecked")
        Map<String, Object> inputs = (Map<String, Object>) held.data().get("inputRequests");
        String url = JSON.valueToTree(inputs).get(ApprovalGate.INPUT_KEY).get("params").get("url").asText();
        String id = url.substring(url.lastIndexOf('/') + 1);
        String retry = ",\"requestState\":\"" + state + "\",\"inputResponses\":{\"approval\":{\"action\":\"accept\"}}";
        // V26-31: another principal replaying the state is refused with 400 / -32602 before anything else.
        GatewayFailure stolen = held(request(modernCall(2, "pay", "{\"amount\": 5000}", retry), principal("mallory", "agent-1"),
                headers));
        assertThat(stolen.reason()).isEqualTo(Reason.INVALID_PARAMS);
        assertThat(FailureResponses.status(stolen.reason())).isEqualTo(400);
        // The state names one call: other arguments with it are refused.
        assertThat(held(request(modernCall(3, "pay", "{\"amount\": 9000}", retry), ALICE, headers)).reason())
                .isEqualTo(Reason.INVALID_PARAMS);
        // A forged state is refused.
        assertThat(held(request(modernCall(4, "pay", "{\"amount\": 5000}", ",\"requestState\":\"" + ApprovalGate.STATE_PREFIX
                + "eyJhbGciOiJkaXIifQ..x.y.z\""), ALICE, headers)).reason()).isEqualTo(Reason.INVALID_PARAMS);
        // Before approval the retry is held again, with the same request.
        assertThat(held(request(modernCall(5, "pay", "{\"amount\": 5000}", retry), ALICE, headers)).reason())
                .isEqualTo(Reason.APPROVAL_INPUT_REQUIRED);
        decide(id, BOB, Set.of("finance"), true);
        AuthorizedRequest through = passed(request(modernCall(6, "pay", "{\"amount\": 5000}", retry), ALICE, headers));
        JsonNode forwarded = readTree(through.upstreamBody());
        assertThat(forwarded.get("params").has("requestState")).isFalse();
        assertThat(forwarded.get("params").has("inputResponses")).isFalse();
        assertThat(forwarded.get("params").get("arguments").get("amount").asInt()).isEqualTo(5000);
        // An expired state is refused even for the right call.
        time.advance(Duration.ofMinutes(16));
        assertThat(held(request(modernCall(7, "pay", "{\"amount\": 5000}", retry), ALICE, headers)).reason())
                .isEqualTo(Reason.INVALID_PARAMS);
    }

    @Test
    void aModernRetryWhoseUserDeclinedEndsTheCallInsteadOfAskingAgain() {
        String[] headers = {"MCP-Protocol-Version", "2026-07-28", "Mcp-Method", "tools/call", "Mcp-Name", "pay"};
        GatewayFailure held = held(request(modernCall(1, "pay", "{\"amount\": 5000}", ""), ALICE, headers));
        String state = (String) held.data().get("requestState");
        for (String action : List.of("decline", "cancel")) {
            GatewayFailure ended = held(request(modernCall(2, "pay", "{\"amount\": 5000}", ",\"requestState\":\"" + state
                    + "\",\"inputResponses\":{\"approval\":{\"action\":\"" + action + "\"}}"), ALICE, headers));
            assertThat(ended.reason()).as(action).isEqualTo(Reason.POLICY_DENIED);
            assertThat(ended.decision().ruleId()).isEqualTo("tools.pay");
        }
    }

    @Test
    void anUpstreamsOwnRequestStatePassesThroughUntouched() {
        String[] headers = {"MCP-Protocol-Version", "2026-07-28", "Mcp-Method", "tools/call", "Mcp-Name", "read"};
        AuthorizedRequest retry = request(modernCall(1, "read", "{}", ",\"requestState\":\"upstream-state\""), ALICE, headers);
        assertThat(passed(retry)).isSameAs(retry);
    }

    @Test
    void withoutAnApprovalPageACallThatNeedsApprovalIsRefusedNeverLetThrough() {
        ApprovalGate none = ApprovalGate.withoutPage();
        AuthorizedRequest pay = request(call(1, "pay", "{\"amount\": 5000}"), ALICE);
        Throwable refused = catchThrowable(() -> none.apply(pay));
        assertThat(refused).isInstanceOfSatisfying(GatewayFailure.class, f -> {
            assertThat(f.reason()).isEqualTo(Reason.POLICY_DENIED);
            assertThat(f.decision().ruleId()).isEqualTo("tools.pay");
        });
        AuthorizedRequest small = request(call(2, "pay", "{\"amount\": 10}"), ALICE);
        assertThat(none.apply(small).value()).isSameAs(small);
    }

    @Test
    void aStoreThatIsDownHoldsTheCallWith503() {
        dev.portcullis.store.ClusterStore down = new dev.portcullis.store.ClusterStore() {
            private <T> java.util.concurrent.CompletableFuture<T> fail() {
                return java.util.concurrent.CompletableFuture.failedFuture(
                        new dev.portcullis.store.StoreUnavailableException("down", null));
            }
            @Override public java.util.concurrent.CompletableFuture<Long> take(String k, long i, long p) { return fail(); }
            @Override public java.util.concurrent.CompletableFuture<Boolean> acquire(String k, long l, String s, Duration t) { return fail(); }
            @Override public void release(String k, String l) {}
            @Override public void refund(String k, long m) {}
            @Override public java.util.concurrent.CompletableFuture<long[]> check(List<dev.portcullis.store.ClusterStore.Take> r, List<dev.portcullis.store.ClusterStore.Acquire> c) { return fail(); }
            @Override public java.util.concurrent.CompletableFuture<Boolean> putIfAbsent(String k, String v, Duration t) { return fail(); }
            @Override public java.util.concurrent.CompletableFuture<Optional<String>> get(String k) { return fail(); }
            @Override public java.util.concurrent.CompletableFuture<Boolean> replace(String k, String e, String v, Duration t) { return fail(); }
            @Override public java.util.concurrent.CompletableFuture<Optional<String>> take(String k) { return fail(); }
            @Override public boolean up() { return false; }
            @Override public String describe() { return "down"; }
            @Override public void close() {}
        };
        ApprovalGate closed = new ApprovalGate(new SharedApprovals(down, time), audit, seal,
                ArgumentLogging.parse("digest", List.of()), "https://approve.example.com", time);
        Step<AuthorizedRequest> step = closed.apply(request(call(1, "pay", "{\"amount\": 5000}"), ALICE));
        Throwable failure = catchThrowable(() -> step.future().join());
        assertThat(failure.getCause()).isInstanceOfSatisfying(GatewayFailure.class,
                f -> assertThat(f.reason()).isEqualTo(Reason.APPROVALS_UNAVAILABLE));
        assertThat(FailureResponses.status(Reason.APPROVALS_UNAVAILABLE)).isEqualTo(503);
    }

    @Test
    void aBatchElementThatNeedsApprovalIsRefusedAndTheRestGoesOn() {
        Route route = StageFixtures.route(policy);
        String body = "[" + call(1, "pay", "{\"amount\": 5000}") + "," + call(2, "read", "{}") + "]";
        byte[] bytes = bytes(body);
        AuthorizedRequest batch = authorize.apply(new InspectedRequest(authenticated(route, post("/mcp"), ALICE), bytes,
                new JsonRpcInspector().inspect(bytes), true));
        AuthorizedRequest after = passed(batch);
        assertThat(after.partialBatch()).isNotNull();
        assertThat(after.partialBatch().refused()).containsOnlyKeys(0);
        assertThat(new String(after.upstreamBody(), StandardCharsets.UTF_8)).doesNotContain("pay").contains("read");
    }

    private static JsonNode readTree(byte[] bytes) {
        try {
            return JSON.readTree(bytes);
        } catch (java.io.IOException e) {
            throw new AssertionError(e);
        }
    }
}
