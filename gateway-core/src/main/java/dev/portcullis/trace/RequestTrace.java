package dev.portcullis.trace;

import com.fasterxml.jackson.databind.JsonNode;
import dev.portcullis.inspect.InspectedRequest;
import dev.portcullis.inspect.McpMessage;
import dev.portcullis.listen.RequestHead;
import dev.portcullis.route.RoutedRequest;
import io.netty.handler.codec.http.HttpHeaders;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanBuilder;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.api.trace.propagation.W3CTraceContextPropagator;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.Scope;
import io.opentelemetry.context.propagation.TextMapGetter;
import java.net.URI;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The trace of one request: a server span from arrival to the end of its answer, the stages it passed as
 * events ({@code authenticate}, {@code inspect}, {@code authorize}, {@code exchange}, {@code forward}), and a
 * client span for the upstream call whose context replaces the caller's {@code traceparent} upstream.
 *
 * <p>The server span's parent is the caller's {@code traceparent} header or, on a 2026-07-28 request without
 * one, its {@code params._meta.traceparent}. Since that is known only once the body is inspected, the span is
 * started then (with the arrival time as its start); stages passed before are recorded with their own times.
 *
 * <p>Attributes follow the OpenTelemetry MCP semantic conventions ({@code mcp.method.name},
 * {@code mcp.session.id}, {@code mcp.protocol.version}, {@code jsonrpc.request.id}, {@code gen_ai.tool.name},
 * {@code gen_ai.operation.name}, {@code error.type}); never an argument, a header value other than those, or a
 * token. Confined to the request's event loop. {@link #OFF}: every method does nothing.
 */
public class RequestTrace {
    /** Tracing off. */
    public static final RequestTrace OFF = new RequestTrace();

    RequestTrace() {}

    /** The request passed {@code stage}. */
    public void passed(String stage) {}

    /** The body was inspected: the MCP attributes are known (and the span's parent, for 2026-07-28 requests). */
    public void inspected(InspectedRequest inspected) {}

    /** Makes the request's context current (IdP calls made meanwhile become its children; metric exemplars). */
    public Scope makeCurrent() {
        return Scope.noop();
    }

    /**
     * The upstream call starts: a client span, whose W3C {@code traceparent} is returned for the upstream
     * request (null when tracing is off: the caller's header then passes as it is).
     */
    public String upstreamCall(String method, URI target) {
        return null;
    }

    /** The answer was relayed with {@code status}. */
    public void forwarded(int status) {}

    /** The request failed with {@code errorType} (the failure reason), answered with {@code status}. */
    public void failed(String errorType, int status) {}

    /** The server span's trace id, or null when tracing is off. */
    public String traceId() {
        return null;
    }

    /** The server span's id, or null when tracing is off. */
    public String spanId() {
        return null;
    }

    static final AttributeKey<String> MCP_METHOD = AttributeKey.stringKey("mcp.method.name");
    static final AttributeKey<String> MCP_SESSION = AttributeKey.stringKey("mcp.session.id");
    static final AttributeKey<String> MCP_VERSION = AttributeKey.stringKey("mcp.protocol.version");
    static final AttributeKey<String> MCP_RESOURCE = AttributeKey.stringKey("mcp.resource.uri");
    static final AttributeKey<String> JSONRPC_ID = AttributeKey.stringKey("jsonrpc.request.id");
    static final AttributeKey<String> TOOL = AttributeKey.stringKey("gen_ai.tool.name");
    static final AttributeKey<String> PROMPT = AttributeKey.stringKey("gen_ai.prompt.name");
    static final AttributeKey<String> OPERATION = AttributeKey.stringKey("gen_ai.operation.name");
    static final AttributeKey<String> CLIENT_ADDRESS = AttributeKey.stringKey("client.address");
    static final AttributeKey<String> ROUTE = AttributeKey.stringKey("http.route");
    static final AttributeKey<Long> BATCH_SIZE = AttributeKey.longKey("jsonrpc.batch.size");

    private static final TextMapGetter<HttpHeaders> HEADERS = new TextMapGetter<>() {
        @Override
        public Iterable<String> keys(HttpHeaders carrier) {
            return carrier.names();
        }

        @Override
        public String get(HttpHeaders carrier, String key) {
            return carrier == null ? null : carrier.get(key);
        }
    };

    private static final TextMapGetter<Map<String, String>> MAP = new TextMapGetter<>() {
        @Override
        public Iterable<String> keys(Map<String, String> carrier) {
            return carrier.keySet();
        }

        @Override
        public String get(Map<String, String> carrier, String key) {
            return carrier == null ? null : carrier.get(key);
        }
    };

    /** Tracing on. */
    static final class Recording extends RequestTrace {
        private static final int STAGES = 5;
        private final Tracer tracer;
        private final RequestHead head;
        private final String routePath;
        private final long arrivedEpochNanos;
        private final long arrivedNanoTime;
        private Context parent;
        private Context context;
        private Span server;
        private Span client;
        private boolean ended;
        private String name;
        private final String[] stageNames = new String[STAGES];
        private final long[] stageTimes = new long[STAGES];
        private int stages;
        private InspectedRequest inspected;

        Recording(Tracer tracer, RoutedRequest routed) {
            this.tracer = tracer;
            this.head = routed.head();
            this.routePath = routed.route().path();
            Instant now = Instant.now();
            this.arrivedEpochNanos = TimeUnit.SECONDS.toNanos(now.getEpochSecond()) + now.getNano();
            this.arrivedNanoTime = System.nanoTime();
            this.parent = W3CTraceContextPropagator.getInstance().extract(Context.root(), head.headers(), HEADERS);
            this.name = head.method().name() + " " + routePath;
        }

        private long now() {
            return arrivedEpochNanos + (System.nanoTime() - arrivedNanoTime);
        }

        @Override
        public void passed(String stage) {
            if (server != null) {
                server.addEvent(stage, now(), TimeUnit.NANOSECONDS);
            } else if (stages < STAGES) {
                stageNames[stages] = stage;
                stageTimes[stages++] = now();
            }
        }

        @Override
        public void inspected(InspectedRequest request) {
            if (server != null) {
                return;
            }
            this.inspected = request;
            McpMessage only = request.messages().size() == 1 && !request.batch() ? request.messages().get(0) : null;
            if (only != null && only.method() != null) {
                name = only.target().map(t -> only.method() + " " + t).orElse(only.method());
            } else if (request.batch()) {
                name = "batch";
            }
            if (!Span.fromContext(parent).getSpanContext().isValid() && request.revision().traceContextInMeta() && only != null) {
                // V26-43: a 2026-07-28 request may carry its trace context in _meta (passed upstream unchanged).
                JsonNode meta = only.params() == null ? null : only.params().get("_meta");
                if (meta != null && meta.path("traceparent").isTextual()) {
                    Map<String, String> carrier = meta.path("tracestate").isTextual()
                            ? Map.of("traceparent", meta.get("traceparent").asText(), "tracestate", meta.get("tracestate").asText())
                            : Map.of("traceparent", meta.get("traceparent").asText());
                    parent = W3CTraceContextPropagator.getInstance().extract(Context.root(), carrier, MAP);
                }
            }
            begin();
        }

        private void begin() {
            if (server != null) {
                return;
            }
            SpanBuilder builder = tracer.spanBuilder(name).setSpanKind(SpanKind.SERVER).setParent(parent)
                    .setStartTimestamp(arrivedEpochNanos, TimeUnit.NANOSECONDS)
                    .setAttribute(Tracing.HTTP_METHOD, head.method().name())
                    .setAttribute(ROUTE, routePath);
            String address = head.clientAddress();
            if (address != null) {
                builder.setAttribute(CLIENT_ADDRESS, address);
            }
            String session = head.header("Mcp-Session-Id");
            if (session != null) {
                builder.setAttribute(MCP_SESSION, session); // the gateway's sealed id: the upstream's never reaches the client
            }
            if (inspected != null) {
                mcpAttributes(builder, inspected);
            } else {
                String version = head.header("MCP-Protocol-Version");
                if (version != null) {
                    builder.setAttribute(MCP_VERSION, version);
                }
            }
            server = builder.startSpan();
            context = parent.with(server);
            for (int i = 0; i < stages; i++) {
                server.addEvent(stageNames[i], stageTimes[i], TimeUnit.NANOSECONDS);
            }
        }

        private void mcpAttributes(SpanBuilder builder, InspectedRequest request) {
            String version = request.revision().protocolVersion(head.headers());
            if (version != null) {
                builder.setAttribute(MCP_VERSION, version);
            }
            List<McpMessage> messages = request.messages();
            if (request.batch()) {
                builder.setAttribute(BATCH_SIZE, (long) messages.size());
                return;
            }
            if (messages.size() != 1) {
                return;
            }
            McpMessage only = messages.get(0);
            mcpAttributes(builder, only);
        }

        private static void mcpAttributes(SpanBuilder builder, McpMessage message) {
            if (message.method() != null) {
                builder.setAttribute(MCP_METHOD, message.method());
            }
            if (message.id() != null && !message.id().isNull()) {
                builder.setAttribute(JSONRPC_ID, message.id().asText());
            }
            String target = message.target().orElse(null);
            if (target == null || message.method() == null) {
                return;
            }
            switch (message.method()) {
                case "tools/call" -> builder.setAttribute(TOOL, target).setAttribute(OPERATION, "execute_tool");
                case "prompts/get" -> builder.setAttribute(PROMPT, target);
                case "resources/read", "resources/subscribe", "resources/unsubscribe" -> builder.setAttribute(MCP_RESOURCE, target);
                default -> { }
            }
        }

        @Override
        public Scope makeCurrent() {
            return (context != null ? context : parent).makeCurrent();
        }

        @Override
        public String upstreamCall(String method, URI target) {
            begin();
            if (client != null) {
                client.end(); // renewed after a refused credential, or retried on another connection
            }
            int port = target.getPort() > 0 ? target.getPort() : "https".equalsIgnoreCase(target.getScheme()) ? 443 : 80;
            SpanBuilder builder = tracer.spanBuilder(name).setParent(context).setSpanKind(SpanKind.CLIENT)
                    .setAttribute(Tracing.HTTP_METHOD, method)
                    .setAttribute(Tracing.SERVER_ADDRESS, target.getHost())
                    .setAttribute(Tracing.SERVER_PORT, (long) port);
            if (inspected != null && !inspected.batch() && inspected.messages().size() == 1) {
                mcpAttributes(builder, inspected.messages().get(0));
            }
            client = builder.startSpan();
            SpanContext c = client.getSpanContext();
            return "00-" + c.getTraceId() + "-" + c.getSpanId() + "-" + c.getTraceFlags().asHex();
        }

        @Override
        public void forwarded(int status) {
            if (ended) {
                return;
            }
            begin();
            if (client != null) {
                client.setAttribute(Tracing.HTTP_STATUS, (long) status);
                if (status >= 500) {
                    client.setAttribute(Tracing.ERROR_TYPE, Integer.toString(status));
                    client.setStatus(StatusCode.ERROR);
                }
                client.end();
            }
            server.setAttribute(Tracing.HTTP_STATUS, (long) status);
            if (status >= 500) {
                server.setAttribute(Tracing.ERROR_TYPE, Integer.toString(status));
                server.setStatus(StatusCode.ERROR);
            }
            end();
        }

        @Override
        public void failed(String errorType, int status) {
            if (ended) {
                return;
            }
            begin();
            if (client != null) {
                client.setAttribute(Tracing.ERROR_TYPE, errorType);
                client.setStatus(StatusCode.ERROR);
                client.end();
            }
            server.setAttribute(Tracing.HTTP_STATUS, (long) status);
            server.setAttribute(Tracing.ERROR_TYPE, errorType);
            server.setStatus(StatusCode.ERROR);
            end();
        }

        private void end() {
            ended = true;
            server.end();
        }

        @Override
        public String traceId() {
            begin();
            return server.getSpanContext().getTraceId();
        }

        @Override
        public String spanId() {
            begin();
            return server.getSpanContext().getSpanId();
        }
    }
}
