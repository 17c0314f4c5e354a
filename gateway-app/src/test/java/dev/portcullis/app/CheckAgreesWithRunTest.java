package dev.portcullis.app;

import static org.assertj.core.api.Assertions.assertThat;

import dev.portcullis.app.config.ConfigLoader;
import io.netty.pkitesting.CertificateBuilder;
import io.netty.pkitesting.X509Bundle;
import java.io.IOException;
import java.time.Instant;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Issue 12 item 13: {@code resource-aliases: [mcp-gateway]} (a Keycloak client id) passed {@code check}
 * and {@code run} died with a NullPointerException. {@code check} now builds what {@code run} builds
 * ({@link Gateway.Assembly}), so for every config: check OK ⇒ the gateway starts.
 */
class CheckAgreesWithRunTest {
    @TempDir
    static Path dir;

    private static String config(String routeExtra, String issuerExtra) {
        return """
                listen: { host: 127.0.0.1, port: 0, max-body-size: 64KiB }
                admin: { host: 127.0.0.1, port: 0 }
                issuers:
                  - issuer: http://127.0.0.1:9/realms/acme
                    jwks-uri: http://127.0.0.1:9/realms/acme/certs
                    require-access-token-type: false
                %s
                routes:
                  - name: files
                    path: /mcp
                    upstream: http://127.0.0.1:9/mcp
                    resource: https://gw.example.com/mcp
                %s
                """.formatted(indent(issuerExtra), indent(routeExtra));
    }

    private static String indent(String yaml) {
        return yaml.isEmpty() ? "" : ("    " + yaml.replace("\n", "\n    "));
    }

    static Stream<Arguments> trickyConfigs() throws Exception {
        Path policy = Files.writeString(Files.createTempFile("portcullis-check", ".yaml"),
                "default: deny\ntools:\n  echo: { roles: [admin] }\n");
        policy.toFile().deleteOnExit();
        Path secret = Files.writeString(Files.createTempFile("portcullis-secret", ".txt"), "s3cret\n");
        secret.toFile().deleteOnExit();
        List<Arguments> cases = new ArrayList<>();
        cases.add(Arguments.of("keycloak client id as alias", config("resource-aliases: [mcp-gateway]", "claims: keycloak"), true));
        cases.add(Arguments.of("Entra v2 application GUID as alias",
                config("resource-aliases: [\"6e74172b-be56-4843-9ff4-e66a39bb12e3\"]", "claims: entra"), true));
        cases.add(Arguments.of("Entra v1 api:// alias",
                config("resource-aliases: [\"api://6e74172b-be56-4843-9ff4-e66a39bb12e3\"]", ""), true));
        cases.add(Arguments.of("case-variant URL alias", config("resource-aliases: [https://GW.example.com/mcp]", ""), true));
        cases.add(Arguments.of("urn alias", config("resource-aliases: [\"urn:acme:mcp\"]", ""), true));
        cases.add(Arguments.of("alias and explicit allowed hosts",
                config("resource-aliases: [mcp-gateway]", "").replace("max-body-size: 64KiB",
                        "max-body-size: 64KiB, allowed-hosts: [gw.example.com]"), true));
        cases.add(Arguments.of("policy file", config("policy: " + policy, ""), true));
        cases.add(Arguments.of("client credentials with a secret file", config("""
                upstream-auth:
                  type: client-credentials
                  token-endpoint: http://127.0.0.1:9/token
                  client-id: portcullis
                  client-secret-file: %s""".formatted(secret), ""), true));
        X509Bundle cert = new CertificateBuilder().subject("CN=portcullis-test").addSanIpAddress("127.0.0.1")
                .notBefore(Instant.now().minusSeconds(60)).notAfter(Instant.now().plusSeconds(3600))
                .setIsCertificateAuthority(true).rsa2048().buildSelfSigned();
        X509Bundle other = new CertificateBuilder().subject("CN=other").notBefore(Instant.now().minusSeconds(60))
                .notAfter(Instant.now().plusSeconds(3600)).setIsCertificateAuthority(true).rsa2048().buildSelfSigned();
        Path crt = Files.writeString(Files.createTempFile("portcullis-tls", ".crt"), cert.getCertificatePEM());
        Path key = Files.writeString(Files.createTempFile("portcullis-tls", ".key"), cert.getPrivateKeyPEM());
        Path otherKey = Files.writeString(Files.createTempFile("portcullis-tls", ".key"), other.getPrivateKeyPEM());
        Path notPem = Files.writeString(Files.createTempFile("portcullis-tls", ".key"), "not a key\n");
        for (Path p : List.of(crt, key, otherKey, notPem)) {
            p.toFile().deleteOnExit();
        }
        String tls = "max-body-size: 64KiB, tls: { certificate: %s, private-key: %s }";
        cases.add(Arguments.of("TLS certificate and its key",
                config("", "").replace("max-body-size: 64KiB", tls.formatted(crt, key)), true));
        cases.add(Arguments.of("TLS key of another certificate",
                config("", "").replace("max-body-size: 64KiB", tls.formatted(crt, otherKey)), false));
        cases.add(Arguments.of("TLS key that is not PEM",
                config("", "").replace("max-body-size: 64KiB", tls.formatted(crt, notPem)), false));
        cases.add(Arguments.of("null alias", config("resource-aliases: [~]", ""), false));
        cases.add(Arguments.of("blank alias", config("resource-aliases: [\" \"]", ""), false));
        cases.add(Arguments.of("missing policy file", config("policy: " + dir + "/none.yaml", ""), false));
        return cases.stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("trickyConfigs")
    void checkOkMeansTheGatewayStarts(String name, String yaml, boolean valid) throws Exception {
        Path file = Files.writeString(Files.createTempFile(dir, "gateway", ".yaml"), yaml);
        Cli check = Cli.run("check", "--config", file.toString());
        assertThat(check.exit()).as(check.err()).isEqualTo(valid ? 0 : 1);
        assertThat(check.err()).doesNotContain("\tat ", "Caused by");
        if (check.exit() == 0) {
            try (Gateway gateway = Gateway.start(ConfigLoader.load(file))) {
                assertThat(gateway.port()).isPositive();
            }
        } else {
            assertThat(check.errLines()).isNotEmpty().allSatisfy(line -> assertThat(line).startsWith(file.toString()));
        }
    }

    /** Every example config in the repository (config/gateway.yaml, config/examples/*.yaml) passes check, and check builds what run builds from it. */
    @Test
    void everyExampleConfigPassesCheckAndBuildsAsRunBuildsIt() throws IOException {
        List<Path> examples = new ArrayList<>();
        examples.add(Path.of("..", "config", "gateway.yaml"));
        // bench/conf holds templates (@@PORT@@), deploy/ is loaded by DeployManifestsTest against the pod's files.
        for (Path folder : List.of(Path.of("..", "config", "examples"))) {
            if (Files.isDirectory(folder)) {
                try (Stream<Path> files = Files.list(folder)) {
                    files.filter(f -> f.toString().endsWith(".yaml") && !f.getFileName().toString().startsWith("policy"))
                            .sorted().forEach(examples::add);
                }
            }
        }
        assertThat(examples).isNotEmpty();
        for (Path example : examples) {
            // The IdP examples take the client secret from ${PORTCULLIS_CLIENT_SECRET}: ConfigExamplesTest runs
            // check on them in a child JVM with that variable set; here the in-process check covers the rest.
            boolean needsSecret = Files.readString(example).contains("${PORTCULLIS_CLIENT_SECRET}");
            if (!needsSecret) {
                Cli check = Cli.run("check", "--config", example.toString());
                assertThat(check.exit()).as(example + ": " + check.err()).isZero();
            }
            java.util.function.Function<String, String> env = name -> name.equals("PORTCULLIS_CLIENT_SECRET") ? "s3cret"
                    : System.getenv(name);
            try (Gateway.Assembly built = Gateway.Assembly.build(ConfigLoader.load(example, env))) {
                assertThat(built.routes).as(example.toString()).isNotEmpty();
            }
        }
    }
}
