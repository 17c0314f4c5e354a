package dev.portcullis.app;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Every file in {@code config/examples/} passes {@code portcullis check}, run as an operator runs it: a child
 * JVM with the module's classpath, {@code Main check --config FILE}, the secret in the environment. A file
 * with an IdP's typical mistake fails with one line naming file, line and field (issue 15).
 */
class ConfigExamplesTest {
    private static final Path MODULE_DIR =
            Path.of(System.getProperty("basedir", System.getProperty("user.dir"))).toAbsolutePath();
    private static final Path EXAMPLES = MODULE_DIR.getParent().resolve("config/examples");
    private static final Path OUT = MODULE_DIR.resolve("target/examples-check");

    record Result(int exit, String out, String err) {}

    static Result check(Path config) throws IOException, InterruptedException {
        Files.createDirectories(OUT);
        String name = config.getFileName().toString();
        Path out = OUT.resolve(name + ".out");
        Path err = OUT.resolve(name + ".err");
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xshare:auto", "-XX:TieredStopAtLevel=1", "-cp", System.getProperty("java.class.path"),
                "dev.portcullis.app.Main", "check", "--config", config.toString()));
        ProcessBuilder pb = new ProcessBuilder(command).redirectOutput(out.toFile()).redirectError(err.toFile());
        pb.environment().clear();
        pb.environment().put("PORTCULLIS_CLIENT_SECRET", "example-secret-not-real");
        Process process = pb.start();
        if (!process.waitFor(90, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            throw new AssertionError("check " + config + " did not finish in 90 s");
        }
        return new Result(process.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
                Files.readString(err, StandardCharsets.UTF_8));
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"keycloak.yaml", "entra.yaml", "okta.yaml", "auth0.yaml", "zitadel.yaml", "generic.yaml"})
    void examplePassesCheck(String file) throws Exception {
        Path config = EXAMPLES.resolve(file);
        Result result = check(config);
        assertThat(result.exit()).as(result.err()).isZero();
        assertThat(result.out()).contains(config + ": OK").contains("notes.yaml: OK");
        assertThat(result.out() + result.err()).doesNotContain("example-secret-not-real");
    }

    @Test
    void everyExampleIsChecked() throws IOException {
        try (var files = Files.list(EXAMPLES)) {
            assertThat(files.filter(f -> f.toString().endsWith(".yaml")).map(f -> f.getFileName().toString()))
                    .containsExactlyInAnyOrder("keycloak.yaml", "entra.yaml", "okta.yaml", "auth0.yaml", "zitadel.yaml",
                            "generic.yaml");
        }
    }

    /** The Entra authority written where the issuer belongs, and a multi-tenant template without multi-tenant. */
    @Test
    void typicalIdpMistakesNameFileLineAndField() throws Exception {
        Path dir = OUT.resolve("broken");
        Files.createDirectories(dir.resolve("policies"));
        Files.copy(EXAMPLES.resolve("policies/notes.yaml"), dir.resolve("policies/notes.yaml"),
                java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        String entra = Files.readString(EXAMPLES.resolve("entra.yaml"));
        String issuerLine = "  - issuer: https://login.microsoftonline.com/8f7c1c2e-4b7a-4d7e-9a1f-3c2b1a0f9e8d/v2.0";
        int line = entra.substring(0, entra.indexOf(issuerLine)).split("\n", -1).length;

        Path authority = dir.resolve("entra-authority.yaml");
        Files.writeString(authority, entra.replace(issuerLine, issuerLine.replace("/v2.0", "/")));
        Result a = check(authority);
        assertThat(a.exit()).isEqualTo(1);
        assertThat(a.err().strip()).startsWith(authority + ":" + line + ": issuers[0].issuer: ")
                .contains("is the authority, not the iss of any token").doesNotContain("Exception");

        Path template = dir.resolve("entra-template.yaml");
        Files.writeString(template, entra.replace(issuerLine, "  - issuer: https://login.microsoftonline.com/{tenantid}/v2.0"));
        Result t = check(template);
        assertThat(t.exit()).isEqualTo(1);
        assertThat(t.err().strip()).startsWith(template + ":" + line + ": issuers[0].issuer: ")
                .contains("every Entra tenant").contains("multi-tenant: true");
    }
}
