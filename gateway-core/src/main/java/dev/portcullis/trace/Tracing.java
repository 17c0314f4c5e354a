package dev.portcullis.trace;

import dev.portcullis.config.TracingConfig;
import dev.portcullis.route.RoutedRequest;
import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.context.Context;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.autoconfigure.AutoConfiguredOpenTelemetrySdk;
import java.net.URI;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.function.ToIntFunction;
import java.util.stream.Collectors;
import reactor.core.publisher.Mono;

/**
 * The gateway's OpenTelemetry traces (issue 15): one server span per request ({@link RequestTrace}), a client
 * span for the upstream call and for each call to an identity provider ({@link #clientCall}). Off by default:
 * then {@link #OFF} hands out {@link RequestTrace#OFF}, whose methods do nothing, and the request path pays
 * one field read per hook.
 *
 * <p>Spans are exported over OTLP/HTTP by the SDK's {@code BatchSpanProcessor}: ending a span only queues it
 * (bounded, dropped when full), the export runs on the processor's own thread, never on an event loop.
 */
public final class Tracing implements AutoCloseable {
    /** Tracing off: no SDK, no spans. */
    public static final Tracing OFF = new Tracing(null, null);

    static final String INSTRUMENTATION = "dev.portcullis";
    static final AttributeKey<String> HTTP_METHOD = AttributeKey.stringKey("http.request.method");
    static final AttributeKey<Long> HTTP_STATUS = AttributeKey.longKey("http.response.status_code");
    static final AttributeKey<String> SERVER_ADDRESS = AttributeKey.stringKey("server.address");
    static final AttributeKey<Long> SERVER_PORT = AttributeKey.longKey("server.port");
    static final AttributeKey<String> URL_FULL = AttributeKey.stringKey("url.full");
    static final AttributeKey<String> ERROR_TYPE = AttributeKey.stringKey("error.type");

    private final Tracer tracer;
    private final OpenTelemetrySdk sdk;

    private Tracing(Tracer tracer, OpenTelemetrySdk sdk) {
        this.tracer = tracer;
        this.sdk = sdk;
    }

    /** Traces through {@code openTelemetry} (tests, embedding); {@link #close()} leaves it open. */
    public static Tracing of(OpenTelemetry openTelemetry) {
        return new Tracing(openTelemetry.getTracer(INSTRUMENTATION), null);
    }

    /**
     * The SDK as {@code tracing:} and the {@code OTEL_*} environment variables (and {@code otel.*} system
     * properties) say; {@link #OFF} unless {@code tracing.enabled} is true or, when it is absent,
     * {@code OTEL_TRACES_EXPORTER} names an exporter. Values in {@code tracing:} win over the environment.
     */
    public static Tracing configure(TracingConfig config, Function<String, String> env) {
        if (!wanted(config, env)) {
            return OFF;
        }
        Map<String, String> defaults = Map.of(
                "otel.traces.exporter", "otlp",
                "otel.metrics.exporter", "none",
                "otel.logs.exporter", "none",
                "otel.exporter.otlp.protocol", "http/protobuf",
                "otel.propagators", "tracecontext",
                "otel.service.name", "portcullis");
        OpenTelemetrySdk sdk = AutoConfiguredOpenTelemetrySdk.builder()
                .addPropertiesSupplier(() -> defaults)
                .addPropertiesCustomizer(properties -> overrides(config))
                .disableShutdownHook()
                .build()
                .getOpenTelemetrySdk();
        return new Tracing(sdk.getTracer(INSTRUMENTATION), sdk);
    }

    /** Whether {@link #configure} turns tracing on: {@code tracing.enabled}, or else {@code OTEL_TRACES_EXPORTER} naming an exporter. */
    public static boolean wanted(TracingConfig config, Function<String, String> env) {
        String exporter = env.apply("OTEL_TRACES_EXPORTER");
        return config.enabled() != null ? config.enabled()
                : exporter != null && !exporter.isBlank() && !exporter.strip().equalsIgnoreCase("none");
    }

    /** What {@code tracing:} sets; each wins over the same {@code OTEL_*} variable. */
    static Map<String, String> overrides(TracingConfig config) {
        Map<String, String> p = new HashMap<>();
        if (Boolean.TRUE.equals(config.enabled())) {
            p.put("otel.traces.exporter", "otlp");
        }
        if (config.endpoint() != null) {
            p.put("otel.exporter.otlp.protocol", "http/protobuf");
            p.put("otel.exporter.otlp.endpoint", config.endpoint());
        }
        if (config.headersFile() != null) {
            // The autoconfigure format: name=value pairs, comma separated, values URL-encoded (W3C baggage style).
            p.put("otel.exporter.otlp.headers", config.headers().entrySet().stream()
                    .map(h -> h.getKey() + "=" + java.net.URLEncoder.encode(h.getValue(), java.nio.charset.StandardCharsets.UTF_8)
                            .replace("+", "%20"))
                    .collect(Collectors.joining(",")));
        }
        if (config.samplingRatio() != null) {
            p.put("otel.traces.sampler", "parentbased_traceidratio");
            p.put("otel.traces.sampler.arg", Double.toString(config.samplingRatio()));
        }
        if (config.serviceName() != null) {
            p.put("otel.service.name", config.serviceName());
        }
        return p;
    }

    public boolean enabled() {
        return tracer != null;
    }

    /** The trace of one routed request: {@link RequestTrace#OFF} when tracing is off. */
    public RequestTrace request(RoutedRequest routed) {
        return tracer == null ? RequestTrace.OFF : new RequestTrace.Recording(tracer, routed);
    }

    /**
     * {@code call} inside a client span (an identity provider's metadata, key set or token endpoint), child of
     * the context current when this is called (the request's, when a request waits for it). The span holds
     * the method, the URL (configured or discovered: no credential in it) and the status; never a body.
     */
    public <T> Mono<T> clientCall(String method, URI uri, Mono<T> call, ToIntFunction<T> status) {
        if (tracer == null) {
            return call;
        }
        Context parent = Context.current();
        return Mono.defer(() -> {
            int port = uri.getPort() > 0 ? uri.getPort() : "https".equalsIgnoreCase(uri.getScheme()) ? 443 : 80;
            Span span = tracer.spanBuilder(method).setParent(parent).setSpanKind(SpanKind.CLIENT)
                    .setAttribute(HTTP_METHOD, method)
                    .setAttribute(SERVER_ADDRESS, uri.getHost())
                    .setAttribute(SERVER_PORT, (long) port)
                    .setAttribute(URL_FULL, withoutQuery(uri))
                    .startSpan();
            return call.doOnNext(value -> {
                int code = status.applyAsInt(value);
                span.setAttribute(HTTP_STATUS, (long) code);
                if (code >= 400) {
                    span.setAttribute(ERROR_TYPE, Integer.toString(code));
                    span.setStatus(StatusCode.ERROR);
                }
            }).doOnError(e -> {
                int code = e instanceof dev.portcullis.http.OutboundHttp.HttpStatusException s ? s.status() : -1;
                if (code > 0) {
                    span.setAttribute(HTTP_STATUS, (long) code);
                }
                span.setAttribute(ERROR_TYPE, code > 0 ? Integer.toString(code) : e.getClass().getName());
                span.setStatus(StatusCode.ERROR);
            }).doFinally(signal -> span.end());
        });
    }

    /** A URL for an attribute: scheme, host, port and path only (no user info; a query may carry anything). */
    private static String withoutQuery(URI uri) {
        String s = uri.getScheme().toLowerCase(Locale.ROOT) + "://" + uri.getHost() + (uri.getPort() > 0 ? ":" + uri.getPort() : "");
        String path = uri.getRawPath();
        return path == null ? s : s + path;
    }

    /** Exports what is queued and stops the SDK (at most 5 s). */
    @Override
    public void close() {
        if (sdk != null) {
            sdk.getSdkTracerProvider().shutdown().join(5, TimeUnit.SECONDS);
        }
    }

    /** Exports what is queued now (tests; shutdown). */
    public void flush() {
        if (sdk != null) {
            sdk.getSdkTracerProvider().forceFlush().join(5, TimeUnit.SECONDS);
        }
    }
}
