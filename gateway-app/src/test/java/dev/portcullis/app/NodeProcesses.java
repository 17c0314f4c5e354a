package dev.portcullis.app;

import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.function.Supplier;

/**
 * Child Node.js processes for the interop and conformance tests: find {@code node}, start a
 * server and wait for its readiness line, run a script to completion with a deadline, stop a
 * child by its {@link Process} handle. Every child gets an empty environment apart from what the
 * test passes (tokens travel in the environment, never in argv), binds 127.0.0.1 only, and writes
 * to {@code target/interop/}.
 */
final class NodeProcesses {
    static final Path MODULE_DIR =
            Path.of(System.getProperty("basedir", System.getProperty("user.dir"))).toAbsolutePath();
    static final Path TEST_DIR = MODULE_DIR.resolve("src/test");
    static final Path OUT_DIR = MODULE_DIR.resolve("target/interop");
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int TAIL_LINES = 60;

    private NodeProcesses() {}

    /** Fails with the install hint unless every package is installed under {@code dir/node_modules}. */
    static void requireInstalled(Path dir, String... packages) {
        for (String pkg : packages) {
            Path installed = dir.resolve("node_modules").resolve(pkg);
            if (!Files.isDirectory(installed)) {
                fail(installed + " is missing: run npm ci in " + MODULE_DIR.relativize(dir)
                        + "; mvn verify does it via exec-maven-plugin (profile interop-npm)");
            }
        }
    }

    /** {@code -Dportcullis.node}, else {@code node} on PATH (Node.js 20 or later). */
    static String findNode() {
        String configured = System.getProperty("portcullis.node");
        if (configured != null && !configured.isBlank()) {
            return configured;
        }
        String path = System.getenv("PATH");
        if (path != null) {
            for (String dir : path.split(File.pathSeparator)) {
                for (String name : List.of("node", "node.exe")) {
                    Path candidate = Path.of(dir.isEmpty() ? "." : dir, name);
                    if (Files.isRegularFile(candidate) && Files.isExecutable(candidate)) {
                        return candidate.toAbsolutePath().toString();
                    }
                }
            }
        }
        return fail("node (Node.js 20 or later) is not on PATH; install it or pass -Dportcullis.node=/path/to/node");
    }

    /**
     * Starts {@code command} in {@code dir} with only {@code env}, output (stdout and stderr) to
     * {@code log}, and waits until the log contains {@code marker}; fails early if it exits.
     */
    static Process start(List<String> command, Path dir, Map<String, String> env, Path log, String marker,
                         Duration timeout) throws IOException, InterruptedException {
        Files.createDirectories(log.getParent());
        ProcessBuilder pb = new ProcessBuilder(command)
                .directory(dir.toFile())
                .redirectErrorStream(true)
                .redirectOutput(log.toFile());
        pb.environment().clear();
        pb.environment().putAll(env);
        Process process = pb.start();
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            if (Files.exists(log) && Files.readString(log, StandardCharsets.UTF_8).contains(marker)) {
                return process;
            }
            if (!process.isAlive()) {
                return fail(command + " exited with " + process.exitValue() + " before printing \"" + marker
                        + "\"\n" + tailOf(log));
            }
            Thread.sleep(50);
        }
        stop(process);
        return fail(command + " did not print \"" + marker + "\" within " + timeout + "\n" + tailOf(log));
    }

    /** The first group of {@code line} once a whole line of {@code log} matches it (a process that says where it listens). */
    static String printed(Path log, java.util.regex.Pattern line, Duration timeout) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            java.util.regex.Matcher m = line.matcher(Files.readString(log, StandardCharsets.UTF_8));
            if (m.find()) {
                return m.group(1);
            }
            Thread.sleep(20);
        }
        return fail(log + " has no line matching " + line + " within " + timeout + "\n" + tailOf(log));
    }

    /** One finished run of a script: exit code, the JSON lines of its stdout, and both streams. */
    record Run(String name, int exitCode, List<JsonNode> records, String stdout, String stderr, Supplier<String> context) {
        List<JsonNode> all(String step) {
            return records.stream().filter(step(step)).toList();
        }

        JsonNode first(String step) {
            return records.get(indexOf(0, step, step(step)));
        }

        int indexOf(int from, String what, Predicate<JsonNode> matcher) {
            for (int i = from; i < records.size(); i++) {
                if (matcher.test(records.get(i))) {
                    return i;
                }
            }
            return fail("expected " + what + " after line " + from + "\n" + diagnostics());
        }

        String diagnostics() {
            return name + " exited with " + exitCode + "\n--- stdout ---\n" + stdout
                    + "--- stderr (tail) ---\n" + tail(stderr) + context.get();
        }
    }

    static Predicate<JsonNode> step(String step) {
        return r -> step.equals(r.path("step").asText());
    }

    /**
     * Runs {@code command} to completion (killed after {@code timeout}) with only {@code env};
     * stdout and stderr go to {@code target/interop/<name>.out|.err}.
     */
    static Run run(String name, List<String> command, Path dir, Map<String, String> env, Duration timeout,
                   Supplier<String> context) throws IOException, InterruptedException {
        Files.createDirectories(OUT_DIR);
        Path out = OUT_DIR.resolve(name + ".out");
        Path err = OUT_DIR.resolve(name + ".err");
        ProcessBuilder pb = new ProcessBuilder(command)
                .directory(dir.toFile())
                .redirectOutput(out.toFile())
                .redirectError(err.toFile());
        pb.environment().clear();
        pb.environment().putAll(env);
        Process process = pb.start();
        try {
            if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                stop(process);
                return fail(name + " did not finish within " + timeout + "\n--- stdout ---\n"
                        + tailOf(out) + "--- stderr (tail) ---\n" + tailOf(err) + context.get());
            }
        } finally {
            if (process.isAlive()) {
                stop(process);
            }
        }
        String stdout = Files.readString(out, StandardCharsets.UTF_8);
        String stderr = Files.readString(err, StandardCharsets.UTF_8);
        return new Run(name, process.exitValue(), jsonLines(stdout), stdout, stderr, context);
    }

    /** The lines of {@code text} that are JSON objects, parsed. */
    static List<JsonNode> jsonLines(String text) {
        List<JsonNode> records = new ArrayList<>();
        for (String line : text.split("\n")) {
            if (line.startsWith("{")) {
                try {
                    records.add(JSON.readTree(line));
                } catch (IOException e) {
                    // not a record (e.g. a stack trace line starting with "{"): ignore
                }
            }
        }
        return List.copyOf(records);
    }

    /** Stops a child by its handle: SIGTERM, then SIGKILL after a grace period; its descendants too. */
    static void stop(Process process) {
        if (process == null) {
            return;
        }
        List<ProcessHandle> descendants = process.descendants().toList();
        process.destroy();
        try {
            if (!process.waitFor(5, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
        descendants.stream().filter(ProcessHandle::isAlive).forEach(ProcessHandle::destroyForcibly);
    }

    static int freePort() {
        return dev.portcullis.testing.Ports.free(); // below the ephemeral range: no outgoing connection takes it
    }

    static String tailOf(Path file) {
        try {
            return file != null && Files.exists(file) ? tail(Files.readString(file, StandardCharsets.UTF_8)) : "(no output)\n";
        } catch (IOException e) {
            return "(unreadable: " + e + ")\n";
        }
    }

    static String tail(String text) {
        String[] lines = text.split("\n");
        int from = Math.max(0, lines.length - TAIL_LINES);
        StringBuilder sb = new StringBuilder();
        if (from > 0) {
            sb.append("… ").append(from).append(" earlier lines\n");
        }
        for (int i = from; i < lines.length; i++) {
            sb.append(lines[i]).append('\n');
        }
        return sb.toString();
    }
}
