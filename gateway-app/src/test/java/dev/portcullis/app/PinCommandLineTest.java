package dev.portcullis.app;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 17: {@code portcullis pin} tells the operator what is wrong in one line, and never writes a pins file it could
 * not fill. No upstream runs here: the addresses refuse connections.
 */
class PinCommandLineTest {
    @TempDir
    Path dir;

    private Path config(String upstreamAuth) throws Exception {
        int closed = dev.portcullis.testing.Ports.free(); // nothing listens there
        return Files.writeString(dir.resolve("gateway.yaml"), """
                listen: { host: 127.0.0.1, port: 0 }
                admin: { host: 127.0.0.1, port: 0 }
                issuers:
                  - issuer: http://127.0.0.1:%1$d/idp
                    jwks-uri: http://127.0.0.1:%1$d/jwks
                    allow-insecure-http: true
                routes:
                  - name: one
                    path: /one
                    upstream: http://127.0.0.1:%1$d/mcp
                    resource: https://gw.example.com/one
                    %2$s
                  - name: two
                    path: /two
                    upstream: http://127.0.0.1:%1$d/mcp
                    resource: https://gw.example.com/two
                """.formatted(closed, upstreamAuth));
    }

    private static void oneLine(Cli result, int exit) {
        assertThat(result.exit()).as(result.err()).isEqualTo(exit);
        assertThat(result.errLines()).as(result.err()).hasSize(1);
        assertThat(result.err()).doesNotContain("\tat ", "Exception in thread");
    }

    @Test
    void anUnreachableUpstreamIsOneLineAndNoFileIsWritten() throws Exception {
        Path config = config("");
        Cli result = Cli.run("pin", "--config", config.toString(), "--route", "one");
        oneLine(result, 1);
        assertThat(result.err()).startsWith("pin: initialize: http://127.0.0.1:").contains("cannot be reached");
        assertThat(dir.resolve("pins.yaml")).doesNotExist();
    }

    @Test
    void severalRoutesNeedARouteAndAnUnknownOneIsNamed() throws Exception {
        Path config = config("");
        Cli none = Cli.run("pin", "--config", config.toString());
        oneLine(none, 2);
        assertThat(none.err()).isEqualTo("pin: name the route with --route (the config has 2: one, two)\n");
        Cli wrong = Cli.run("pin", "--config", config.toString(), "--route", "three");
        oneLine(wrong, 2);
        assertThat(wrong.err()).contains("no route named \"three\"");
    }

    @Test
    void aRouteThatExchangesACallersTokenNeedsATokenFromTheEnvironmentNeverFromTheCommandLine() throws Exception {
        Path config = config("""
                upstream-auth:
                      type: token-exchange
                      token-endpoint: http://127.0.0.1:9/token
                      client-id: gw
                      client-secret: s3cret
                      audience: upstream-api""");
        Cli result = Cli.run("pin", "--config", config.toString(), "--route", "one");
        oneLine(result, 2);
        assertThat(result.err()).contains("upstream-auth token-exchange", "--upstream-token-env").doesNotContain("s3cret");
        Cli unset = Cli.run("pin", "--config", config.toString(), "--route", "one", "--upstream-token-env",
                "PORTCULLIS_TEST_SURELY_UNSET_VARIABLE");
        oneLine(unset, 2);
        assertThat(unset.err()).contains("PORTCULLIS_TEST_SURELY_UNSET_VARIABLE: the variable is not set");
    }
}
