package dev.portcullis.authn;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.portcullis.http.OutboundHttp;
import java.net.URI;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import reactor.core.publisher.Mono;
import reactor.netty.DisposableServer;
import reactor.netty.http.server.HttpServer;

/**
 * SECURITY-03: a {@code jwks_uri} read from issuer metadata is a URL the operator did not configure;
 * it must be an http(s) URL without user info, https unless the issuer itself may use plain http.
 */
class DiscoveredJwksUriTest {

    @ParameterizedTest
    @ValueSource(strings = {"http://keys.example.com/jwks", "file:///etc/passwd", "ftp://keys.example.com/jwks",
            "https://user:pass@keys.example.com/jwks", "https://keys.example.com/jwks#x", "/relative/jwks", "jar:file:/x!/y"})
    void anUnacceptableJwksUriFromAnHttpsIssuerIsRefused(String jwks) {
        assertThat(IssuerMetadata.acceptable(URI.create(jwks), false, "https://idp.example.com")).isFalse();
    }

    @Test
    void httpsIsAcceptedAndPlainHttpOnlyWhereTheIssuerMayUseIt() {
        assertThat(IssuerMetadata.acceptable(URI.create("https://keys.example.com/jwks"), false, "https://idp.example.com")).isTrue();
        assertThat(IssuerMetadata.acceptable(URI.create("http://keys.example.com/jwks"), true, "http://idp.dev")).isTrue();
    }

    @Test
    void discoveryIgnoresADocumentWhoseJwksUriIsNotAcceptable() {
        AtomicReference<String> jwks = new AtomicReference<>();
        DisposableServer server = HttpServer.create().host("127.0.0.1").port(0)
                .handle((req, res) -> {
                    String issuer = "http://127.0.0.1:" + req.hostPort() + "/t";
                    if (req.uri().equals("/t/.well-known/openid-configuration")) {
                        return res.header("Content-Type", "application/json").sendString(Mono.just(
                                "{\"issuer\":\"" + issuer + "\",\"jwks_uri\":\"" + jwks.get() + "\"}"));
                    }
                    return res.status(404).send();
                })
                .bindNow();
        OutboundHttp http = new OutboundHttp(Duration.ofSeconds(2), Duration.ofSeconds(2));
        try {
            String issuer = "http://127.0.0.1:" + server.port() + "/t";
            jwks.set("file:///etc/passwd");
            assertThatThrownBy(() -> IssuerMetadata.discoverJwksUri(issuer, false, http, new ObjectMapper())
                    .block(Duration.ofSeconds(5))).hasMessageContaining("no metadata document");
            jwks.set("http://user@127.0.0.1:" + server.port() + "/keys");
            assertThatThrownBy(() -> IssuerMetadata.discoverJwksUri(issuer, false, http, new ObjectMapper())
                    .block(Duration.ofSeconds(5))).hasMessageContaining("no metadata document");
            // The issuer is on a loopback address it names literally: a plain-http jwks_uri is accepted there.
            jwks.set(issuer + "/keys");
            assertThat(IssuerMetadata.discoverJwksUri(issuer, false, http, new ObjectMapper()).block(Duration.ofSeconds(5)))
                    .isEqualTo(URI.create(issuer + "/keys"));
        } finally {
            http.close();
            server.disposeNow();
        }
    }
}
