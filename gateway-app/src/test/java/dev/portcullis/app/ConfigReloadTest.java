package dev.portcullis.app;

import static org.assertj.core.api.Assertions.assertThat;

import dev.portcullis.app.config.ConfigLoader;
import dev.portcullis.testing.TestIdp;
import dev.portcullis.testing.TestMcpServer;
import io.netty.pkitesting.CertificateBuilder;
import io.netty.pkitesting.X509Bundle;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.condition.DisabledOnOs;
import org.junit.jupiter.api.condition.OS;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 14, reload: {@code gateway.yaml} re-read on SIGHUP and by the file watch, on real processes. What may
 * change live is swapped at once; a bad edit or a change to what cannot change live keeps the config in
 * force, says so once (log line, metrics, {@code /readyz} detail) and the gateway keeps serving.
 */
@DisabledOnOs(OS.WINDOWS)
class ConfigReloadTest {
    private static final String ALLOW_ECHO_ONLY = """
            default: deny
            tools:
              echo: {}
            """;
    private static TestIdp idp;
    private static TestMcpServer first;
    private static TestMcpServer second;

    @TempDir
    Path dir;

    @BeforeAll
    static void peers() {
        idp = TestIdp.start();
        first = TestMcpServer.start();
        second = TestMcpServer.start();
    }

    @AfterAll
    static void stopPeers() {
        if (first != null) first.close();
        if (second != null) second.close();
        if (idp != null) idp.close();
    }

    @Test
    @Timeout(value = 120, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void sighupSwapsARoutesPolicyAndUpstream() throws Exception {
        Path config = dir.resolve("gateway.yaml");
        Files.writeString(dir.resolve("policy.yaml"), ALLOW_ECHO_ONLY);
        int port = NodeProcesses.freePort();
        int admin = NodeProcesses.freePort();
        Files.writeString(config, yaml(port, admin, first.url(), ""));
        try (GatewayProcess gw = GatewayProcess.start(config).awaitReady(60)) {
            int before = first.requests().size();
            // No policy: any authenticated call (whoami sees no bearer: the caller's token never goes upstream).
            assertThat(call(gw, "/mcp", "whoami")).contains("\"text\":\"none\"").doesNotContain("-31403");
            assertThat(first.requests().size()).isGreaterThan(before);

            // The route now has a policy (whoami denied) and another upstream.
            Files.writeString(config, yaml(port, admin, second.url(), "policy: " + dir.resolve("policy.yaml")));
            int lines = gw.output.size();
            int firstSeen = first.requests().size();
            int secondSeen = second.requests().size();
            gw.signal("HUP");
            gw.awaitFrom(lines, Pattern.compile("config .* reloaded \\(SIGHUP\\)"), 20);
            // The policy is in force: a tool it does not allow is hidden, so it is unknown (JSONRPC-08b).
            assertThat(call(gw, "/mcp", "whoami")).contains("Unknown tool: whoami");
            assertThat(call(gw, "/mcp", "echo")).contains("reloaded");
            assertThat(second.requests().size()).isGreaterThan(secondSeen);
            assertThat(first.requests().size()).isEqualTo(firstSeen);
            assertThat(gw.metrics()).contains("portcullis_config_reload_total{result=\"ok\"} 1.0", "portcullis_config_stale 0.0");
        }
    }

    @Test
    @Timeout(value = 120, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void aBadEditKeepsTheConfigInForceAndSaysSoOnce() throws Exception {
        Path config = dir.resolve("gateway.yaml");
        int port = NodeProcesses.freePort();
        int admin = NodeProcesses.freePort();
        String good = yaml(port, admin, first.url(), "");
        Files.writeString(config, good);
        try (GatewayProcess gw = GatewayProcess.start(config).awaitReady(60)) {
            int lines = gw.output.size();
            // No SIGHUP: the file watch finds the edit. The route's upstream is no URL.
            Files.writeString(config, good.replace("upstream: " + first.url(), "upstream: not a url"));
            gw.awaitFrom(lines, Pattern.compile("config reload \\(file change\\) failed: keeping the last good config"), 20);
            int firstSeen = first.requests().size();
            assertThat(call(gw, "/mcp", "echo")).contains("reloaded"); // still served, by the last good config
            assertThat(first.requests().size()).isGreaterThan(firstSeen);
            HttpResponse<String> ready = gw.readyz();
            assertThat(ready.statusCode()).isEqualTo(200);
            assertThat(ready.body()).startsWith("ready\n").contains("config stale: ").contains("upstream");
            assertThat(gw.metrics()).contains("portcullis_config_stale 1.0", "portcullis_config_reload_total{result=\"invalid\"} 1.0");
            Thread.sleep(3 * ConfigReload.WATCH_MILLIS);
            assertThat(gw.count(Pattern.compile("config reload .* failed"))).as("one line per bad edit, not one per check").isEqualTo(1);

            // Fixed, to another upstream: the watch applies it and the stale state clears.
            Files.writeString(config, yaml(port, admin, second.url(), ""));
            gw.awaitFrom(lines, Pattern.compile("reloaded \\(file change\\)"), 20);
            assertThat(gw.readyz().body()).isEqualTo("ready\n");
            assertThat(gw.metrics()).contains("portcullis_config_stale 0.0");
            int secondSeen = second.requests().size();
            assertThat(call(gw, "/mcp", "echo")).contains("reloaded");
            assertThat(second.requests().size()).isGreaterThan(secondSeen);
        }
    }

    @Test
    @Timeout(value = 120, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void aListenPortChangeIsRefusedAndNothingOfTheEditApplies() throws Exception {
        Path config = dir.resolve("gateway.yaml");
        int port = NodeProcesses.freePort();
        int admin = NodeProcesses.freePort();
        Files.writeString(config, yaml(port, admin, first.url(), ""));
        try (GatewayProcess gw = GatewayProcess.start(config).awaitReady(60)) {
            int other = NodeProcesses.freePort();
            // The port and the upstream change in one edit: the port cannot change live, so neither applies.
            Files.writeString(config, yaml(other, admin, second.url(), ""));
            int lines = gw.output.size();
            gw.signal("HUP");
            var refused = gw.awaitFrom(lines, Pattern.compile("config reload \\(SIGHUP\\) refused: .*"), 20);
            assertThat(refused.group()).contains("listen.port (" + port + " -> " + other + ")", "restart");
            int secondSeen = second.requests().size();
            assertThat(call(gw, "/mcp", "echo")).contains("reloaded");
            assertThat(second.requests().size()).isEqualTo(secondSeen);
            assertThat(gw.readyz().body()).contains("config stale: ", "listen.port");
            assertThat(gw.metrics()).contains("portcullis_config_reload_total{result=\"refused\"} 1.0",
                    "portcullis_config_stale 1.0");
        }
    }

    @Test
    @Timeout(value = 120, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void aTlsCertificateRotatedOnDiskThroughAConfigMapSymlinkSwapIsServedToNewConnections() throws Exception {
        // The kubelet's layout: tls.crt -> ..data/tls.crt, ..data -> ..<timestamp>; a rotation swaps ..data.
        writeVersion("..v1", "CN=portcullis-one");
        Path data = dir.resolve("..data");
        Files.createSymbolicLink(data, Path.of("..v1"));
        Files.createSymbolicLink(dir.resolve("tls.crt"), Path.of("..data/tls.crt"));
        Files.createSymbolicLink(dir.resolve("tls.key"), Path.of("..data/tls.key"));
        Path config = Files.writeString(dir.resolve("gateway.yaml"), """
                listen: { host: 127.0.0.1, port: 0, allowed-hosts: [127.0.0.1], tls: { certificate: %s, private-key: %s } }
                admin: { host: 127.0.0.1, port: 0 }
                issuers: [ { issuer: %s, algorithms: [RS256], require-access-token-type: false } ]
                routes: [ { name: r, path: /mcp, upstream: %s, resource: %s } ]
                """.formatted(dir.resolve("tls.crt"), dir.resolve("tls.key"), idp.issuer(), first.url(), GatewayHarness.RESOURCE));
        try (Gateway gateway = Gateway.start(ConfigLoader.load(config), config)) {
            assertThat(subjectOf(gateway.port())).isEqualTo("CN=portcullis-one");
            writeVersion("..v2", "CN=portcullis-two");
            Path swap = dir.resolve("..data_tmp");
            Files.createSymbolicLink(swap, Path.of("..v2"));
            Files.move(swap, data, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            String subject = subjectOf(gateway.port());
            while (!subject.equals("CN=portcullis-two") && System.nanoTime() < deadline) {
                Thread.sleep(200);
                subject = subjectOf(gateway.port());
            }
            assertThat(subject).isEqualTo("CN=portcullis-two");
        }
    }

    private void writeVersion(String name, String subject) throws Exception {
        X509Bundle cert = new CertificateBuilder().subject(subject).addSanIpAddress("127.0.0.1")
                .setKeyUsage(true, CertificateBuilder.KeyUsage.digitalSignature, CertificateBuilder.KeyUsage.keyCertSign)
                .setIsCertificateAuthority(true).ecp256().buildSelfSigned();
        Path version = Files.createDirectories(dir.resolve(name));
        Files.writeString(version.resolve("tls.crt"), cert.getCertificatePEM());
        Files.writeString(version.resolve("tls.key"), cert.getPrivateKeyPEM());
    }

    /** The subject of the certificate a new TLS connection to the listener is shown. */
    private static String subjectOf(int port) throws Exception {
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(null, new TrustManager[] {new X509TrustManager() {
            public void checkClientTrusted(X509Certificate[] chain, String authType) {}
            public void checkServerTrusted(X509Certificate[] chain, String authType) {}
            public X509Certificate[] getAcceptedIssuers() { return new X509Certificate[0]; }
        }}, null);
        try (SSLSocket socket = (SSLSocket) context.getSocketFactory().createSocket("127.0.0.1", port)) {
            socket.setSoTimeout(5000);
            socket.startHandshake();
            return ((X509Certificate) socket.getSession().getPeerCertificates()[0]).getSubjectX500Principal().getName();
        }
    }

    /** initialize, then a tools/call of {@code tool}; returns the call's answer body. */
    private static String call(GatewayProcess gw, String path, String tool) throws Exception {
        String token = idp.accessToken(GatewayHarness.RESOURCE, "mcp:tools");
        HttpResponse<String> init = GatewayProcess.HTTP.send(post(gw, path, token, null, """
                {"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},
                 "clientInfo":{"name":"reload-test","version":"1"}}}"""), HttpResponse.BodyHandlers.ofString());
        assertThat(init.statusCode()).as(init.body() + "\n" + gw.log()).isEqualTo(200);
        String session = init.headers().firstValue("Mcp-Session-Id").orElseThrow();
        GatewayProcess.HTTP.send(post(gw, path, token, session, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}"),
                HttpResponse.BodyHandlers.discarding());
        HttpResponse<String> answer = GatewayProcess.HTTP.send(post(gw, path, token, session, """
                {"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"%s","arguments":{"text":"reloaded"}}}"""
                .formatted(tool)), HttpResponse.BodyHandlers.ofString());
        assertThat(answer.statusCode()).as(answer.body()).isEqualTo(200);
        return answer.body();
    }

    private static int unauthenticated(GatewayProcess gw, String path) throws Exception {
        return GatewayProcess.HTTP.send(HttpRequest.newBuilder(URI.create(gw.url(path))).timeout(Duration.ofSeconds(5))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString("{}")).build(),
                HttpResponse.BodyHandlers.discarding()).statusCode();
    }

    private static HttpRequest post(GatewayProcess gw, String path, String token, String session, String body) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(gw.url(path))).timeout(Duration.ofSeconds(20))
                .header("Authorization", "Bearer " + token)
                .header("Content-Type", "application/json")
                .header("Accept", "application/json, text/event-stream")
                .POST(HttpRequest.BodyPublishers.ofString(body));
        if (session != null) {
            b.header("Mcp-Session-Id", session).header("MCP-Protocol-Version", "2025-06-18");
        }
        return b.build();
    }

    /** A config with one route at /mcp to {@code upstream}; {@code extra} goes into the route. */
    private static String yaml(int port, int admin, String upstream, String extra) {
        return """
                listen: { host: 127.0.0.1, port: %d, allowed-hosts: [127.0.0.1] }
                admin: { host: 127.0.0.1, port: %d }
                issuers: [ { issuer: %s, algorithms: [RS256], require-access-token-type: false } ]
                routes:
                  - name: r
                    path: /mcp
                    upstream: %s
                    resource: %s
                    scopes: [mcp:tools]
                    %s
                """.formatted(port, admin, idp.issuer(), upstream, GatewayHarness.RESOURCE, extra);
    }
}
