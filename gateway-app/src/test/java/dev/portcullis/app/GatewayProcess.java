package dev.portcullis.app;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code portcullis run --config FILE} in a process of its own (the test classpath), its output collected
 * line by line; signals go to its PID only. For the issue 14 tests (drain on SIGTERM, reload on SIGHUP).
 */
final class GatewayProcess implements AutoCloseable {
    private static final Pattern LISTENING = Pattern.compile("listening on 127\\.0\\.0\\.1:(\\d+) .*admin on 127\\.0\\.0\\.1:(\\d+)");
    static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    final Process process;
    final List<String> output = new CopyOnWriteArrayList<>();
    final int port;
    final int adminPort;

    private GatewayProcess(Path config) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        process = new ProcessBuilder(java, "-Xmx192m", "-XX:TieredStopAtLevel=1",
                "-cp", System.getProperty("java.class.path"), Main.class.getName(), "run", "--config", config.toString())
                .redirectErrorStream(true).start();
        Thread reader = new Thread(() -> {
            try (BufferedReader lines = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line; (line = lines.readLine()) != null; ) {
                    output.add(line);
                }
            } catch (IOException ended) {
                // the process is gone
            }
        }, "gateway-process-output");
        reader.setDaemon(true);
        reader.start();
        try {
            Matcher ports = await(LISTENING, 60);
            port = Integer.parseInt(ports.group(1));
            adminPort = Integer.parseInt(ports.group(2));
        } catch (AssertionError | RuntimeException e) {
            close();
            throw e;
        }
    }

    static GatewayProcess start(Path config) throws Exception {
        return new GatewayProcess(config);
    }

    /** Waits until /readyz answers 200. */
    GatewayProcess awaitReady(int seconds) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (System.nanoTime() < deadline) {
            assertThat(process.isAlive()).as("gateway exited early:%n%s", log()).isTrue();
            if (readyz().statusCode() == 200) {
                return this;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("not ready within " + seconds + " s:\n" + log());
    }

    HttpResponse<String> readyz() throws IOException, InterruptedException {
        return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + adminPort + "/readyz"))
                .timeout(Duration.ofSeconds(3)).build(), HttpResponse.BodyHandlers.ofString());
    }

    String metrics() throws IOException, InterruptedException {
        return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + adminPort + "/metrics"))
                .timeout(Duration.ofSeconds(3)).build(), HttpResponse.BodyHandlers.ofString()).body();
    }

    String url(String path) {
        return "http://127.0.0.1:" + port + path;
    }

    /** Sends {@code signal} (TERM, HUP) to this process's PID with kill(1). */
    void signal(String signal) throws Exception {
        Process kill = new ProcessBuilder("kill", "-" + signal, Long.toString(process.pid())).inheritIO().start();
        assertThat(kill.waitFor(10, TimeUnit.SECONDS)).isTrue();
        assertThat(kill.exitValue()).isZero();
    }

    /** The first output line matching {@code pattern}, waiting up to {@code seconds}. */
    Matcher await(Pattern pattern, int seconds) throws InterruptedException {
        return awaitFrom(0, pattern, seconds);
    }

    /** Like {@link #await}, among the lines from index {@code from} on. */
    Matcher awaitFrom(int from, Pattern pattern, int seconds) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (System.nanoTime() < deadline) {
            List<String> lines = List.copyOf(output);
            for (int i = from; i < lines.size(); i++) {
                Matcher m = pattern.matcher(lines.get(i));
                if (m.find()) {
                    return m;
                }
            }
            Thread.sleep(50);
        }
        throw new AssertionError("no line matching " + pattern + " in:\n" + log());
    }

    long count(Pattern pattern) {
        return output.stream().filter(line -> pattern.matcher(line).find()).count();
    }

    String log() {
        return String.join("\n", output);
    }

    @Override
    public void close() {
        if (process.isAlive()) {
            process.destroy(); // SIGTERM to this PID only
            try {
                if (!process.waitFor(30, TimeUnit.SECONDS)) {
                    process.destroyForcibly();
                    process.waitFor(10, TimeUnit.SECONDS);
                }
            } catch (InterruptedException e) {
                process.destroyForcibly();
                Thread.currentThread().interrupt();
            }
        }
    }

    /** Every line {@code reader} still gives, read on another thread until the stream ends. */
    static java.util.concurrent.CompletableFuture<java.util.List<String>> rest(java.io.BufferedReader reader) {
        return java.util.concurrent.CompletableFuture.supplyAsync(() -> {
            java.util.List<String> lines = new java.util.ArrayList<>();
            try (reader) {
                for (String line; (line = reader.readLine()) != null; ) {
                    lines.add(line);
                }
            } catch (IOException e) {
                lines.add("READ FAILED: " + e);
            }
            return lines;
        });
    }
}
