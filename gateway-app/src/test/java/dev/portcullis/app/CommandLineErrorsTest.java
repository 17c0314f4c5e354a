package dev.portcullis.app;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Issue 12 item 15: every subcommand answers {@code --help}; malformed {@code --arguments}, an
 * unreadable file and a port in use each give one clear line and a non-zero exit, never a stack
 * trace; {@code check} reports every problem of the config and its policies in one run.
 */
class CommandLineErrorsTest {
    @TempDir
    Path dir;

    private static void oneLineNoStackTrace(Cli result) {
        assertThat(result.exit()).as(result.err()).isNotZero();
        assertThat(result.errLines()).as(result.err()).hasSize(1);
        assertThat(result.err()).doesNotContain("\tat ", "Exception in thread", "Caused by");
    }

    @ParameterizedTest
    @ValueSource(strings = {"run", "check", "explain", "pin", "demo"})
    void everySubcommandAnswersHelp(String subcommand) {
        Cli result = Cli.run(subcommand, "--help");
        assertThat(result.exit()).as(result.err()).isZero();
        assertThat(result.out()).startsWith("Usage: portcullis " + subcommand);
        assertThat(result.err()).isEmpty();
    }

    @Test
    void malformedArgumentsJsonIsOneLine() throws Exception {
        Path policy = Files.writeString(dir.resolve("p.yaml"), "tools:\n  echo: {}\n");
        Path claims = Files.writeString(dir.resolve("claims.json"), "{\"sub\":\"alice\"}");
        Cli result = Cli.run("explain", "--policy", policy.toString(), "--claims", claims.toString(),
                "--tool", "echo", "--arguments", "{\"path\": ");
        oneLineNoStackTrace(result);
        assertThat(result.err()).startsWith("--arguments: not valid JSON (");
        Cli duplicate = Cli.run("explain", "--policy", policy.toString(), "--claims", claims.toString(),
                "--tool", "echo", "--arguments", "{\"a\": 1, \"a\": 2}");
        oneLineNoStackTrace(duplicate);
        assertThat(duplicate.err()).startsWith("--arguments: not valid JSON (Duplicate field 'a'");
    }

    @Test
    void unreadableFilesAreOneLine() throws Exception {
        Path policy = Files.writeString(dir.resolve("p.yaml"), "tools:\n  echo: {}\n");
        Path missing = dir.resolve("missing.json");
        Cli claims = Cli.run("explain", "--policy", policy.toString(), "--claims", missing.toString(), "--tool", "echo");
        oneLineNoStackTrace(claims);
        assertThat(claims.err()).isEqualTo(missing + ": cannot be read (NoSuchFileException)\n");

        Cli config = Cli.run("check", "--config", missing.toString());
        oneLineNoStackTrace(config);
        assertThat(config.err()).startsWith(missing + ": cannot be read");
        Cli run = Cli.run("run", "--config", missing.toString());
        oneLineNoStackTrace(run);
        Cli policyFile = Cli.run("check", "--policy", dir.toString());
        oneLineNoStackTrace(policyFile);
        assertThat(policyFile.err()).startsWith(dir + ": cannot be read");

        Path duplicateClaims = Files.writeString(dir.resolve("dup.json"), "{\"sub\":\"a\",\"roles\":[],\"roles\":[\"admin\"]}");
        Cli dup = Cli.run("explain", "--policy", policy.toString(), "--claims", duplicateClaims.toString(), "--tool", "echo");
        oneLineNoStackTrace(dup);
        assertThat(dup.err()).startsWith(duplicateClaims + ": claims: not valid JSON (Duplicate field 'roles'");
    }

    @Test
    void aPortAlreadyInUseIsOneLine() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            Path config = Files.writeString(dir.resolve("gateway.yaml"), """
                    listen: { host: 127.0.0.1, port: %d }
                    admin: { host: 127.0.0.1, port: 0 }
                    issuers: [ { issuer: "http://127.0.0.1:9/realm", jwks-uri: "http://127.0.0.1:9/certs" } ]
                    routes: [ { name: r, path: /mcp, upstream: "http://127.0.0.1:9/mcp", resource: "https://gw.example.com/mcp" } ]
                    """.formatted(taken.getLocalPort()));
            Cli result = Cli.run("run", "--config", config.toString());
            oneLineNoStackTrace(result);
            assertThat(result.err()).isEqualTo("listen 127.0.0.1:" + taken.getLocalPort()
                    + ": cannot listen: address already in use (another process has the port)\n");
        }
    }

    @Test
    void checkReportsEveryProblemOfTheConfigAndItsPoliciesInOneRun() throws Exception {
        Path broken = Files.writeString(dir.resolve("broken.yaml"), """
                default: deny
                tools:
                  echo: { scopes: "mcp:read" }
                  echo: {}
                """);
        Path alsoBroken = Files.writeString(dir.resolve("also.yaml"), "tools:\n  x: { rolez: [a] }\n");
        Path config = Files.writeString(dir.resolve("gateway.yaml"), """
                listen: { host: 127.0.0.1, port: 0, max-body-size: lots }
                issuers: [ { issuer: "http://127.0.0.1:9/realm", algorithms: [HS256] } ]
                routes:
                  - { name: a, path: /a, upstream: "http://127.0.0.1:9/mcp", resource: "https://gw.example.com/a", policy: broken.yaml }
                  - { name: b, path: /b, upstream: "http://127.0.0.1:9/mcp", resource: "https://gw.example.com/b", policy: also.yaml }
                  - { name: c, path: c, upstream: "http://127.0.0.1:9/mcp", resource: "https://gw.example.com/c" }
                """);
        Cli result = Cli.run("check", "--config", config.toString());
        assertThat(result.exit()).isEqualTo(1);
        assertThat(result.errLines()).containsExactly(
                config + ":1: listen.max-body-size: \"lots\" (expected: a size such as 4096, 16KiB, 4MiB)",
                config + ":2: issuers[0].algorithms: \"HS256\" (expected: one of [ES256, ES384, ES512, PS256, PS384, PS512,"
                        + " RS256, RS384, RS512] (asymmetric only; none and HS* are never accepted))",
                config + ":6: routes[2].path: \"c\" (expected: starts with \"/\", no trailing \"/\", no query, not under /.well-known)",
                broken + ":4: tools.echo: written twice in one mapping (first at line 3; expected: each key once)",
                alsoBroken + ":2: tools.x.rolez: unknown key (expected one of: actors, agents, approval, arguments, deny, limits, roles, scopes)");
        assertThat(result.out()).isEmpty();
    }
}
