package dev.portcullis.route;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ProtectedResourceMetadataTest {

    /** E2 URL table (PRM-01, RFC 9728 §3.1). */
    @ParameterizedTest
    @CsvSource({
        "https://gw.example.com/mcp, https://gw.example.com/.well-known/oauth-protected-resource/mcp",
        "https://gw.example.com/tenants/acme/mcp, https://gw.example.com/.well-known/oauth-protected-resource/tenants/acme/mcp",
        "https://gw.example.com:8443/mcp, https://gw.example.com:8443/.well-known/oauth-protected-resource/mcp",
        "https://gw.example.com/mcp?tenant=a, https://gw.example.com/.well-known/oauth-protected-resource/mcp?tenant=a",
        "https://gw.example.com, https://gw.example.com/.well-known/oauth-protected-resource",
        "https://gw.example.com/, https://gw.example.com/.well-known/oauth-protected-resource",
    })
    void prm01WellKnownUrlIsPathInserted(String resource, String expected) {
        assertThat(ProtectedResourceMetadata.wellKnownUrl(URI.create(resource))).isEqualTo(expected);
    }
}
