package dev.portcullis.config;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * OpenTelemetry traces (issue 15), off by default. Anything left out here may come from the standard
 * {@code OTEL_*} environment variables ({@code OTEL_TRACES_EXPORTER}, {@code OTEL_EXPORTER_OTLP_ENDPOINT},
 * {@code OTEL_EXPORTER_OTLP_HEADERS}, {@code OTEL_TRACES_SAMPLER}, {@code OTEL_TRACES_SAMPLER_ARG},
 * {@code OTEL_SERVICE_NAME}); a value given here wins over the environment.
 *
 * @param enabled       export traces; absent: on only when {@code OTEL_TRACES_EXPORTER} names an exporter
 *                      (other than {@code none})
 * @param endpoint      the OTLP/HTTP base URL ({@code http://collector:4318}; {@code /v1/traces} is appended)
 * @param headersFile   a file of {@code name=value} lines sent with every export (an API key, say); kept
 *                      out of {@code gateway.yaml} because it is a secret; its content is never logged
 * @param samplingRatio the share of new traces kept, 0..1 (default 1); a caller's sampled flag is followed
 * @param serviceName   {@code service.name} of the spans (default {@code portcullis})
 */
public record TracingConfig(Boolean enabled, String endpoint, Path headersFile, Double samplingRatio, String serviceName) {
    public TracingConfig {
        if (endpoint != null) {
            URI uri;
            try {
                uri = URI.create(endpoint);
            } catch (IllegalArgumentException e) {
                throw ConfigException.expected("endpoint", endpoint, "an http(s) URL such as http://collector:4318");
            }
            String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
            if (!(scheme.equals("http") || scheme.equals("https")) || uri.getHost() == null
                    || uri.getRawUserInfo() != null || uri.getRawQuery() != null) {
                throw ConfigException.expected("endpoint", endpoint,
                        "an http(s) URL without credentials or query, such as http://collector:4318");
            }
        }
        if (samplingRatio != null && !(samplingRatio >= 0.0 && samplingRatio <= 1.0)) {
            throw ConfigException.expected("sampling-ratio", samplingRatio, "a number from 0 to 1");
        }
        if (serviceName != null && serviceName.isBlank()) {
            throw ConfigException.expected("service-name", serviceName, "a non-empty name");
        }
        if (headersFile != null) {
            readHeaders(headersFile);
        }
    }

    public static TracingConfig defaults() {
        return new TracingConfig(null, null, null, null, null);
    }

    /** The export headers of {@link #headersFile}, in order; empty when there is no file. */
    public Map<String, String> headers() {
        return headersFile == null ? Map.of() : readHeaders(headersFile);
    }

    /** {@code name=value} per line; blank lines and {@code #} comments skipped. Values are never part of an error. */
    private static Map<String, String> readHeaders(Path file) {
        String text;
        try {
            text = Files.readString(file);
        } catch (IOException e) {
            throw ConfigException.expected("headers-file", file.toString(), "a readable file of name=value lines");
        }
        Map<String, String> headers = new LinkedHashMap<>();
        String[] lines = text.split("\r?\n");
        for (int i = 0; i < lines.length; i++) {
            String line = lines[i].strip();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            int eq = line.indexOf('=');
            String name = eq <= 0 ? "" : line.substring(0, eq).strip();
            if (name.isEmpty() || !name.chars().allMatch(c -> c > 32 && c < 127 && "()<>@,;:\\\"/[]?={}".indexOf(c) < 0)) {
                throw ConfigException.expected("headers-file", file + " line " + (i + 1),
                        "name=value lines with a header name before '='");
            }
            headers.put(name, line.substring(eq + 1).strip());
        }
        return headers;
    }
}
