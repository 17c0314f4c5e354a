package dev.portcullis.app;

import static dev.portcullis.app.GatewayHarness.RESOURCE;
import static org.assertj.core.api.Assertions.assertThat;

import dev.portcullis.testing.TestIdp;
import io.netty.pkitesting.CertificateBuilder;
import io.netty.pkitesting.X509Bundle;
import java.io.InputStream;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The listener's framing checks and head deadline hold on a TLS listener too (the checks sit behind TLS). */
class HostileHttpTlsTest {

    @Test
    void ambiguousFramingAndSlowHeadsAreRefusedOverTls(@TempDir Path dir) throws Exception {
        X509Bundle cert = new CertificateBuilder().subject("CN=portcullis-test").addSanIpAddress("127.0.0.1")
                .notBefore(Instant.now().minusSeconds(60)).notAfter(Instant.now().plusSeconds(3600))
                .setIsCertificateAuthority(true).rsa2048().buildSelfSigned();
        Path crt = Files.writeString(dir.resolve("tls.crt"), cert.getCertificatePEM());
        Path key = Files.writeString(dir.resolve("tls.key"), cert.getPrivateKeyPEM());
        try (TestIdp idp = TestIdp.start()) {
            String yaml = """
                    listen: { host: 127.0.0.1, port: 0, allowed-hosts: [127.0.0.1], request-timeout: 1s,
                              tls: { certificate: %s, private-key: %s } }
                    admin: { host: 127.0.0.1, port: 0 }
                    issuers: [ { issuer: %s, require-access-token-type: false } ]
                    routes: [ { name: t, path: /mcp, upstream: http://127.0.0.1:1/mcp, resource: %s } ]
                    """.formatted(crt, key, idp.issuer(), RESOURCE);
            try (GatewayHarness gw = GatewayHarness.startYaml(yaml)) {
                SSLContext trusting = SSLContext.getInstance("TLS");
                trusting.init(null, cert.toTrustManagerFactory().getTrustManagers(), null);
                String prm = "GET /.well-known/oauth-protected-resource/mcp HTTP/1.1\r\n";
                assertThat(exchange(trusting, gw.gateway.port(), prm + "Host: 127.0.0.1\r\n\r\n")).startsWith("HTTP/1.1 200");
                assertThat(exchange(trusting, gw.gateway.port(), prm + "Host: 127.0.0.1\r\nHost: evil.example\r\n\r\n"))
                        .startsWith("HTTP/1.1 400");
                assertThat(exchange(trusting, gw.gateway.port(), "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\n"
                        + "Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n")).startsWith("HTTP/1.1 400");
                // A head that never completes: cut off at the request timeout with a 408.
                assertThat(exchange(trusting, gw.gateway.port(), "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: a"))
                        .startsWith("HTTP/1.1 408");
            }
        }
    }

    private static String exchange(SSLContext context, int port, String request) throws Exception {
        try (SSLSocket socket = (SSLSocket) context.getSocketFactory().createSocket("127.0.0.1", port)) {
            socket.setSoTimeout(4000);
            socket.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
            socket.getOutputStream().flush();
            InputStream in = socket.getInputStream();
            byte[] head = new byte[12];
            int n = 0;
            try {
                while (n < head.length) {
                    int r = in.read(head, n, head.length - n);
                    if (r < 0) {
                        break;
                    }
                    n += r;
                }
            } catch (SocketTimeoutException e) {
                return "open";
            }
            return new String(head, 0, n, StandardCharsets.ISO_8859_1);
        }
    }
}
