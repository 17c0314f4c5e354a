package dev.portcullis.app;

import static dev.portcullis.app.GatewayHarness.RESOURCE;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.portcullis.testing.McpClients;
import dev.portcullis.testing.TestIdp;
import dev.portcullis.testing.TestMcpServer;
import io.modelcontextprotocol.client.McpSyncClient;
import io.modelcontextprotocol.spec.McpError;
import io.modelcontextprotocol.spec.McpSchema;
import java.net.CookieManager;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Issue 17 end to end, without a browser: a Java MCP SDK client calls approval-gated tools through the gateway;
 * an approver signs in at a real IdP (mock-oauth2-server's interactive login, OpenID Connect code + PKCE) on the
 * approval page and approves. The held call then succeeds exactly once; a replayed approval, an approval for
 * other arguments, an expired one and a self-approval are each refused with zero upstream contacts.
 * {@code ApprovalBrowserTest} drives the same page in headless Chromium.
 */
class ApprovalFlowTest {
    static final String POLICY = """
            default: deny
            tools:
              echo:
                approval:
                  approvers: { roles: [approver] }
                  when: { text: { pattern: "pay .*" } }
              whoami:
                approval:
                  approvers: { roles: [approver] }
                  expires: 3s
            """;
    static final int PAGE_PORT = GatewayHarness.freePort();

    @RegisterExtension
    static final GatewayExtension peers = GatewayExtension.builder().idp(TestIdp::startInteractive).policy(POLICY)
            .config(ApprovalFlowTest::config).build();

    static String config(GatewayExtension ext) {
        return config(ext, PAGE_PORT);
    }

    static String config(GatewayExtension ext, int pagePort) {
        return """
                listen: { host: 127.0.0.1, port: 0, allowed-hosts: [127.0.0.1] }
                admin: { host: 127.0.0.1, port: 0 }
                issuers:
                %s
                routes:
                  - name: payments
                    path: /mcp
                    upstream: %s
                    resource: %s
                    policy: %s
                approvals:
                  listen: { host: 127.0.0.1, port: %d }
                  public-url: http://127.0.0.1:%d
                  issuer: "%s"
                  client-id: portcullis-approvals
                """.formatted(ext.issuerYaml(), ext.upstreamUrl(), RESOURCE, ext.policyFile(), pagePort, pagePort,
                ext.idp().issuer());
    }

    private final TestIdp idp = peers.idp();
    private final TestMcpServer upstream = peers.upstream();
    private final GatewayHarness gw = peers.gateway();
    private static final ObjectMapper JSON = new ObjectMapper();

    private long upstreamCalls(String tool) {
        return upstream.requests().stream().filter(r -> r.body().contains("\"tools/call\"") && r.body().contains("\"" + tool + "\""))
                .count();
    }

    /** The approval URL in a held call's error (-32042 data for 2025-11-25 clients, the message and data otherwise). */
    static String approvalUrl(McpError error) {
        String all = error.getJsonRpcError().message() + " " + JSON.valueToTree(error.getJsonRpcError().data());
        Matcher m = Pattern.compile("http://127\\.0\\.0\\.1:\\d+/approvals/[A-Za-z0-9_-]{22}").matcher(all);
        assertThat(m.find()).as("an approval URL in %s", all).isTrue();
        return m.group();
    }

    static McpError held(McpSyncClient client, String tool, Map<String, Object> arguments) {
        try {
            client.callTool(new McpSchema.CallToolRequest(tool, arguments));
        } catch (McpError e) {
            assertThat(e.getJsonRpcError().code()).as("held for approval").isIn(-32042, -31428);
            return e;
        }
        throw new AssertionError("the call was not held");
    }

    /** An approver's browser, without a browser: follows redirects, keeps cookies, fills the IdP's sign-in form. */
    static final class Approver {
        final CookieManager cookies = new CookieManager();
        /**
         * A connection per request: one full run in three saw a GET on a reused keep-alive connection to the approval
         * page go unanswered for 10 s (cause not found; the real browser of ApprovalBrowserTest has not hung). What this
         * class proves is the approval flow, not connection reuse.
         */
        HttpClient http() {
            return HttpClient.newBuilder().cookieHandler(cookies)
                    .followRedirects(HttpClient.Redirect.NEVER).connectTimeout(Duration.ofSeconds(5)).build();
        }
        final java.util.List<String> hops = new java.util.ArrayList<>();
        /** Every redirect target in full (query included): where the authorization code travels. */
        final java.util.List<URI> locations = new java.util.ArrayList<>();

        /** Sends {@code request} and follows redirects (GET after 302/303), as a browser does. */
        HttpResponse<String> browse(HttpRequest request) throws Exception {
            HttpResponse<String> response = http().send(request, HttpResponse.BodyHandlers.ofString());
            for (int i = 0; i < 10 && response.statusCode() / 100 == 3; i++) {
                URI next = response.uri().resolve(response.headers().firstValue("Location").orElseThrow());
                hops.add(response.statusCode() + " -> " + next.getScheme() + "://" + next.getAuthority() + next.getPath());
                locations.add(next);
                response = http().send(HttpRequest.newBuilder(next).timeout(Duration.ofSeconds(10)).GET().build(),
                        HttpResponse.BodyHandlers.ofString());
            }
            return response;
        }

        /** Opens the approval URL; signs in as {@code subject} with {@code claims} when the IdP asks. Returns the page. */
        HttpResponse<String> open(String url, String subject, String claims) throws Exception {
            HttpResponse<String> first = browse(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(10)).GET().build());
            if (!first.body().contains("name=\"username\"")) {
                return first; // signed in already
            }
            // mock-oauth2-server's sign-in form posts to the authorization URL it is on.
            String form = "username=" + URLEncoder.encode(subject, StandardCharsets.UTF_8) + "&claims="
                    + URLEncoder.encode(claims, StandardCharsets.UTF_8);
            return browse(HttpRequest.newBuilder(first.uri()).timeout(Duration.ofSeconds(10))
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .POST(HttpRequest.BodyPublishers.ofString(form)).build());
        }

        /** Approves or denies on the page at {@code url} (already signed in); returns the page after. */
        HttpResponse<String> decide(String url, boolean approve, String comment) throws Exception {
            HttpResponse<String> page = browse(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(10)).GET().build());
            Matcher csrf = Pattern.compile("name=\"csrf\" value=\"([^\"]+)\"").matcher(page.body());
            assertThat(csrf.find()).as("the form on %s after %s", page.body(), hops).isTrue();
            String form = "csrf=" + csrf.group(1) + "&action=" + (approve ? "approve" : "deny") + "&comment="
                    + URLEncoder.encode(comment, StandardCharsets.UTF_8);
            URI origin = URI.create(url);
            return browse(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(10))
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .header("Origin", origin.getScheme() + "://" + origin.getAuthority())
                    .POST(HttpRequest.BodyPublishers.ofString(form)).build());
        }
    }

    private McpSyncClient agent() {
        McpSyncClient client = McpClients.streamable(gw.baseUrl(), "/mcp", idp.accessToken(RESOURCE, "mcp:tools"));
        client.initialize();
        return client;
    }

    @Test
    void anApprovedCallSucceedsExactlyOnceAndAReplayIsHeldAgain() throws Exception {
        try (McpSyncClient client = agent()) {
            McpError first = held(client, "echo", Map.of("text", "pay 5000 to acme"));
            String url = approvalUrl(first);
            assertThat(upstreamCalls("echo")).isZero();
            // A call the rule does not hold goes straight through.
            assertThat(McpClients.text(client.callTool(new McpSchema.CallToolRequest("echo", Map.of("text", "hello")))))
                    .contains("hello");

            Approver bob = new Approver();
            HttpResponse<String> page = bob.open(url, "bob", "{\"roles\": [\"approver\"], \"preferred_username\": \"bob\"}");
            assertThat(page.statusCode()).as("%s %s after %s", page.uri(), page.body(), bob.hops).isEqualTo(200);
            assertThat(page.body()).contains("pay 5000 to acme").contains(TestIdp.SUBJECT).contains(TestIdp.CLIENT_ID)
                    .contains("<code>echo</code>").contains("Signed in as bob");
            HttpResponse<String> done = bob.decide(url, true, "fine");
            assertThat(done.uri().getQuery()).isEqualTo("done=approved");

            McpSchema.CallToolResult result = client.callTool(new McpSchema.CallToolRequest("echo", Map.of("text", "pay 5000 to acme")));
            assertThat(McpClients.text(result)).contains("pay 5000 to acme");
            assertThat(upstreamCalls("echo")).isEqualTo(2); // "hello" and the approved call, once

            // Replayed approval: the same call again is held with a new request, and the upstream is not contacted.
            String again = approvalUrl(held(client, "echo", Map.of("text", "pay 5000 to acme")));
            assertThat(again).isNotEqualTo(url);
            assertThat(upstreamCalls("echo")).isEqualTo(2);
        }
    }

    /**
     * SECURITY-05 on the approval page (issue 17): a whole sign-in and approval, with the gateway logging at DEBUG, and no
     * log line holds the authorization code, the page's session or login cookies, its CSRF token or the agent's token.
     */
    @Test
    void theSignInAndApprovalLogNoCodeCookieCsrfTokenOrBearerToken() throws Exception {
        ch.qos.logback.classic.Logger portcullis = (ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger("dev.portcullis");
        ch.qos.logback.classic.Level level = portcullis.getLevel();
        portcullis.setLevel(ch.qos.logback.classic.Level.DEBUG);
        int linesBefore = CapturingAppender.lines().size();
        java.util.List<String> secrets = new java.util.ArrayList<>();
        String token = idp.accessToken(RESOURCE, "mcp:tools");
        secrets.add(token.substring(token.lastIndexOf('.') + 1));
        try (McpSyncClient client = McpClients.streamable(gw.baseUrl(), "/mcp", token)) {
            client.initialize();
            String url = approvalUrl(held(client, "echo", Map.of("text", "pay 7 to acme")));
            Approver bob = new Approver();
            HttpResponse<String> page = bob.open(url, "bob", "{\"roles\": [\"approver\"]}");
            assertThat(page.statusCode()).isEqualTo(200);
            Matcher csrf = Pattern.compile("name=\"csrf\" value=\"([^\"]+)\"").matcher(page.body());
            assertThat(csrf.find()).isTrue();
            secrets.add(csrf.group(1));
            assertThat(bob.decide(url, true, "ok").uri().getQuery()).isEqualTo("done=approved");
            java.util.List<String> codes = new java.util.ArrayList<>();
            for (URI location : bob.locations) {
                Matcher code = Pattern.compile("(?:^|&)code=([^&]+)").matcher(String.valueOf(location.getRawQuery()));
                if (code.find()) {
                    codes.add(java.net.URLDecoder.decode(code.group(1), StandardCharsets.UTF_8));
                }
            }
            assertThat(codes).as("the authorization code on its way back to the page: %s", bob.hops).isNotEmpty();
            secrets.addAll(codes);
            java.util.List<String> cookies = bob.cookies.getCookieStore().getCookies().stream()
                    .map(java.net.HttpCookie::getValue).toList();
            assertThat(cookies).as("the page's session cookie").isNotEmpty();
            secrets.addAll(cookies);
            assertThat(McpClients.text(client.callTool(new McpSchema.CallToolRequest("echo", Map.of("text", "pay 7 to acme")))))
                    .contains("pay 7 to acme");
        } finally {
            portcullis.setLevel(level);
        }
        java.util.List<String> lines = CapturingAppender.lines().subList(linesBefore, CapturingAppender.lines().size()).stream()
                .filter(line -> line.startsWith("dev.portcullis") || line.startsWith("portcullis."))
                .toList();
        assertThat(secrets).as("an authorization code, cookies, a CSRF token and the token's signature were seen")
                .hasSizeGreaterThanOrEqualTo(4).allSatisfy(secret -> assertThat(secret).hasSizeGreaterThan(8));
        assertThat(lines).as("the gateway logged the flow").isNotEmpty();
        for (String secret : secrets) {
            assertThat(lines).noneMatch(line -> line.contains(secret));
        }
    }

    @Test
    void anApprovalForOtherArgumentsDoesNotPass() throws Exception {
        try (McpSyncClient client = agent()) {
            long before = upstreamCalls("echo");
            String url = approvalUrl(held(client, "echo", Map.of("text", "pay 10 to alice")));
            Approver bob = new Approver();
            bob.open(url, "bob", "{\"roles\": [\"approver\"]}");
            assertThat(bob.decide(url, true, "").uri().getQuery()).isEqualTo("done=approved");
            held(client, "echo", Map.of("text", "pay 10000 to mallory"));
            assertThat(upstreamCalls("echo")).isEqualTo(before);
        }
    }

    @Test
    void anExpiredApprovalIsRefused() throws Exception {
        try (McpSyncClient client = agent()) {
            String url = approvalUrl(held(client, "whoami", Map.of()));
            Approver bob = new Approver();
            bob.open(url, "bob", "{\"roles\": [\"approver\"]}");
            assertThat(bob.decide(url, true, "").uri().getQuery()).isEqualTo("done=approved");
            Thread.sleep(3_500); // whoami's approvals expire after 3 s
            String next = approvalUrl(held(client, "whoami", Map.of()));
            assertThat(next).isNotEqualTo(url);
            assertThat(upstreamCalls("whoami")).isZero();
        }
    }

    @Test
    void theRequesterCannotApproveItsOwnCall() throws Exception {
        try (McpSyncClient client = agent()) {
            long before = upstreamCalls("echo");
            String url = approvalUrl(held(client, "echo", Map.of("text", "pay 99 to me")));
            Approver self = new Approver(); // the caller's own subject, even with the approver role
            HttpResponse<String> page = self.open(url, TestIdp.SUBJECT, "{\"roles\": [\"approver\"]}");
            assertThat(page.body()).contains("someone else must approve it");
            assertThat(self.decide(url, true, "").uri().getQuery()).isEqualTo("done=self_approval");
            held(client, "echo", Map.of("text", "pay 99 to me"));
            // Someone without the role cannot either.
            Approver carol = new Approver();
            carol.open(url, "carol", "{\"roles\": [\"sales\"]}");
            assertThat(carol.decide(url, true, "").uri().getQuery()).isEqualTo("done=not_an_approver");
            held(client, "echo", Map.of("text", "pay 99 to me"));
            assertThat(upstreamCalls("echo")).isEqualTo(before);
        }
    }
}
