package dev.portcullis.app;

import static dev.portcullis.app.NodeProcesses.OUT_DIR;
import static dev.portcullis.app.NodeProcesses.TEST_DIR;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.portcullis.testing.TestIdp;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Issue 17 with the official TypeScript SDK v2 client ({@code @modelcontextprotocol/client} 2.x, 2026-07-28) in
 * front of a TypeScript SDK v2 server: the gateway holds the call with an {@code input_required} result; the SDK's
 * multi-round-trip driver hands the URL elicitation to the client's handler, which waits while an approver signs
 * in at the IdP and approves on the page; the driver's retry (with the gateway's sealed {@code requestState})
 * succeeds, reaching the server exactly once. The identical call again is held anew (single use). The Node side is
 * {@code src/test/node-v2/client-v2-approval.mjs}.
 */
@Tag("interop")
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class TypeScriptV2ApprovalTest {
    private static final Path NODE_DIR = TEST_DIR.resolve("node-v2");
    private static final String SCOPE = "mcp:tools";

    @RegisterExtension
    static final GatewayExtension peers = GatewayExtension.builder().idp(TestIdp::startInteractive).noUpstream().noGateway()
            .build();
    private static String node;
    private static Process server;
    private static Path serverLog;
    private static String resource;

    @BeforeAll
    static void startPeers() throws Exception {
        NodeProcesses.requireInstalled(NODE_DIR, "@modelcontextprotocol/client", "@modelcontextprotocol/server");
        node = NodeProcesses.findNode();
        Files.createDirectories(OUT_DIR);
        int upstreamPort = NodeProcesses.freePort();
        String upstreamUrl = "http://127.0.0.1:" + upstreamPort + "/mcp";
        serverLog = OUT_DIR.resolve("server-v2-approval.log");
        server = NodeProcesses.start(List.of(node, "server-v2.mjs", Integer.toString(upstreamPort)), NODE_DIR, Map.of(),
                serverLog, "MCP v2 server listening on " + upstreamUrl, Duration.ofSeconds(30));
        int gatewayPort = NodeProcesses.freePort();
        int pagePort = NodeProcesses.freePort();
        resource = "http://127.0.0.1:" + gatewayPort + "/mcp";
        Path policy = Files.writeString(OUT_DIR.resolve("v2-approval-policy.yaml"), """
                default: allow
                tools:
                  echo:
                    approval:
                      approvers: { roles: [approver] }
                      when: { message: { pattern: "pay .*" } }
                """);
        peers.startGatewayYaml("""
                listen: { host: 127.0.0.1, port: %d }
                admin:  { host: 127.0.0.1, port: 0 }
                issuers:
                %s
                routes:
                  - name: v2
                    path: /mcp
                    upstream: "%s"
                    resource: "%s"
                    scopes: ["%s"]
                    policy: "%s"
                approvals:
                  listen: { host: 127.0.0.1, port: %d }
                  public-url: http://127.0.0.1:%d
                  issuer: "%s"
                  client-id: portcullis-approvals
                """.formatted(gatewayPort, peers.issuerYaml(), upstreamUrl, resource, SCOPE, policy.toAbsolutePath(),
                pagePort, pagePort, peers.idp().issuer()));
    }

    @AfterAll
    static void stopPeers() {
        NodeProcesses.stop(server);
    }

    private static long upstreamEchoCalls() throws Exception {
        return NodeProcesses.jsonLines(Files.readString(serverLog, StandardCharsets.UTF_8)).stream()
                .filter(r -> r.has("request")).map(r -> r.get("request"))
                .filter(r -> r.path("rpc").asText().equals("tools/call")).count();
    }

    @Test
    void theSdkV2DriverWaitsForTheApprovalAndItsRetrySucceedsOnce() throws Exception {
        Path urlFile = OUT_DIR.resolve("v2-approval-url.txt");
        Path approvedFile = OUT_DIR.resolve("v2-approval-approved");
        Files.deleteIfExists(urlFile);
        Files.deleteIfExists(approvedFile);
        Map<String, String> env = new LinkedHashMap<>();
        env.put("MCP_URL", resource);
        env.put("MCP_TOKEN", peers.idp().accessToken(resource, SCOPE));
        env.put("URL_FILE", urlFile.toString());
        env.put("APPROVED_FILE", approvedFile.toString());
        CompletableFuture<NodeProcesses.Run> client = CompletableFuture.supplyAsync(() -> {
            try {
                return NodeProcesses.run("client-v2-approval", List.of(node, "client-v2-approval.mjs"), NODE_DIR, env,
                        Duration.ofSeconds(120), () -> "--- server-v2 (tail) ---\n" + NodeProcesses.tailOf(serverLog));
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!Files.exists(urlFile) && System.nanoTime() < deadline && !client.isDone()) {
            Thread.sleep(100);
        }
        assertThat(urlFile).as("the client was given the approval URL").exists();
        assertThat(upstreamEchoCalls()).as("held: the server was not called").isZero();
        String url = Files.readString(urlFile).strip();
        ApprovalFlowTest.Approver bob = new ApprovalFlowTest.Approver();
        bob.open(url, "bob", "{\"roles\": [\"approver\"]}");
        assertThat(bob.decide(url, true, "ok").uri().getQuery()).isEqualTo("done=approved");
        Files.writeString(approvedFile, "yes");

        NodeProcesses.Run run = client.get(120, TimeUnit.SECONDS);
        assertThat(run.exitCode()).as(run::diagnostics).isZero();
        JsonNode elicitation = run.first("elicitation");
        assertThat(elicitation.path("mode").asText()).as(run::diagnostics).isEqualTo("url");
        assertThat(elicitation.path("url").asText()).isEqualTo(url);
        assertThat(run.first("call").path("text").asText()).as(run::diagnostics).contains("pay 9000 to acme");
        // Single use: the identical call again is held with a new request; the handler declines it, and the
        // gateway ends the call at once (-31403) rather than asking again until the driver gives up.
        assertThat(run.first("replay").path("outcome").asText()).as(run::diagnostics).isEqualTo("failed");
        assertThat(run.first("replay").path("message").asText()).as(run::diagnostics).contains("Denied by gateway policy");
        assertThat(run.all("elicitation")).as(run::diagnostics).hasSize(2);
        assertThat(run.all("elicitation").get(1).path("url").asText()).isNotEqualTo(url);
        assertThat(upstreamEchoCalls()).as("exactly the approved call reached the server").isEqualTo(1);
    }
}
