package dev.portcullis.config;

import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * The audit trail: one JSON event per decision on the {@code portcullis.audit} logger.
 *
 * @param arguments what is kept of tool arguments: {@code digest} (default, SHA-256 of the canonical
 *                  JSON), {@code none}, {@code keys} (top-level names), {@code full} (with {@link #redact})
 * @param redact    dot paths replaced by {@code "[redacted]"} in {@code full} mode
 * @param file      write audit events to this file instead of stdout
 * @param output    where the events go: {@code stdout} (default), {@code stderr}, or {@code file} (implied by
 *                  {@link #file}); the operational log is written to stderr, so by default the two never share
 *                  a stream
 * @param queueSize events buffered between the request path and the writer (default 8192); when full,
 *                  new events are dropped rather than blocking requests, and counted in
 *                  {@code portcullis_audit_events_dropped_total}
 */
public record AuditConfig(String arguments, List<String> redact, Path file, Integer queueSize, String output) {
    private static final Set<String> OUTPUTS = Set.of("stdout", "stderr", "file");

    private static final Set<String> MODES = Set.of("digest", "none", "keys", "full");

    public AuditConfig {
        arguments = arguments == null ? "digest" : arguments.toLowerCase(Locale.ROOT);
        if (!MODES.contains(arguments)) {
            throw ConfigException.expected("arguments", arguments, "digest, none, keys or full");
        }
        redact = redact == null ? List.of() : List.copyOf(redact);
        queueSize = queueSize == null ? 8192 : queueSize;
        output = output == null ? (file != null ? "file" : "stdout") : output.toLowerCase(Locale.ROOT);
        if (!OUTPUTS.contains(output)) {
            throw ConfigException.expected("output", output, "stdout, stderr or file");
        }
        if (output.equals("file") && file == null) {
            throw ConfigException.expected("output", output, "file only with audit.file naming the file");
        }
        if (!output.equals("file") && file != null) {
            throw ConfigException.expected("output", output, "file (or leave output out) when audit.file is set");
        }
        if (queueSize < 16 || queueSize > 1_000_000) {
            throw ConfigException.expected("queue-size", queueSize, "16..1000000");
        }
    }

    public static AuditConfig defaults() {
        return new AuditConfig(null, null, null, null, null);
    }
}
