package dev.portcullis.app.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.portcullis.config.GatewayConfig;
import dev.portcullis.config.IntrospectionConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Issue 16: {@code issuers[].introspection} (RFC 7662); a bad value names file, line and field, never a secret. */
class IntrospectionConfigTest {
    private static final String YAML = """
            issuers:
              - issuer: https://idp.example.com
                introspection:
            %s
              - issuer: https://other.example.com
            %s
            routes:
              - name: notes
                path: /mcp
                upstream: http://127.0.0.1:3000/mcp
                resource: https://gw.example.com/mcp
            """;

    private static GatewayConfig parse(String first, String second) {
        return ConfigLoader.parse(YAML.formatted(first, second), "gateway.yaml", null,
                Map.of("SECRET", "s3cr3t-value")::get);
    }

    private static String error(String first, String second) {
        return assertThatThrownBy(() -> parse(first, second))
                .isInstanceOf(ConfigLoader.InvalidConfigException.class).actual().getMessage();
    }

    @Test
    void defaultsAreOpaqueTokensBasicAuthAndShortCaches() {
        IntrospectionConfig config = parse("      client-id: portcullis\n      client-secret: ${SECRET}", "")
                .issuers().get(0).introspection();
        assertThat(config.parsedTokens()).isEqualTo(IntrospectionConfig.Tokens.OPAQUE);
        assertThat(config.endpoint()).isNull();
        assertThat(config.clientAuth()).isEqualTo("client_secret_basic");
        assertThat(config.clientSecret()).isEqualTo("s3cr3t-value");
        assertThat(config.cacheMax()).isEqualTo(Duration.ofSeconds(60));
        assertThat(config.negativeCache()).isEqualTo(Duration.ofSeconds(10));
        assertThat(config.timeout()).isEqualTo(Duration.ofSeconds(2));
        assertThat(config.toString()).doesNotContain("s3cr3t-value");
        assertThat(parse("      client-id: x\n      client-secret: y", "").issuers().get(1).introspection()).isNull();
    }

    @Test
    void allFieldsAndASecretFile(@TempDir Path dir) throws Exception {
        Path secret = Files.writeString(dir.resolve("secret"), "file-secret\n");
        IntrospectionConfig config = parse("""
                endpoint: https://idp.example.com/introspect
                client-id: portcullis
                client-auth: client_secret_post
                client-secret-file: %s
                tokens: all
                cache-max: 2m
                negative-cache: 5s
                timeout: 500ms
                """.formatted(secret).indent(6).stripTrailing(), "").issuers().get(0).introspection();
        assertThat(config.clientSecret()).isEqualTo("file-secret");
        assertThat(config.clientAuth()).isEqualTo("client_secret_post");
        assertThat(config.parsedTokens()).isEqualTo(IntrospectionConfig.Tokens.ALL);
        assertThat(config.cacheMax()).isEqualTo(Duration.ofMinutes(2));
        assertThat(config.timeout()).isEqualTo(Duration.ofMillis(500));
    }

    @Test
    void badValuesNameFileLineAndField() {
        assertThat(error("      endpoint: http://idp.example.com/introspect\n      client-id: x\n      client-secret: y", ""))
                .startsWith("gateway.yaml:4: issuers[0].introspection.endpoint: \"http://idp.example.com/introspect\" "
                        + "(expected: https");
        assertThat(error("      client-id: x\n      client-secret: y\n      tokens: some", ""))
                .startsWith("gateway.yaml:6: issuers[0].introspection.tokens: \"some\" (expected: opaque, all or jwt)");
        assertThat(error("      client-id: x\n      client-secret: y\n      negative-cache: 10m", ""))
                .startsWith("gateway.yaml:6: issuers[0].introspection.negative-cache: \"10m\" (expected: 0s..5m)");
        assertThat(error("      client-id: x\n      client-secret: y\n      timeout: 0s", ""))
                .startsWith("gateway.yaml:6: issuers[0].introspection.timeout: \"0s\" (expected: 1ms..60s)");
        assertThat(error("      client-id: x", ""))
                .startsWith("gateway.yaml:3: issuers[0].introspection.client-secret: is required");
        assertThat(error("      client-secret: y", ""))
                .startsWith("gateway.yaml:3: issuers[0].introspection.client-id: is required");
        assertThat(error("      client-id: x\n      client-secret: y\n      client-auth: tls_client_auth", ""))
                .startsWith("gateway.yaml:6: issuers[0].introspection.client-auth: \"tls_client_auth\"");
        assertThat(error("      client-id: x\n      client-secret: y\n      cache: 1m", ""))
                .startsWith("gateway.yaml:6: issuers[0].introspection.cache: unknown key");
    }

    @Test
    void aBadSecretFromTheEnvironmentIsNeverShown() {
        String message = error("      client-id: x\n      client-secret: ${SECRET}\n      client-auth: private_key_jwt", "");
        assertThat(message).contains("issuers[0].introspection.client-secret").doesNotContain("s3cr3t-value");
    }

    /** An opaque token does not name its issuer: it must never be sent to another IdP's endpoint. */
    @Test
    void onlyOneIssuerIntrospectsOpaqueTokens() {
        String both = error("      client-id: x\n      client-secret: y", """
                introspection:
                  client-id: x
                  client-secret: y
                  tokens: all
                """.indent(4).stripTrailing());
        assertThat(both).startsWith("gateway.yaml:").contains("issuers[1].introspection: introspects opaque tokens (tokens: all), "
                + "and so does issuers[0]");
        GatewayConfig jwtOnly = parse("      client-id: x\n      client-secret: y", """
                introspection:
                  client-id: x
                  client-secret: y
                  tokens: jwt
                """.indent(4).stripTrailing());
        assertThat(jwtOnly.issuers().get(1).introspection().parsedTokens().opaque()).isFalse();
    }
}
