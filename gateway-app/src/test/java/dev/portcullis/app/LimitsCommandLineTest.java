package dev.portcullis.app;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Issue 18: {@code check} lists a policy's limits and refuses a bad one by file, line and field; {@code explain} names them. */
class LimitsCommandLineTest {
    private static final String POLICY = """
            default: deny
            limits:
              default: 1000/day per subject
              fail: closed
            tools:
              echo:
                limits: [20/min per subject+agent, 2 concurrent]
            """;

    @Test
    void checkListsTheLimitsAndTheirFailMode(@TempDir Path dir) throws Exception {
        Path policy = Files.writeString(dir.resolve("policy.yaml"), POLICY);
        Cli check = Cli.run("check", "--policy", policy.toString());
        assertThat(check.exit()).as(check.err()).isZero();
        assertThat(check.out()).contains("limit tools.echo#0: 20/min per subject+agent")
                .contains("limit tools.echo#1: 2 concurrent (one counter for the route)")
                .contains("limit limits.default#0: 1000/day per subject")
                .contains("limits fail mode: closed");
    }

    @Test
    void checkRefusesABadLimitNamingFileLineAndField(@TempDir Path dir) throws Exception {
        Path policy = Files.writeString(dir.resolve("policy.yaml"), POLICY.replace("2 concurrent", "2 at once"));
        Cli check = Cli.run("check", "--policy", policy.toString());
        assertThat(check.exit()).isEqualTo(1);
        assertThat(check.err()).startsWith(policy + ":7: tools.echo.limits[1]: \"2 at once\" (expected: a limit such as");
    }

    @Test
    void explainNamesTheLimitsTheCallCountsAgainst(@TempDir Path dir) throws Exception {
        Path policy = Files.writeString(dir.resolve("policy.yaml"), POLICY.replace("echo:\n", "echo:\n    scopes: [mcp:tools]\n"));
        Path claims = Files.writeString(dir.resolve("claims.json"),
                "{\"iss\":\"https://idp.example.com\",\"sub\":\"alice\",\"client_id\":\"agent-1\",\"scope\":\"mcp:tools\"}");
        Cli explain = Cli.run("explain", "--policy", policy.toString(), "--claims", claims.toString(), "--tool", "echo");
        assertThat(explain.exit()).as(explain.err()).isZero();
        assertThat(explain.out()).contains("limit:").contains("tools.echo#0: 20/min per subject+agent")
                .contains("limits.default#0: 1000/day per subject");
    }
}
