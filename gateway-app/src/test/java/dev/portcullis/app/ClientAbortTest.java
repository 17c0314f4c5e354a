package dev.portcullis.app;

import static dev.portcullis.app.GatewayHarness.RESOURCE;
import static org.assertj.core.api.Assertions.assertThat;

import dev.portcullis.testing.TestIdp;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.netty.DisposableServer;
import reactor.netty.http.server.HttpServer;

/**
 * Issue 12 item 9: client aborts were logged as internal errors with a stack trace each (log flooding). A
 * client that goes away mid-request or mid-stream is counted ({@code portcullis_client_aborts_total}) and
 * logged quietly; so are an upstream that resets and TLS handshakes that fail.
 */
class ClientAbortTest {
    @Test
    void clientAbortsAreLoggedAsInternalErrorsWithAStackTrace() throws Exception {
        DisposableServer upstream = HttpServer.create().host("127.0.0.1").port(0)
                .handle((req, res) -> req.receive().aggregate().asString().defaultIfEmpty("").flatMap(body -> {
                    if (GatewayExtension.isEraProbe(body)) {
                        return GatewayExtension.refuseProbeAsLegacy(res);
                    }
                    if (body.contains("\"stream\"")) {
                        return res.header("Content-Type", "text/event-stream").sendString(Flux.interval(Duration.ofMillis(20))
                                .take(100).map(i -> "event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\","
                                        + "\"params\":{\"progressToken\":1,\"progress\":" + i + "}}\n\n")).then();
                    }
                    return Mono.delay(Duration.ofMillis(300)).then(res.header("Content-Type", "application/json")
                            .sendString(Mono.just("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"content\":[]}}")).then());
                }))
                .bindNow();
        try (TestIdp idp = TestIdp.start();
             GatewayHarness gw = GatewayHarness.start(idp.issuer(), "http://127.0.0.1:" + upstream.port() + "/mcp", null, null)) {
            String token = idp.accessToken(RESOURCE, "mcp:tools");
            int before = CapturingAppender.lines().size();
            for (int i = 0; i < 5; i++) {
                abort(gw.gateway.port(), token, GatewayHarness.toolCall(1, "slow"), 50);      // before the answer
                abort(gw.gateway.port(), token, GatewayHarness.toolCall(1, "stream"), 200);   // mid-stream
                abort(gw.gateway.port(), token, GatewayHarness.toolCall(1, "slow").substring(0, 20), 50); // mid-body
            }
            GatewayHarness.sleep(1000);
            assertQuiet(before);
            assertThat(counted(gw, "client_abort")).as("client aborts counted").isGreaterThanOrEqualTo(5);
            // The gateway still serves (nothing was left half-done on the event loop).
            assertThat(gw.send(gw.post(GatewayHarness.toolCall(1, "slow")).header("Authorization", "Bearer " + token).build())
                    .statusCode()).isEqualTo(200);
        } finally {
            upstream.disposeNow();
        }
    }

    /** Scanners and misconfigured clients failing the TLS handshake: counted, no stack trace per connection. */
    @Test
    void tlsHandshakeFailuresAreLoggedWithAStackTraceEach(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        io.netty.pkitesting.X509Bundle cert = new io.netty.pkitesting.CertificateBuilder().subject("CN=portcullis-test")
                .addSanIpAddress("127.0.0.1").notBefore(java.time.Instant.now().minusSeconds(60))
                .notAfter(java.time.Instant.now().plusSeconds(3600)).setIsCertificateAuthority(true).rsa2048().buildSelfSigned();
        java.nio.file.Path crt = java.nio.file.Files.writeString(dir.resolve("tls.crt"), cert.getCertificatePEM());
        java.nio.file.Path key = java.nio.file.Files.writeString(dir.resolve("tls.key"), cert.getPrivateKeyPEM());
        try (TestIdp idp = TestIdp.start();
             GatewayHarness gw = GatewayHarness.startYaml("""
                     listen: { host: 127.0.0.1, port: 0, allowed-hosts: [127.0.0.1], tls: { certificate: %s, private-key: %s } }
                     admin: { host: 127.0.0.1, port: 0 }
                     issuers: [ { issuer: %s, require-access-token-type: false } ]
                     routes: [ { name: t, path: /mcp, upstream: http://127.0.0.1:1/mcp, resource: %s } ]
                     """.formatted(crt, key, idp.issuer(), RESOURCE))) {
            int before = CapturingAppender.lines().size();
            for (int i = 0; i < 3; i++) {
                // Plain HTTP on the TLS port.
                try (Socket socket = new Socket("127.0.0.1", gw.gateway.port())) {
                    socket.getOutputStream().write("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                    socket.setSoTimeout(2000);
                    try {
                        socket.getInputStream().read();
                    } catch (java.io.IOException expected) {
                        // closed or reset: either is fine
                    }
                }
                // A client that does not trust the certificate aborts the handshake.
                javax.net.ssl.SSLSocketFactory untrusting = javax.net.ssl.SSLContext.getDefault().getSocketFactory();
                try (javax.net.ssl.SSLSocket socket = (javax.net.ssl.SSLSocket) untrusting.createSocket("127.0.0.1", gw.gateway.port())) {
                    socket.startHandshake();
                } catch (java.io.IOException expected) {
                    // the client refused the certificate
                }
            }
            GatewayHarness.sleep(1000);
            assertQuiet(before);
            assertThat(counted(gw, "tls_handshake")).as("failed handshakes counted").isGreaterThanOrEqualTo(3);
        }
    }

    /** No stack trace, no error about the network conditions above was logged since {@code before}. */
    private static void assertQuiet(int before) {
        List<String> logged = CapturingAppender.lines().subList(before, CapturingAppender.lines().size());
        // The access log's one line per request may name the condition; nothing else may mention it, and no
        // request is reported as an internal error or blamed on the upstream.
        assertThat(logged).filteredOn(line -> !line.startsWith("portcullis.access ")).noneSatisfy(line -> assertThat(line)
                .containsAnyOf("Connection reset", "onErrorDropped", "unexpected failure", "SSLHandshakeException",
                        "NotSslRecordException", "Error was received", "SSLException", "AbortedException", "Broken pipe"));
        assertThat(logged).noneSatisfy(line -> assertThat(line).containsAnyOf("reason=internal", "reason=upstream_unavailable"));
    }

    private static double counted(GatewayHarness gw, String kind) {
        String metrics = gw.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create("http://127.0.0.1:"
                + gw.gateway.adminPort() + "/metrics")).build()).body();
        String prefix = "portcullis_network_events_total{kind=\"" + kind + "\"} ";
        return metrics.lines().filter(l -> l.startsWith(prefix)).mapToDouble(l -> Double.parseDouble(l.substring(prefix.length())))
                .findFirst().orElse(0);
    }

    /** Sends a request (its body possibly cut short) and closes the connection after {@code millis}. */
    private static void abort(int port, String token, String body, long millis) throws Exception {
        try (Socket socket = new Socket("127.0.0.1", port)) {
            OutputStream out = socket.getOutputStream();
            String full = GatewayHarness.toolCall(1, "slow");
            out.write(("POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                    + "Accept: application/json, text/event-stream\r\nAuthorization: Bearer " + token + "\r\n"
                    + "Content-Length: " + Math.max(full.length(), body.length()) + "\r\n\r\n" + body).getBytes(StandardCharsets.UTF_8));
            out.flush();
            Thread.sleep(millis);
            socket.setSoLinger(true, 0); // a reset, as a killed client sends
        }
    }
}
