package dev.portcullis.authz;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 14: a policy file that cannot be read was reported (an ERROR line, a failure count) on every
 * check, every 2 s. It is now reported once per change of state, and the stale state is readable
 * ({@link PolicySource#staleReason()}, shown on /readyz) until the file is good again.
 */
class PolicySourceStaleTest {
    @TempDir
    Path dir;

    @Test
    void anUnreadablePolicyFileIsReportedOncePerChangeOfStateNotOnEveryCheck() throws Exception {
        Path file = Files.writeString(dir.resolve("policy.yaml"), "default: deny\ntools:\n  echo: {}\n");
        SimpleMeterRegistry metrics = new SimpleMeterRegistry();
        PolicySource source = PolicySource.load("r", file, metrics);
        assertThat(source.staleReason()).isNull();

        Files.delete(file);
        for (int check = 0; check < 5; check++) {
            assertThat(source.reloadIfChanged()).isFalse();
        }
        assertThat(failures(metrics)).isEqualTo(1.0);
        assertThat(source.staleReason()).startsWith("cannot read").contains("policy.yaml");

        // Back, unchanged: no longer stale, nothing reloaded.
        Files.writeString(file, "default: deny\ntools:\n  echo: {}\n");
        assertThat(source.reloadIfChanged()).isFalse();
        assertThat(source.staleReason()).isNull();

        // Invalid: stale once, the last good policy stays in force.
        Files.writeString(file, "default: maybe\n");
        for (int check = 0; check < 5; check++) {
            assertThat(source.reloadIfChanged()).isFalse();
        }
        assertThat(failures(metrics)).isEqualTo(2.0);
        assertThat(source.staleReason()).startsWith("invalid policy");
        assertThat(source.loaded().policy().rules()).isNotEmpty();

        Files.writeString(file, "default: deny\ntools:\n  echo: {}\n  whoami: {}\n");
        assertThat(source.reloadIfChanged()).isTrue();
        assertThat(source.staleReason()).isNull();
    }

    private static double failures(SimpleMeterRegistry metrics) {
        var counter = metrics.find("portcullis.policy.reloads").tag("outcome", "failure").counter();
        return counter == null ? 0 : counter.count();
    }
}
