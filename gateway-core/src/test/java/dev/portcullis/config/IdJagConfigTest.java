package dev.portcullis.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;

/** {@code upstream-auth} flavor {@code id-jag} (issue 16): what it needs, and where its parts may not appear. */
class IdJagConfigTest {
    private static final UpstreamAuthConfig.AuthorizationServer AS = new UpstreamAuthConfig.AuthorizationServer(
            "https://as.saas.example/token", "portcullis-at-saas", null, "saas-secret", null, null, null, null);

    private static UpstreamAuthConfig idJag(String flavor, String audience, UpstreamAuthConfig.AuthorizationServer as) {
        return new UpstreamAuthConfig("token-exchange", flavor, "https://idp.corp.example/token", "portcullis", null, "s",
                null, null, null, null, audience, "https://mcp.saas.example/mcp", List.of("todo:read"), null, null, null, null,
                null, as);
    }

    @Test
    void idJagNeedsTheUpstreamsAuthorizationServerAndItsIssuerAsAudience() {
        UpstreamAuthConfig ok = idJag("id-jag", "https://as.saas.example", AS);
        assertThat(ok.parsedFlavor()).isEqualTo(UpstreamAuthConfig.Flavor.ID_JAG);
        assertThat(ok.authorizationServer().asClient(ok.timeout()).clientSecret()).isEqualTo("saas-secret");
        assertThat(ok.toString()).doesNotContain("saas-secret", "enterprise");
        assertThat(AS.toString()).doesNotContain("saas-secret");

        assertThatThrownBy(() -> idJag("id-jag", "https://as.saas.example", null))
                .isInstanceOfSatisfying(ConfigException.class, e -> assertThat(e.field()).isEqualTo("authorization-server"));
        assertThatThrownBy(() -> idJag("id-jag", null, AS))
                .isInstanceOfSatisfying(ConfigException.class, e -> assertThat(e.field()).isEqualTo("audience"));
    }

    @Test
    void anAuthorizationServerBelongsToIdJagOnly() {
        assertThatThrownBy(() -> idJag("rfc8693", "todo", AS))
                .isInstanceOfSatisfying(ConfigException.class, e -> assertThat(e.field()).isEqualTo("authorization-server"));
    }

    @Test
    void theAuthorizationServersClientIsCheckedLikeAnyClient() {
        assertThatThrownBy(() -> new UpstreamAuthConfig.AuthorizationServer("http://as.saas.example/token", "c", null, "s",
                null, null, null, null)).isInstanceOfSatisfying(ConfigException.class,
                        e -> assertThat(e.field()).isEqualTo("token-endpoint"));
        assertThatThrownBy(() -> new UpstreamAuthConfig.AuthorizationServer("https://as.saas.example/token", null, null, "s",
                null, null, null, null)).isInstanceOfSatisfying(ConfigException.class,
                        e -> assertThat(e.field()).isEqualTo("client-id"));
    }
}
