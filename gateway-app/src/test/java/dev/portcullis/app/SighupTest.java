package dev.portcullis.app;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.condition.DisabledOnOs;
import org.junit.jupiter.api.condition.OS;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 12 item 16: SIGHUP stopped the gateway (the JVM's default action). Since issue 14 it reloads the
 * configuration. Proven on a real process: {@code portcullis run} is started,
 * sent SIGHUP by its PID, must log the line and keep serving, and is then stopped by its PID.
 */
class SighupTest {
    private static final Pattern LISTENING = Pattern.compile("listening on 127\\.0\\.0\\.1:(\\d+) .*admin on 127\\.0\\.0\\.1:(\\d+)");

    @TempDir
    Path dir;

    @Test
    @DisabledOnOs(OS.WINDOWS)
    @Timeout(value = 90, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void sighupDoesNotStopTheGatewayItReloadsAndKeepsServing() throws Exception {
        Path config = Files.writeString(dir.resolve("gateway.yaml"), """
                listen: { host: 127.0.0.1, port: 0, allowed-hosts: [127.0.0.1] }
                admin: { host: 127.0.0.1, port: 0 }
                issuers: [ { issuer: "http://127.0.0.1:9/realm", jwks-uri: "http://127.0.0.1:9/certs" } ]
                routes: [ { name: r, path: /mcp, upstream: "http://127.0.0.1:9/mcp", resource: "https://gw.example.com/mcp" } ]
                """);
        String java = ProcessHandle.current().info().command().orElse("java");
        Process gateway = new ProcessBuilder(java, "-Xmx128m", "-XX:TieredStopAtLevel=1",
                "-cp", System.getProperty("java.class.path"), Main.class.getName(), "run", "--config", config.toString())
                .redirectErrorStream(true).start();
        List<String> output = new CopyOnWriteArrayList<>();
        Thread reader = new Thread(() -> {
            try (BufferedReader lines = new BufferedReader(new InputStreamReader(gateway.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line; (line = lines.readLine()) != null; ) {
                    output.add(line);
                }
            } catch (java.io.IOException ended) {
                // the process is gone
            }
        }, "sighup-test-output");
        reader.setDaemon(true);
        reader.start();
        try {
            Matcher ports = await(output, LISTENING, 60);
            int port = Integer.parseInt(ports.group(1));
            int adminPort = Integer.parseInt(ports.group(2));

            Process kill = new ProcessBuilder("kill", "-HUP", Long.toString(gateway.pid())).inheritIO().start();
            assertThat(kill.waitFor(10, TimeUnit.SECONDS)).isTrue();
            assertThat(kill.exitValue()).isZero();
            // Issue 14: SIGHUP reloads gateway.yaml (the same file here: reloaded as it is).
            await(output, Pattern.compile("SIGHUP received: reloading the configuration"), 20);
            await(output, Pattern.compile("config .* reloaded \\(SIGHUP\\)"), 30);

            Thread.sleep(300);
            assertThat(gateway.isAlive()).as(String.join("\n", output)).isTrue();
            HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
            HttpResponse<String> health = http.send(HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + adminPort + "/healthz")).timeout(Duration.ofSeconds(5)).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(health.statusCode()).isEqualTo(200);
            HttpResponse<String> unauthenticated = http.send(HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + port + "/mcp")).timeout(Duration.ofSeconds(5))
                    .POST(HttpRequest.BodyPublishers.ofString("{}")).header("Content-Type", "application/json").build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(unauthenticated.statusCode()).isEqualTo(401);
        } finally {
            gateway.destroy(); // SIGTERM to this PID only
            if (!gateway.waitFor(30, TimeUnit.SECONDS)) {
                gateway.destroyForcibly();
                gateway.waitFor(10, TimeUnit.SECONDS);
            }
        }
    }

    private static Matcher await(List<String> output, Pattern pattern, int seconds) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (System.nanoTime() < deadline) {
            for (String line : output) {
                Matcher m = pattern.matcher(line);
                if (m.find()) {
                    return m;
                }
            }
            Thread.sleep(50);
        }
        throw new AssertionError("no line matching " + pattern + " in:\n" + String.join("\n", output));
    }
}
