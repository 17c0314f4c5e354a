package dev.portcullis.authn;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.portcullis.http.OutboundHttp;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Mono;
import reactor.netty.DisposableServer;
import reactor.netty.http.server.HttpServer;

class IssuerMetadataTest {

    /** E2: the MCP order of metadata URLs for an issuer with a path. */
    @Test
    void candidateUrlsFollowTheMcpOrder() {
        assertThat(IssuerMetadata.candidateUrls("https://idp.example.com/tenant1")).containsExactly(
                URI.create("https://idp.example.com/.well-known/oauth-authorization-server/tenant1"),
                URI.create("https://idp.example.com/.well-known/openid-configuration/tenant1"),
                URI.create("https://idp.example.com/tenant1/.well-known/openid-configuration"));
        assertThat(IssuerMetadata.candidateUrls("https://idp.example.com")).hasSize(2);
    }

    @Test
    void fallsBackPastRefusalsAndRequiresTheExactIssuer() {
        List<String> asked = new CopyOnWriteArrayList<>();
        DisposableServer server = HttpServer.create().host("127.0.0.1").port(0)
                .handle((req, res) -> {
                    asked.add(req.uri());
                    String issuer = "http://127.0.0.1:" + req.hostPort() + "/t";
                    if (req.uri().equals("/t/.well-known/openid-configuration")) {
                        return res.header("Content-Type", "application/json").sendString(Mono.just(
                                "{\"issuer\":\"" + issuer + "\",\"jwks_uri\":\"" + issuer + "/keys\"}"));
                    }
                    if (req.uri().equals("/.well-known/openid-configuration/t")) {
                        // A document for another issuer must not be trusted.
                        return res.header("Content-Type", "application/json").sendString(Mono.just(
                                "{\"issuer\":\"https://evil.example.com\",\"jwks_uri\":\"https://evil.example.com/keys\"}"));
                    }
                    return res.status(405).send();
                })
                .bindNow();
        OutboundHttp http = new OutboundHttp(Duration.ofSeconds(2), Duration.ofSeconds(2));
        try {
            String issuer = "http://127.0.0.1:" + server.port() + "/t";
            URI jwks = IssuerMetadata.discoverJwksUri(issuer, http, new ObjectMapper()).block(Duration.ofSeconds(5));
            assertThat(jwks).isEqualTo(URI.create(issuer + "/keys"));
            assertThat(asked).containsExactly("/.well-known/oauth-authorization-server/t",
                    "/.well-known/openid-configuration/t", "/t/.well-known/openid-configuration");

            assertThatThrownBy(() -> IssuerMetadata.discoverJwksUri("http://127.0.0.1:" + server.port() + "/other",
                    http, new ObjectMapper()).block(Duration.ofSeconds(5))).hasMessageContaining("no metadata document");
        } finally {
            http.close();
            server.disposeNow();
        }
    }
}
