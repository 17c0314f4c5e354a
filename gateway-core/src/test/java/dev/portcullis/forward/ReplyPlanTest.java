package dev.portcullis.forward;

import static dev.portcullis.StageFixtures.toolCall;
import static dev.portcullis.forward.ReplyFixtures.SESSIONS;
import static dev.portcullis.forward.ReplyFixtures.answer;
import static dev.portcullis.forward.ReplyFixtures.get;
import static dev.portcullis.forward.ReplyFixtures.json;
import static dev.portcullis.forward.ReplyFixtures.modernCall;
import static dev.portcullis.forward.ReplyFixtures.modernHeaders;
import static dev.portcullis.forward.ReplyFixtures.modernListen;
import static dev.portcullis.forward.ReplyFixtures.openRoute;
import static dev.portcullis.forward.ReplyFixtures.policyRoute;
import static dev.portcullis.forward.ReplyFixtures.post;
import static dev.portcullis.forward.ReplyFixtures.sse;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.portcullis.exchange.UpstreamRequest;
import dev.portcullis.failure.Reason;
import dev.portcullis.forward.ReplyPlan.Kind;
import dev.portcullis.route.Route;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The reply plan alone: the request (as authorize and exchange left it) and the upstream's status and headers
 * in, how the answer is relayed out. A pure function: no sockets, no upstream.
 */
class ReplyPlanTest {
    private final ObjectMapper json = new ObjectMapper();

    private static ReplyPlan plan(UpstreamRequest request, io.netty.handler.codec.http.HttpResponse head) {
        return ReplyPlan.of(request, head, true, SESSIONS);
    }

    @Test
    void challenge07AnUpstream401IsRenewedOnceThenRefusedAnd403Never() {
        UpstreamRequest call = post(openRoute(null), toolCall(4, "read_file"));
        ReplyPlan renew = plan(call, answer(401));
        assertThat(renew.kind()).isEqualTo(Kind.DISCARD);
        assertThat(renew.refusal()).as("renew").isNull();
        ReplyPlan refused = ReplyPlan.of(call, answer(401), false, SESSIONS);
        assertThat(refused.kind()).isEqualTo(Kind.DISCARD);
        assertThat(refused.refusal().reason()).isEqualTo(Reason.UPSTREAM_REJECTED_CREDENTIALS);
        assertThat(refused.refusal().jsonRpcId().asInt()).isEqualTo(4);
        assertThat(plan(call, answer(403)).refusal().reason()).isEqualTo(Reason.UPSTREAM_REJECTED_CREDENTIALS);
    }

    @Test
    void policy05EveryJsonAnswerOnAPolicyRouteIsReadWholeAndFiltered(@TempDir Path dir) throws Exception {
        UpstreamRequest call = post(policyRoute(dir, null), toolCall(1, "read_file"));
        for (int status : new int[] {200, 400, 500}) {
            ReplyPlan plan = plan(call, json(status));
            assertThat(plan.kind()).isEqualTo(Kind.WHOLE_BODY);
            assertThat(plan.status()).isEqualTo(status);
            assertThat(plan.names()).containsExactly("list-filter");
            assertThat(plan.lengthChanges()).isTrue();
            assertThat(plan.bodyLimit()).isEqualTo(Forward.MAX_FILTERED_BODY);
        }
        byte[] listed = "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"tools\":[{\"name\":\"read_file\"},{\"name\":\"delete_repo\"}]}}"
                .getBytes(StandardCharsets.UTF_8);
        assertThat(json.readTree(plan(call, json(200)).body(listed)).path("result").path("tools"))
                .extracting(t -> t.path("name").asText()).containsExactly("read_file");
    }

    @Test
    void issue12AnEncodedAnswerOnAPolicyRouteIsNeverRelayed(@TempDir Path dir) throws Exception {
        UpstreamRequest call = post(policyRoute(dir, null), toolCall(1, "read_file"));
        ReplyPlan plan = plan(call, answer(200, "Content-Type", "application/json", "Content-Encoding", "gzip"));
        assertThat(plan.kind()).isEqualTo(Kind.DISCARD);
        assertThat(plan.refusal().reason()).isEqualTo(Reason.UPSTREAM_UNAVAILABLE);
        assertThat(plan(call, answer(200, "Content-Type", "application/json", "Content-Encoding", "identity")).kind())
                .isEqualTo(Kind.WHOLE_BODY);
    }

    @Test
    void withoutAPolicyASmallAnswerGoesInOneWriteAndALargeOneAsItComes() {
        UpstreamRequest call = post(openRoute(null), toolCall(1, "read_file"));
        ReplyPlan small = plan(call, answer(200, "Content-Type", "application/json", "Content-Length", "120"));
        assertThat(small.kind()).isEqualTo(Kind.WHOLE_BODY);
        assertThat(small.transforms()).isEmpty();
        assertThat(small.rewritesBody()).isFalse();
        assertThat(small.bodyLimit()).isEqualTo(Forward.ONE_WRITE_BODY);
        assertThat(plan(call, answer(200, "Content-Type", "application/json",
                "Content-Length", String.valueOf(Forward.ONE_WRITE_BODY + 1))).kind()).isEqualTo(Kind.PASS_THROUGH);
        assertThat(plan(call, json(200)).kind()).as("no length").isEqualTo(Kind.PASS_THROUGH);
    }

    @Test
    void policy07APartialBatchGetsTheGatewaysErrorsMergedOrAloneAfter202(@TempDir Path dir) throws Exception {
        Route route = policyRoute(dir, null);
        UpstreamRequest batch = post(route, "[" + toolCall(1, "read_file") + "," + toolCall(2, "delete_repo") + "]");
        ReplyPlan merged = plan(batch, json(200));
        assertThat(merged.kind()).isEqualTo(Kind.WHOLE_BODY);
        assertThat(merged.names()).containsExactly("batch-answers", "list-filter");
        byte[] upstream = "[{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}]".getBytes(StandardCharsets.UTF_8);
        assertThat(json.readTree(merged.body(upstream))).extracting(m -> m.path("id").asInt()).containsExactly(1, 2);

        ReplyPlan accepted = plan(batch, answer(202));
        assertThat(accepted.status()).isEqualTo(200);
        assertThat(accepted.contentType()).isEqualTo("application/json");
        assertThat(accepted.names()).containsExactly("batch-answers");
        assertThat(json.readTree(accepted.body(new byte[0]))).extracting(m -> m.path("id").asInt()).containsExactly(2);

        ReplyPlan stream = plan(batch, sse(200));
        assertThat(stream.kind()).isEqualTo(Kind.EVENT_STREAM);
        assertThat(stream.names()).containsExactly("batch-answers", "list-filter", "token-lifetime-end");
        assertThat(stream.opening()).extracting(e -> new String(e, StandardCharsets.UTF_8)).singleElement().asString().contains("\"id\":2");
        assertThat(stream.awaited()).extracting(id -> id.asInt()).containsExactly(1, 2);
    }

    @Test
    void v26_29A2026StreamLosesServerRequestsAndAnswersItsRequest() {
        UpstreamRequest call = post(openRoute(null), modernCall(7, "read_file"), modernHeaders("tools/call", "read_file"));
        ReplyPlan plan = plan(call, sse(200));
        assertThat(plan.kind()).isEqualTo(Kind.EVENT_STREAM);
        assertThat(plan.names()).containsExactly("server-request-drop", "token-lifetime-end");
        assertThat(plan.standing()).isFalse();
        assertThat(plan.awaited()).extracting(id -> id.asInt()).containsExactly(7);
        assertThat(plan.framesEvents()).isTrue();
        byte[] request = SseEvents.event("{\"jsonrpc\":\"2.0\",\"id\":\"s1\",\"method\":\"sampling/createMessage\"}");
        byte[] notification = SseEvents.event("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\"}");
        assertThat(plan.event(request)).isEmpty();
        assertThat(plan.event(notification)).isEqualTo(notification);
    }

    @Test
    void v26_20AListenStreamIsStandingTaggedAndNarrowed(@TempDir Path dir) throws Exception {
        UpstreamRequest listen = post(policyRoute(dir, null), modernListen(9), modernHeaders("subscriptions/listen", null));
        ReplyPlan plan = plan(listen, sse(200));
        assertThat(plan.names()).containsExactly("server-request-drop", "list-filter", "subscription-injection",
                "token-lifetime-end");
        assertThat(plan.standing()).isTrue();
        assertThat(plan.awaited()).isEmpty();
        assertThat(plan.step(SubscriptionEvents.class).listChanges()).isTrue();
        assertThat(plan(listen, sse(500)).step(SubscriptionEvents.class).listChanges()).as("no acknowledgment").isFalse();
        UpstreamRequest open = post(openRoute(null), modernListen(9), modernHeaders("subscriptions/listen", null));
        assertThat(plan(open, sse(200)).step(SubscriptionEvents.class).listChanges()).as("nothing can change").isFalse();
    }

    @Test
    void a2025GetStreamIsStandingAndPassesAsItComesWithoutAPolicy() {
        ReplyPlan plan = plan(get(openRoute(null)), sse(200));
        assertThat(plan.names()).containsExactly("token-lifetime-end");
        assertThat(plan.standing()).isTrue();
        assertThat(plan.framesEvents()).isFalse();
        assertThat(plan.lengthChanges()).isFalse();
    }

    @Test
    void transport11The2024CallerStreamHasItsEndpointRewrittenAndItsListsFiltered(@TempDir Path dir) throws Exception {
        ReplyPlan plan = plan(get(policyRoute(dir, "sse")), sse(200));
        assertThat(plan.names()).containsExactly("endpoint-rewrite", "list-filter", "token-lifetime-end");
        assertThat(plan.standing()).as("it answers the POSTed messages").isFalse();
        byte[] endpoint = "event: endpoint\ndata: /tools/message?sessionId=u1\n\n".getBytes(StandardCharsets.UTF_8);
        String rewritten = new String(plan.event(endpoint), StandardCharsets.UTF_8);
        // The upstream's session id and path never reach the client (a sealed id is random base64url: it may hold "u1").
        assertThat(rewritten).startsWith("event: endpoint\ndata: /mcp/messages?sessionId=").doesNotContain("sessionId=u1\n", "/tools/message");
        assertThat(plan(get(openRoute("sse")), sse(200)).names()).as("no policy: nothing to filter")
                .containsExactly("endpoint-rewrite", "token-lifetime-end");
    }

    @Test
    void theSameRequestAndHeadGiveTheSamePlan(@TempDir Path dir) throws Exception {
        UpstreamRequest call = post(policyRoute(dir, null), modernCall(3, "read_file"), modernHeaders("tools/call", "read_file"));
        ReplyPlan first = plan(call, sse(200));
        ReplyPlan second = plan(call, sse(200));
        assertThat(second.kind()).isEqualTo(first.kind());
        assertThat(second.names()).isEqualTo(first.names());
        assertThat(second.awaited()).isEqualTo(first.awaited());
    }
}
