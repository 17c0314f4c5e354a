package dev.portcullis.app.approvals;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.benmanes.caffeine.cache.Ticker;
import dev.portcullis.approval.ApprovalAudit;
import dev.portcullis.approval.ApprovalRequest;
import dev.portcullis.approval.SharedApprovals;
import dev.portcullis.config.ApprovalsConfig;
import dev.portcullis.policy.PolicyLoader;
import dev.portcullis.store.MemoryStore;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

/**
 * Issue 17: the approval page without sockets: sign-in (state, PKCE S256, login cookie against login CSRF),
 * the page (escaped, masked, strict CSP), and the form (CSRF token, same origin, self-approval and non-approvers
 * refused, every decision audited). The IdP here is a stand-in; {@code ApprovalFlowTest} signs in at a real one.
 */
class ApprovalPagesTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final MemoryStore memory = new MemoryStore();
    private final SharedApprovals store = new SharedApprovals(memory, Clock.systemUTC());
    private final List<String> audited = new ArrayList<>();
    private final ApprovalAudit audit = new ApprovalAudit() {
        @Override
        public void record(Action action, ApprovalRequest request, ApprovalRequest.Party approver, String reason, String comment) {
            audited.add(action.eventName() + (approver == null ? "" : " by " + approver.subject()) + (reason == null ? "" : ": " + reason));
        }
    };
    private final ApprovalsConfig config = new ApprovalsConfig(null, "https://gw.example.com/ops", "https://idp.example.com",
            "approvals", null, null);
    /** The stand-in IdP: the last authorization request, and who each code signs in. */
    private final Map<String, String> authorizeQuery = new HashMap<>();
    private final Map<String, ApproverLogin.Approver> codes = new HashMap<>();
    private final ApproverLogin login = new ApproverLogin() {
        private String challenge;
        private String nonce;

        @Override
        public CompletableFuture<URI> authorizationUrl(String state, String nonce, String codeChallenge) {
            this.challenge = codeChallenge;
            this.nonce = nonce;
            authorizeQuery.put("state", state);
            return CompletableFuture.completedFuture(URI.create("https://idp.example.com/authorize?state=" + state
                    + "&code_challenge=" + codeChallenge + "&code_challenge_method=S256"));
        }

        @Override
        public CompletableFuture<Approver> redeem(String code, String codeVerifier, String nonce) {
            // As a real IdP: the verifier must hash to the challenge, and the nonce is the one sent.
            if (!ApprovalPages.challenge(codeVerifier).equals(challenge) || !nonce.equals(this.nonce) || !codes.containsKey(code)) {
                return CompletableFuture.failedFuture(new IllegalStateException("invalid_grant"));
            }
            return CompletableFuture.completedFuture(codes.remove(code));
        }
    };
    private final ApprovalPages pages = new ApprovalPages(config, store, audit, login, Clock.systemUTC(), Ticker.systemTicker());

    private static ApproverLogin.Approver approver(String subject, String... roles) {
        return new ApproverLogin.Approver(new ApprovalRequest.Party("https://idp.example.com", subject, "", subject + "@corp"),
                JSON.valueToTree(Map.of("sub", subject, "roles", List.of(roles))), System.currentTimeMillis() + 3_600_000);
    }

    private ApprovalRequest held(String arguments) throws Exception {
        var rule = PolicyLoader.parse("""
                tools:
                  pay:
                    approval: { approvers: { roles: [finance] }, mask: [card] }
                """, "p.yaml").policy().approvals().of("tools.pay").orElseThrow();
        var args = JSON.readTree(arguments);
        var masked = new dev.portcullis.audit.ArgumentLogging(dev.portcullis.audit.ArgumentLogging.Mode.DIGEST, List.of())
                .masked(args, rule.mask());
        ApprovalRequest request = ApprovalRequest.pending("AAAAAAAAAAAAAAAAAAAAAA", "binding-1", "payments", "pay", rule,
                new ApprovalRequest.Party("https://idp.example.com", "alice", "agent-<b>1</b>", "Alice"), masked,
                "0123456789abcdef0123", System.currentTimeMillis());
        return store.create(request).join();
    }

    private ApprovalPages.PageResponse send(String method, String pathAndQuery, Map<String, String> cookies, String origin,
                                            Map<String, String> form) {
        URI uri = URI.create(pathAndQuery);
        Map<String, String> query = new HashMap<>();
        if (uri.getRawQuery() != null) {
            for (String pair : uri.getRawQuery().split("&")) {
                String[] kv = pair.split("=", 2);
                query.put(kv[0], URLDecoder.decode(kv.length > 1 ? kv[1] : "", StandardCharsets.UTF_8));
            }
        }
        return pages.handle(new ApprovalPages.PageRequest(method, uri.getRawPath(), query, cookies, origin, form)).join();
    }

    private static String cookieValue(ApprovalPages.PageResponse response, String name) {
        return response.cookies().stream().filter(c -> c.startsWith(name + "=")).findFirst()
                .map(c -> c.substring(name.length() + 1, c.indexOf(';'))).orElse(null);
    }

    /** Signs {@code who} in through the page's flow; returns the browser's cookies. */
    private Map<String, String> signIn(String id, ApproverLogin.Approver who) {
        ApprovalPages.PageResponse start = send("GET", "/ops/approvals/" + id, Map.of(), null, Map.of());
        assertThat(start.status()).isEqualTo(302);
        String browser = cookieValue(start, ApprovalPages.LOGIN_COOKIE);
        codes.put("code-1", who);
        ApprovalPages.PageResponse back = send("GET", "/ops/approvals/callback?code=code-1&state=" + authorizeQuery.get("state"),
                Map.of(ApprovalPages.LOGIN_COOKIE, browser), null, Map.of());
        assertThat(back.status()).isEqualTo(303);
        assertThat(back.headers().get("Location")).isEqualTo("/ops/approvals/" + id);
        return Map.of(ApprovalPages.SESSION_COOKIE, cookieValue(back, ApprovalPages.SESSION_COOKIE));
    }

    private static String csrfOf(ApprovalPages.PageResponse page) {
        String html = page.text();
        int at = html.indexOf("name=\"csrf\" value=\"") + "name=\"csrf\" value=\"".length();
        return html.substring(at, html.indexOf('"', at));
    }

    @Test
    void withoutASessionThePageStartsASignInWithStateAndPkce() throws Exception {
        ApprovalRequest request = held("{\"amount\": 5000}");
        ApprovalPages.PageResponse start = send("GET", "/ops/approvals/" + request.id(), Map.of(), null, Map.of());
        assertThat(start.status()).isEqualTo(302);
        assertThat(start.headers().get("Location")).startsWith("https://idp.example.com/authorize?state=")
                .contains("code_challenge_method=S256");
        String cookie = start.cookies().get(0);
        assertThat(cookie).startsWith(ApprovalPages.LOGIN_COOKIE + "=").contains("HttpOnly").contains("SameSite=Lax")
                .contains("Secure").contains("Path=/ops/approvals");
        assertThat(start.text()).doesNotContain("5000");
    }

    @Test
    void atTheRootOfItsOriginTheCookiesCoverTheApprovalPaths() throws Exception {
        // Regression: a public-url without a path gave "Path=//approvals", which no browser sends back.
        ApprovalPages root = new ApprovalPages(new ApprovalsConfig(null, "http://127.0.0.1:8444", "https://idp.example.com",
                "approvals", null, null), store, audit, login, Clock.systemUTC(), Ticker.systemTicker());
        ApprovalRequest request = held("{\"amount\": 5000}");
        var start = root.handle(new ApprovalPages.PageRequest("GET", "/approvals/" + request.id(), Map.of(), Map.of(), null,
                Map.of())).join();
        assertThat(start.cookies().get(0)).contains("; Path=/approvals;").doesNotContain("Secure");
    }

    @Test
    void aCallbackThisBrowserDidNotStartIsRefused() throws Exception {
        ApprovalRequest request = held("{\"amount\": 5000}");
        send("GET", "/ops/approvals/" + request.id(), Map.of(), null, Map.of());
        codes.put("code-1", approver("bob", "finance"));
        // Login CSRF: an attacker's own code and state, delivered to a victim's browser without the login cookie.
        var foreign = send("GET", "/ops/approvals/callback?code=code-1&state=" + authorizeQuery.get("state"),
                Map.of(ApprovalPages.LOGIN_COOKIE, "someone-elses"), null, Map.of());
        assertThat(foreign.status()).isEqualTo(400);
        assertThat(foreign.cookies()).isEmpty();
        assertThat(send("GET", "/ops/approvals/callback?code=code-1&state=made-up", Map.of(), null, Map.of()).status())
                .isEqualTo(400);
    }

    @Test
    void aStateIsUsedOnce() throws Exception {
        ApprovalRequest request = held("{\"amount\": 5000}");
        ApprovalPages.PageResponse start = send("GET", "/ops/approvals/" + request.id(), Map.of(), null, Map.of());
        String browser = cookieValue(start, ApprovalPages.LOGIN_COOKIE);
        codes.put("code-1", approver("bob", "finance"));
        String callback = "/ops/approvals/callback?code=code-1&state=" + authorizeQuery.get("state");
        assertThat(send("GET", callback, Map.of(ApprovalPages.LOGIN_COOKIE, browser), null, Map.of()).status()).isEqualTo(303);
        codes.put("code-1", approver("bob", "finance"));
        assertThat(send("GET", callback, Map.of(ApprovalPages.LOGIN_COOKIE, browser), null, Map.of()).status()).isEqualTo(400);
    }

    @Test
    void thePageShowsTheCallEscapedAndMaskedUnderAStrictPolicy() throws Exception {
        ApprovalRequest request = held("{\"amount\": 5000, \"memo\": \"<script>alert(1)</script>\", \"card\": \"4111 1111\"}");
        Map<String, String> cookies = signIn(request.id(), approver("bob", "finance"));
        ApprovalPages.PageResponse page = send("GET", "/ops/approvals/" + request.id(), cookies, null, Map.of());
        assertThat(page.status()).isEqualTo(200);
        String html = page.text();
        assertThat(html).contains("&lt;script&gt;alert(1)&lt;/script&gt;").doesNotContain("<script>")
                .doesNotContain("4111").contains("[redacted]")
                .contains("Alice").contains("agent-&lt;b&gt;1&lt;/b&gt;").contains("<code>pay</code>")
                .contains("tools.pay").contains("Signed in as bob@corp").contains("Approve this call");
        assertThat(page.headers().get("Content-Security-Policy")).contains("default-src 'none'").doesNotContain("script-src");
        assertThat(page.headers()).containsEntry("Cache-Control", "no-store").containsEntry("X-Frame-Options", "DENY")
                // Regression (ApprovalBrowserTest): with no-referrer, Chromium posts the form with "Origin: null".
                .containsEntry("Referrer-Policy", "same-origin");
    }

    @Test
    void anApproverApprovesWithACommentAndTheDecisionIsAudited() throws Exception {
        ApprovalRequest request = held("{\"amount\": 5000}");
        Map<String, String> cookies = signIn(request.id(), approver("bob", "finance"));
        String csrf = csrfOf(send("GET", "/ops/approvals/" + request.id(), cookies, null, Map.of()));
        var done = send("POST", "/ops/approvals/" + request.id(), cookies, "https://gw.example.com",
                Map.of("csrf", csrf, "action", "approve", "comment", "ok for Q3"));
        assertThat(done.status()).isEqualTo(303);
        assertThat(done.headers().get("Location")).isEqualTo("/ops/approvals/" + request.id() + "?done=approved");
        ApprovalRequest after = store.find(request.id()).join().orElseThrow();
        assertThat(after.status()).isEqualTo(ApprovalRequest.Status.APPROVED);
        assertThat(after.decisions().get(0).comment()).isEqualTo("ok for Q3");
        assertThat(audited).containsExactly("approval.approved by bob: approved");
        assertThat(send("GET", "/ops/approvals/" + request.id() + "?done=approved", cookies, null, Map.of()).text())
                .contains("Approved.").doesNotContain("Approve this call");
    }

    @Test
    void theFormNeedsItsCsrfTokenAndTheSameOrigin() throws Exception {
        ApprovalRequest request = held("{\"amount\": 5000}");
        Map<String, String> cookies = signIn(request.id(), approver("bob", "finance"));
        String csrf = csrfOf(send("GET", "/ops/approvals/" + request.id(), cookies, null, Map.of()));
        assertThat(send("POST", "/ops/approvals/" + request.id(), cookies, "https://gw.example.com",
                Map.of("action", "approve")).status()).isEqualTo(403);
        assertThat(send("POST", "/ops/approvals/" + request.id(), cookies, "https://gw.example.com",
                Map.of("csrf", csrf + "x", "action", "approve")).status()).isEqualTo(403);
        assertThat(send("POST", "/ops/approvals/" + request.id(), cookies, "https://evil.example",
                Map.of("csrf", csrf, "action", "approve")).status()).isEqualTo(403);
        // Without a session, a POST changes nothing and leads to the sign-in.
        assertThat(send("POST", "/ops/approvals/" + request.id(), Map.of(), "https://gw.example.com",
                Map.of("csrf", csrf, "action", "approve")).status()).isEqualTo(303);
        assertThat(store.find(request.id()).join().orElseThrow().status()).isEqualTo(ApprovalRequest.Status.PENDING);
        assertThat(audited).isEmpty();
    }

    @Test
    void theRequesterAndNonApproversAreRefusedAndAudited() throws Exception {
        ApprovalRequest request = held("{\"amount\": 5000}");
        Map<String, String> alice = signIn(request.id(), approver("alice", "finance"));
        ApprovalPages.PageResponse page = send("GET", "/ops/approvals/" + request.id(), alice, null, Map.of());
        assertThat(page.text()).contains("someone else must approve it");
        var self = send("POST", "/ops/approvals/" + request.id(), alice, "https://gw.example.com",
                Map.of("csrf", csrfOf(page), "action", "approve"));
        assertThat(self.headers().get("Location")).endsWith("?done=self_approval");
        Map<String, String> carol = signIn(request.id(), approver("carol", "sales"));
        var other = send("POST", "/ops/approvals/" + request.id(), carol, "https://gw.example.com",
                Map.of("csrf", csrfOf(send("GET", "/ops/approvals/" + request.id(), carol, null, Map.of())), "action", "approve"));
        assertThat(other.headers().get("Location")).endsWith("?done=not_an_approver");
        assertThat(store.find(request.id()).join().orElseThrow().status()).isEqualTo(ApprovalRequest.Status.PENDING);
        assertThat(audited).containsExactly(
                "approval.refused by alice: self-approval: the requester may not approve its own call",
                "approval.refused by carol: not an approver: none of the approver roles or groups");
    }

    @Test
    void unknownIdsAndPathsAreNotFound() throws Exception {
        Map<String, String> cookies = signIn("BBBBBBBBBBBBBBBBBBBBBB", approver("bob", "finance"));
        assertThat(send("GET", "/ops/approvals/BBBBBBBBBBBBBBBBBBBBBB", cookies, null, Map.of()).status()).isEqualTo(404);
        assertThat(send("GET", "/ops/approvals/../admin", cookies, null, Map.of()).status()).isEqualTo(404);
        assertThat(send("GET", "/elsewhere", cookies, null, Map.of()).status()).isEqualTo(404);
        assertThat(send("GET", "/ops/approvals/static/style.css", Map.of(), null, Map.of()).headers().get("Content-Type"))
                .startsWith("text/css");
    }
}
