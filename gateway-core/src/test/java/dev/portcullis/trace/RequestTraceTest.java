package dev.portcullis.trace;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.portcullis.StageFixtures;
import dev.portcullis.authn.AuthenticatedRequest;
import dev.portcullis.inspect.InspectedRequest;
import dev.portcullis.inspect.McpMessage;
import dev.portcullis.listen.RequestHead;
import dev.portcullis.policy.Policy;
import dev.portcullis.route.Route;
import dev.portcullis.route.RoutedRequest;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.common.CompletableResultCode;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SimpleSpanProcessor;
import io.opentelemetry.sdk.trace.export.SpanExporter;
import java.net.URI;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The request's trace without sockets: parents, stage events, the upstream traceparent, and tracing off. */
class RequestTraceTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String HEADER_TRACE = "0af7651916cd43dd8448eb211c80319c";
    private static final String META_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";

    private final List<SpanData> exported = new CopyOnWriteArrayList<>();
    private final SdkTracerProvider provider = SdkTracerProvider.builder()
            .addSpanProcessor(SimpleSpanProcessor.create(new SpanExporter() {
                @Override
                public CompletableResultCode export(Collection<SpanData> spans) {
                    exported.addAll(spans);
                    return CompletableResultCode.ofSuccess();
                }

                @Override
                public CompletableResultCode flush() {
                    return CompletableResultCode.ofSuccess();
                }

                @Override
                public CompletableResultCode shutdown() {
                    return CompletableResultCode.ofSuccess();
                }
            })).build();
    private final Tracing tracing = Tracing.of(OpenTelemetrySdk.builder().setTracerProvider(provider).build());

    @AfterEach
    void close() {
        provider.close();
    }

    private static RoutedRequest routed(String... headers) {
        Route route = StageFixtures.route(Policy.authenticatedOnly());
        return new RoutedRequest(StageFixtures.post("/mcp", headers), route, "rid-1");
    }

    private static InspectedRequest modernToolCall(RoutedRequest routed, String metaTraceparent) throws Exception {
        JsonNode params = JSON.readTree("{\"name\":\"read_file\",\"arguments\":{\"path\":\"/etc/secret-arg\"},\"_meta\":{"
                + "\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\""
                + (metaTraceparent == null ? "" : ",\"traceparent\":\"" + metaTraceparent + "\"") + "}}");
        McpMessage message = new McpMessage(McpMessage.Kind.REQUEST, JSON.getNodeFactory().numberNode(7), "tools/call",
                Optional.of("read_file"), params);
        AuthenticatedRequest authenticated = new AuthenticatedRequest(routed, StageFixtures.principal());
        return new InspectedRequest(authenticated, new byte[0], List.of(message), false,
                dev.portcullis.revision.Stateless2026.REVISION, Optional.empty());
    }

    @Test
    void v26MetaTraceparentIsTheParentWhenTheRequestHasNoHeader() throws Exception {
        RoutedRequest routed = routed();
        RequestTrace trace = tracing.request(routed);
        trace.passed("authenticate");
        trace.inspected(modernToolCall(routed, "00-" + META_TRACE + "-b7ad6b7169203331-01"));
        trace.passed("inspect");
        trace.failed("policy_denied", 200);

        SpanData span = exported.get(0);
        assertThat(span.getTraceId()).isEqualTo(META_TRACE);
        assertThat(span.getParentSpanId()).isEqualTo("b7ad6b7169203331");
        assertThat(span.getName()).isEqualTo("tools/call read_file");
        assertThat(span.getEvents()).extracting(e -> e.getName()).containsExactly("authenticate", "inspect");
        assertThat(span.getAttributes().get(AttributeKey.stringKey("mcp.protocol.version"))).isEqualTo("2026-07-28");
        assertThat(span.getAttributes().get(AttributeKey.stringKey("jsonrpc.request.id"))).isEqualTo("7");
        assertThat(span.getAttributes().get(AttributeKey.stringKey("error.type"))).isEqualTo("policy_denied");
        assertThat(span.toString()).doesNotContain("secret-arg", "caller-token");
    }

    @Test
    void theHeaderWinsOverMetaAndTheUpstreamGetsTheClientSpanAsParent() throws Exception {
        RoutedRequest routed = routed("traceparent", "00-" + HEADER_TRACE + "-b9c7c989f97918e1-01");
        RequestTrace trace = tracing.request(routed);
        trace.inspected(modernToolCall(routed, "00-" + META_TRACE + "-b7ad6b7169203331-01"));
        String upstream = trace.upstreamCall("POST", URI.create("http://127.0.0.1:9/mcp"));
        trace.forwarded(200);

        SpanData client = exported.stream().filter(s -> s.getKind() == io.opentelemetry.api.trace.SpanKind.CLIENT).findFirst().orElseThrow();
        SpanData server = exported.stream().filter(s -> s.getKind() == io.opentelemetry.api.trace.SpanKind.SERVER).findFirst().orElseThrow();
        assertThat(server.getTraceId()).isEqualTo(HEADER_TRACE);
        assertThat(server.getParentSpanId()).isEqualTo("b9c7c989f97918e1");
        assertThat(client.getParentSpanId()).isEqualTo(server.getSpanId());
        assertThat(upstream).isEqualTo("00-" + HEADER_TRACE + "-" + client.getSpanId() + "-01");
        assertThat(trace.traceId()).isEqualTo(HEADER_TRACE);
        assertThat(trace.spanId()).isEqualTo(server.getSpanId());
    }

    @Test
    void offIsOneSharedNoOpThatLeavesTheCallersHeaderAlone() throws Exception {
        RoutedRequest routed = routed("traceparent", "00-" + HEADER_TRACE + "-b9c7c989f97918e1-01");
        RequestTrace trace = Tracing.OFF.request(routed);
        assertThat(trace).isSameAs(RequestTrace.OFF);
        trace.inspected(modernToolCall(routed, null));
        assertThat(trace.upstreamCall("POST", URI.create("http://127.0.0.1:9/mcp"))).isNull();
        assertThat(trace.traceId()).isNull();
        assertThat(Tracing.OFF.enabled()).isFalse();
        assertThat(Tracing.configure(dev.portcullis.config.TracingConfig.defaults(), name -> null)).isSameAs(Tracing.OFF);
        assertThat(Tracing.configure(dev.portcullis.config.TracingConfig.defaults(),
                name -> name.equals("OTEL_TRACES_EXPORTER") ? "none" : null)).isSameAs(Tracing.OFF);
    }
}
