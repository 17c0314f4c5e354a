package dev.portcullis.app;

import static dev.portcullis.app.GatewayHarness.RESOURCE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.portcullis.app.config.ConfigLoader;
import dev.portcullis.testing.TestIdp;
import dev.portcullis.testing.TestMcpServer;
import io.netty.pkitesting.CertificateBuilder;
import io.netty.pkitesting.X509Bundle;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Listen stage: TLS termination from PEM files, TLS 1.2 and 1.3 only (SECURITY-08). */
class TlsListenerTest {

    @Test
    void terminatesTlsFromPemFilesWithTls12And13(@TempDir Path dir) throws Exception {
        X509Bundle cert = new CertificateBuilder().subject("CN=portcullis-test").addSanIpAddress("127.0.0.1")
                .notBefore(Instant.now().minusSeconds(60)).notAfter(Instant.now().plusSeconds(3600))
                .setIsCertificateAuthority(true).rsa2048().buildSelfSigned();
        Path crt = Files.writeString(dir.resolve("tls.crt"), cert.getCertificatePEM());
        Path key = Files.writeString(dir.resolve("tls.key"), cert.getPrivateKeyPEM());

        try (TestIdp idp = TestIdp.start(); TestMcpServer upstream = TestMcpServer.start()) {
            String yaml = """
                    listen: { host: 127.0.0.1, port: 0, allowed-hosts: [127.0.0.1], tls: { certificate: %s, private-key: %s } }
                    admin: { host: 127.0.0.1, port: 0 }
                    issuers: [ { issuer: %s, require-access-token-type: false, algorithms: [RS256] } ]
                    routes: [ { name: t, path: /mcp, upstream: %s, resource: %s } ]
                    """.formatted(crt, key, idp.issuer(), upstream.url(), RESOURCE);
            try (GatewayHarness gw = GatewayHarness.startYaml(yaml)) {
                SSLContext trusting = SSLContext.getInstance("TLS");
                trusting.init(null, cert.toTrustManagerFactory().getTrustManagers(), null);
                URI prm = URI.create("https://127.0.0.1:" + gw.gateway.port() + "/.well-known/oauth-protected-resource/mcp");

                for (String protocol : new String[] {"TLSv1.3", "TLSv1.2"}) {
                    HttpClient client = HttpClient.newBuilder().sslContext(trusting)
                            .sslParameters(new SSLParameters(null, new String[] {protocol})).build();
                    HttpResponse<String> response = client.send(HttpRequest.newBuilder(prm).timeout(Duration.ofSeconds(5)).build(),
                            HttpResponse.BodyHandlers.ofString());
                    assertThat(response.statusCode()).as(protocol).isEqualTo(200);
                    assertThat(response.sslSession()).hasValueSatisfying(s -> assertThat(s.getProtocol()).isEqualTo(protocol));
                }

                // Plain HTTP on the TLS port is not served.
                HttpClient plain = HttpClient.newHttpClient();
                assertThatThrownBy(() -> plain.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + gw.gateway.port()
                        + "/.well-known/oauth-protected-resource/mcp")).timeout(Duration.ofSeconds(5)).build(),
                        HttpResponse.BodyHandlers.ofString())).isInstanceOf(java.io.IOException.class);
            }
        }
    }

    @Test
    void missingCertificateFileIsAConfigErrorWithLineAndField() {
        String yaml = """
                listen:
                  port: 0
                  tls:
                    certificate: /nonexistent/tls.crt
                    private-key: /nonexistent/tls.key
                issuers: [ { issuer: https://idp.example.com } ]
                routes: [ { name: t, path: /mcp, upstream: http://127.0.0.1:1/mcp, resource: https://gw.example.com/mcp } ]
                """;
        assertThatThrownBy(() -> ConfigLoader.parse(yaml, "t.yaml"))
                .hasMessage("t.yaml:4: listen.tls.certificate: \"/nonexistent/tls.crt\" (expected: a readable PEM file)");
    }
}
