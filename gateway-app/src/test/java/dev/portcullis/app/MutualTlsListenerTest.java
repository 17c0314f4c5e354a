package dev.portcullis.app;

import static dev.portcullis.app.GatewayHarness.RESOURCE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.portcullis.app.config.ConfigLoader;
import dev.portcullis.testing.TestIdp;
import dev.portcullis.testing.TestMcpServer;
import io.netty.pkitesting.CertificateBuilder;
import io.netty.pkitesting.X509Bundle;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import javax.net.ssl.SSLContext;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Mutual TLS on the listener (issue 16): {@code client-auth: required | optional} with {@code client-trust} bundles,
 * a bundle pinned to a SPIFFE trust domain. Real handshakes from the JDK's HTTP client with generated certificates.
 */
class MutualTlsListenerTest {
    @TempDir
    static Path dir;
    static X509Bundle server;
    static X509Bundle spiffeCa;
    static Path crt;
    static Path key;
    static Path bundle;

    @BeforeAll
    static void pki() throws Exception {
        server = new CertificateBuilder().subject("CN=portcullis-test").addSanIpAddress("127.0.0.1")
                .notBefore(Instant.now().minusSeconds(60)).notAfter(Instant.now().plusSeconds(3600))
                .setIsCertificateAuthority(true).ecp256().buildSelfSigned();
        spiffeCa = new CertificateBuilder().subject("CN=prod.acme SPIFFE CA").setIsCertificateAuthority(true).ecp256()
                .notBefore(Instant.now().minusSeconds(60)).notAfter(Instant.now().plusSeconds(3600)).buildSelfSigned();
        crt = Files.writeString(dir.resolve("tls.crt"), server.getCertificatePEM());
        key = Files.writeString(dir.resolve("tls.key"), server.getPrivateKeyPEM());
        bundle = Files.writeString(dir.resolve("spiffe-bundle.pem"), spiffeCa.getCertificatePEM());
    }

    static X509Bundle svid(X509Bundle issuer, String id) throws Exception {
        return new CertificateBuilder().subject("CN=agent").addSanUriName(id).ecp256()
                .notBefore(Instant.now().minusSeconds(60)).notAfter(Instant.now().plusSeconds(3600)).buildIssuedBy(issuer);
    }

    static String yaml(String clientAuth, TestIdp idp, TestMcpServer upstream) {
        return """
                listen:
                  host: 127.0.0.1
                  port: 0
                  allowed-hosts: [127.0.0.1]
                  tls:
                    certificate: %s
                    private-key: %s
                    client-auth: %s
                    client-trust:
                      - bundle: %s
                        spiffe-trust-domain: prod.acme
                admin: { host: 127.0.0.1, port: 0 }
                issuers: [ { issuer: %s, require-access-token-type: false, algorithms: [RS256] } ]
                routes: [ { name: t, path: /mcp, upstream: %s, resource: %s } ]
                """.formatted(crt, key, clientAuth, bundle, idp.issuer(), upstream.url(), RESOURCE);
    }

    static HttpResponse<String> get(GatewayHarness gw, X509Bundle clientCertificate) throws Exception {
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(clientCertificate == null ? null : clientCertificate.toKeyManagerFactory().getKeyManagers(),
                server.toTrustManagerFactory().getTrustManagers(), null);
        HttpClient client = HttpClient.newBuilder().sslContext(context).connectTimeout(Duration.ofSeconds(5)).build();
        URI prm = URI.create("https://127.0.0.1:" + gw.gateway.port() + "/.well-known/oauth-protected-resource/mcp");
        return client.send(HttpRequest.newBuilder(prm).timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void requiredClientAuthServesOnlyTrustedSvidsOfThePinnedTrustDomain() throws Exception {
        try (TestIdp idp = TestIdp.start(); TestMcpServer upstream = TestMcpServer.start();
             GatewayHarness gw = GatewayHarness.startYaml(yaml("required", idp, upstream))) {
            assertThat(get(gw, svid(spiffeCa, "spiffe://prod.acme/ns/agents/sa/planner")).statusCode()).isEqualTo(200);

            // No certificate: the handshake fails (client-auth: required).
            assertThatThrownBy(() -> get(gw, null)).isInstanceOf(IOException.class);
            // An SVID of another trust domain, signed by the pinned bundle's CA: refused at the handshake.
            assertThatThrownBy(() -> get(gw, svid(spiffeCa, "spiffe://staging.acme/ns/agents/sa/planner")))
                    .isInstanceOf(IOException.class);
            // A certificate of a CA no bundle holds.
            X509Bundle otherCa = new CertificateBuilder().subject("CN=other").setIsCertificateAuthority(true).ecp256()
                    .notBefore(Instant.now().minusSeconds(60)).notAfter(Instant.now().plusSeconds(3600)).buildSelfSigned();
            assertThatThrownBy(() -> get(gw, svid(otherCa, "spiffe://prod.acme/ns/agents/sa/planner")))
                    .isInstanceOf(IOException.class);
        }
    }

    @Test
    void optionalClientAuthServesAConnectionWithoutACertificate() throws Exception {
        try (TestIdp idp = TestIdp.start(); TestMcpServer upstream = TestMcpServer.start();
             GatewayHarness gw = GatewayHarness.startYaml(yaml("optional", idp, upstream))) {
            assertThat(get(gw, null).statusCode()).isEqualTo(200);
            assertThat(get(gw, svid(spiffeCa, "spiffe://prod.acme/ns/agents/sa/planner")).statusCode()).isEqualTo(200);
            // A presented certificate must still chain to a bundle, optional or not.
            assertThatThrownBy(() -> get(gw, svid(spiffeCa, "spiffe://staging.acme/x"))).isInstanceOf(IOException.class);
        }
    }

    static HttpResponse<String> callTool(GatewayHarness gw, X509Bundle clientCertificate, String token, String tool)
            throws Exception {
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(clientCertificate.toKeyManagerFactory().getKeyManagers(), server.toTrustManagerFactory().getTrustManagers(), null);
        HttpClient client = HttpClient.newBuilder().sslContext(context).connectTimeout(Duration.ofSeconds(5)).build();
        String body = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"" + tool
                + "\",\"arguments\":{\"text\":\"hi\"}}}";
        return client.send(HttpRequest.newBuilder(URI.create("https://127.0.0.1:" + gw.gateway.port() + "/mcp"))
                .timeout(Duration.ofSeconds(10)).header("Authorization", "Bearer " + token)
                .header("Content-Type", "application/json").header("Accept", "application/json, text/event-stream")
                .header("MCP-Protocol-Version", "2025-11-25")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
    }

    /** Issue 16: RFC 8705 certificate-bound tokens and SPIFFE agents, end to end; refusals never reach the upstream. */
    @Test
    void certificateBoundTokensAndSpiffeAgentsEndToEnd() throws Exception {
        Path policy = Files.writeString(dir.resolve("policy.yaml"), """
                default: deny
                agents: { allow: ["spiffe://prod.acme/ns/agents/*"] }
                tools:
                  echo: {}
                  whoami: { agents: ["spiffe://prod.acme/ns/agents/auditor"] }
                """);
        X509Bundle planner = svid(spiffeCa, "spiffe://prod.acme/ns/agents/planner");
        X509Bundle auditor = svid(spiffeCa, "spiffe://prod.acme/ns/agents/auditor");
        try (TestIdp idp = TestIdp.start(); TestMcpServer upstream = TestMcpServer.start();
             GatewayHarness gw = GatewayHarness.startYaml(yaml("required", idp, upstream)
                     .replace("resource: " + RESOURCE + " } ]", "resource: " + RESOURCE + ", policy: " + policy + " } ]"))) {
            String plain = idp.accessToken(RESOURCE, "mcp:tools");

            // The SVID's SPIFFE ID is the agent: allowed by the prefix; echo reaches the upstream.
            HttpResponse<String> echo = callTool(gw, planner, plain, "echo");
            assertThat(echo.statusCode()).as(echo.body()).isNotIn(401, 403);
            int reached = upstream.requests().size();
            assertThat(reached).isPositive();

            // whoami is limited to the auditor's SPIFFE ID: the planner is refused (as an unknown tool), upstream untouched.
            HttpResponse<String> denied = callTool(gw, planner, plain, "whoami");
            assertThat(denied.body()).contains("Unknown tool");
            assertThat(upstream.requests()).hasSize(reached);
            assertThat(callTool(gw, auditor, plain, "whoami").statusCode()).isNotIn(401, 403);
            reached = upstream.requests().size();

            // A token bound to the planner's certificate works over the planner's connection only (RFC 8705 §3).
            String thumbprint = dev.portcullis.listen.ClientTrust.thumbprint(planner.getCertificate());
            String bound = idp.accessToken(RESOURCE, "mcp:tools", java.util.Map.of("cnf", java.util.Map.of("x5t#S256", thumbprint)));
            assertThat(callTool(gw, planner, bound, "echo").statusCode()).isNotIn(401, 403);
            reached = upstream.requests().size();
            HttpResponse<String> stolen = callTool(gw, auditor, bound, "echo");
            assertThat(stolen.statusCode()).isEqualTo(401);
            assertThat(stolen.headers().firstValue("WWW-Authenticate")).hasValueSatisfying(v -> assertThat(v)
                    .startsWith("Bearer").contains("error=\"invalid_token\""));
            assertThat(upstream.requests()).as("a refused request never reaches the upstream").hasSize(reached);
        }
    }

    @Test
    void clientAuthWithoutTrustBundleIsAConfigErrorWithLineAndField() {
        String yaml = """
                listen:
                  port: 0
                  tls:
                    certificate: %s
                    private-key: %s
                    client-auth: required
                issuers: [ { issuer: https://idp.example.com } ]
                routes: [ { name: t, path: /mcp, upstream: http://127.0.0.1:1/mcp, resource: https://gw.example.com/mcp } ]
                """.formatted(crt, key);
        assertThatThrownBy(() -> ConfigLoader.parse(yaml, "t.yaml"))
                .hasMessageStartingWith("t.yaml:3: listen.tls.client-trust: is required when client-auth is required");
    }

    @Test
    void aBadTrustDomainNamesTheFileLineAndField() {
        String yaml = """
                listen:
                  port: 0
                  tls:
                    certificate: %s
                    private-key: %s
                    client-auth: optional
                    client-trust:
                      - bundle: %s
                        spiffe-trust-domain: spiffe://prod.acme
                issuers: [ { issuer: https://idp.example.com } ]
                routes: [ { name: t, path: /mcp, upstream: http://127.0.0.1:1/mcp, resource: https://gw.example.com/mcp } ]
                """.formatted(crt, key, bundle);
        assertThatThrownBy(() -> ConfigLoader.parse(yaml, "t.yaml"))
                .hasMessageContaining("t.yaml:9:").hasMessageContaining("spiffe-trust-domain");
    }
}
