package dev.portcullis.approval;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.equalTo;
import static com.github.tomakehurst.wiremock.client.WireMock.matching;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.core.WireMockConfiguration;
import com.github.tomakehurst.wiremock.verification.LoggedRequest;
import dev.portcullis.policy.PolicyLoader;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Issue 17: the approval webhook against a real HTTP receiver (WireMock): signed JSON, no argument values, refusals not sent. */
class ApprovalWebhookTest {
    private static final byte[] SECRET = "0123456789abcdef0123456789abcdef-webhook".getBytes(StandardCharsets.UTF_8);
    private final ObjectMapper json = new ObjectMapper();
    private WireMockServer receiver;
    private ApprovalWebhook webhook;

    @BeforeEach
    void start() {
        receiver = new WireMockServer(WireMockConfiguration.options().bindAddress("127.0.0.1").dynamicPort());
        receiver.start();
        receiver.stubFor(post(urlEqualTo("/hooks/approvals")).willReturn(aResponse().withStatus(204)));
        webhook = new ApprovalWebhook(URI.create(receiver.baseUrl() + "/hooks/approvals"), () -> SECRET,
                id -> "https://approvals.example.com/approvals/" + id, Clock.systemUTC());
    }

    @AfterEach
    void stop() {
        receiver.stop();
    }

    private ApprovalRequest request() throws Exception {
        var rule = PolicyLoader.parse("tools:\n  pay:\n    approval: { approvers: { roles: [finance] } }\n", "p.yaml")
                .policy().approvals().of("tools.pay").orElseThrow();
        return ApprovalRequest.pending("AAAAAAAAAAAAAAAAAAAAAA", "b", "payments", "pay", rule,
                new ApprovalRequest.Party("https://idp.example.com", "alice", "agent-1", "Alice"),
                json.readTree("{\"amount\": 5000, \"iban\": \"DE89 3704\"}"), "abc123", System.currentTimeMillis());
    }

    private List<LoggedRequest> delivered(int expected) throws InterruptedException {
        long deadline = System.nanoTime() + 10_000_000_000L;
        List<LoggedRequest> found;
        do {
            found = receiver.findAll(postRequestedFor(urlEqualTo("/hooks/approvals")));
            if (found.size() >= expected) {
                return found;
            }
            Thread.sleep(20);
        } while (System.nanoTime() < deadline);
        return found;
    }

    @Test
    void aRequestIsAnnouncedAsSignedJsonWithoutArgumentValues() throws Exception {
        webhook.record(ApprovalAudit.Action.REQUESTED, request(), null, "held", null);
        List<LoggedRequest> got = delivered(1);
        assertThat(got).hasSize(1);
        LoggedRequest post = got.get(0);
        String timestamp = post.getHeader("X-Portcullis-Timestamp");
        assertThat(Math.abs(Long.parseLong(timestamp) - System.currentTimeMillis() / 1000)).isLessThan(60);
        // The receiver's check: HMAC-SHA256 over timestamp "." raw body, with the shared secret.
        assertThat(post.getHeader("X-Portcullis-Signature"))
                .isEqualTo(ApprovalWebhook.signature(SECRET, timestamp, post.getBody()))
                .isNotEqualTo(ApprovalWebhook.signature("another-secret-another-secret-1234".getBytes(StandardCharsets.UTF_8),
                        timestamp, post.getBody()));
        assertThat(post.getHeader("Content-Type")).startsWith("application/json");
        JsonNode body = json.readTree(post.getBody());
        assertThat(body.get("event").asText()).isEqualTo("approval.requested");
        assertThat(body.get("url").asText()).isEqualTo("https://approvals.example.com/approvals/AAAAAAAAAAAAAAAAAAAAAA");
        assertThat(body.get("tool").asText()).isEqualTo("pay");
        assertThat(body.get("requester").get("subject").asText()).isEqualTo("alice");
        assertThat(body.get("arguments").asText()).isEqualTo("sha256:abc123");
        assertThat(post.getBodyAsString()).doesNotContain("5000").doesNotContain("DE89");
        receiver.verify(1, postRequestedFor(urlEqualTo("/hooks/approvals"))
                .withHeader("X-Portcullis-Event", equalTo("approval.requested"))
                .withHeader("X-Portcullis-Signature", matching("sha256=[0-9a-f]{64}")));
    }

    @Test
    void refusedAttemptsAreAuditedButNotAnnounced() throws Exception {
        ApprovalRequest request = request();
        ApprovalRequest.Party mallory = new ApprovalRequest.Party("https://idp.example.com", "mallory", "", null);
        webhook.record(ApprovalAudit.Action.REFUSED, request, mallory, "not an approver", null);
        webhook.record(ApprovalAudit.Action.DENIED, request, mallory, "denied", "no PO");
        List<LoggedRequest> got = delivered(1);
        Thread.sleep(200);
        got = receiver.findAll(postRequestedFor(urlEqualTo("/hooks/approvals")));
        assertThat(got).hasSize(1);
        JsonNode body = json.readTree(got.get(0).getBody());
        assertThat(body.get("event").asText()).isEqualTo("approval.denied");
        assertThat(body.get("comment").asText()).isEqualTo("no PO");
        assertThat(body.get("approver").get("subject").asText()).isEqualTo("mallory");
    }

    @Test
    void aReceiverThatIsDownChangesNothing() throws Exception {
        receiver.stop();
        webhook.record(ApprovalAudit.Action.REQUESTED, request(), null, "held", null); // logged, not thrown
    }
}
