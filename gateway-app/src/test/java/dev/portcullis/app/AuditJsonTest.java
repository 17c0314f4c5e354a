package dev.portcullis.app;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.LoggingEvent;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.portcullis.audit.AuditEvent;
import dev.portcullis.audit.AuditLog;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/** The audit trail's encoder (AuditAppender's, the one the gateway runs) writes each event from its record. */
class AuditJsonTest {
    private static final LoggerContext CONTEXT = (LoggerContext) LoggerFactory.getILoggerFactory();

    private static String encoded(AuditEvent event) {
        LoggingEvent logged = new LoggingEvent(AuditLog.class.getName(), CONTEXT.getLogger(AuditLog.LOGGER), Level.INFO,
                "mcp {} {}", null, new Object[] {event.decision(), event.method(), event});
        logged.prepareForDeferredProcessing();
        return new String(AuditAppender.encoder(CONTEXT).encode(logged), StandardCharsets.UTF_8).strip();
    }

    private static AuditEvent event(Instant at, Object arguments, Map<String, Object> batch, Integer upstreamStatus) {
        return new AuditEvent(at, "r-1", "todo", "user-1", "https://idp.example", "agent-7",
                Map.of("sub", "svc-a"), "sha256:0011223344556677", "POST", "tools/call", "echo", "42", "allow",
                "tools.echo", "scopes \"tickets:read\" held", 200, upstreamStatus, 1_234_567L, "jti-9", "127.0.0.1", "curl/8",
                "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331", arguments, batch, "alice");
    }

    @Test
    void everyFieldInItsOrderWithTheArrivalAsTimestamp() {
        String json = encoded(event(Instant.parse("2026-12-06T06:31:40.123456Z"), "sha256:abc", null, 201));
        assertThat(json).isEqualTo("{\"@timestamp\":\"2026-12-06T06:31:40.123456Z\",\"event.action\":\"tools/call\","
                + "\"event.outcome\":\"success\",\"event.reason\":\"scopes \\\"tickets:read\\\" held\","
                + "\"event.duration\":1234567,\"rule.id\":\"tools.echo\",\"portcullis.decision\":\"allow\","
                + "\"portcullis.route\":\"todo\",\"http.request.id\":\"r-1\",\"http.request.method\":\"POST\","
                + "\"http.response.status_code\":200,\"portcullis.upstream.status_code\":201,\"client.address\":\"127.0.0.1\","
                + "\"user_agent.original\":\"curl/8\",\"user.id\":\"user-1\",\"user.name\":\"alice\","
                + "\"portcullis.token.issuer\":\"https://idp.example\",\"portcullis.agent\":\"agent-7\","
                + "\"portcullis.actor\":{\"sub\":\"svc-a\"},\"mcp.session.id\":\"sha256:0011223344556677\","
                + "\"gen_ai.tool.name\":\"echo\",\"jsonrpc.request.id\":\"42\",\"trace.id\":\"0af7651916cd43dd8448eb211c80319c\","
                + "\"span.id\":\"b7ad6b7169203331\",\"portcullis.upstream.token.jti\":\"jti-9\","
                + "\"portcullis.arguments\":\"sha256:abc\"}");
    }

    @Test
    void theTrailsKeyValueEventsAreWrittenAsTheirPairs() {
        // Approval steps and pin drift (ApprovalAudit, DriftWatch) log key-value pairs, their @timestamp among them.
        LoggingEvent logged = new LoggingEvent(AuditLog.class.getName(), CONTEXT.getLogger(AuditLog.LOGGER), Level.INFO,
                "mcp {} {}", null, new Object[] {"approval.requested", "deploy"});
        logged.addKeyValuePair(new org.slf4j.event.KeyValuePair("@timestamp", "2026-12-06T06:31:40Z"));
        logged.addKeyValuePair(new org.slf4j.event.KeyValuePair("event.action", "approval.requested"));
        logged.prepareForDeferredProcessing();
        assertThat(new String(AuditAppender.encoder(CONTEXT).encode(logged), StandardCharsets.UTF_8).strip())
                .isEqualTo("{\"@timestamp\":\"2026-12-06T06:31:40Z\",\"event.action\":\"approval.requested\"}");
    }

    @Test
    void theTimestampIsWrittenAsInstantToStringWritesIt() {
        for (String at : List.of("2026-12-06T06:31:40Z", "2026-12-06T06:31:40.001Z", "2026-12-06T06:31:40.000000100Z",
                "2026-12-06T23:59:59.999999999Z")) {
            assertThat(encoded(event(Instant.parse(at), null, null, null))).startsWith("{\"@timestamp\":\"" + at + "\",");
        }
    }

    @Test
    void nullsAreLeftOutAndStructuredValuesStayStructured() throws Exception {
        AuditEvent event = event(Instant.EPOCH, List.of("limit", "query"), Map.of("requests", 3), null);
        Map<String, Object> written = new JsonMapper().readValue(encoded(event), new TypeReference<LinkedHashMap<String, Object>>() {});
        assertThat(written).doesNotContainKey("portcullis.upstream.status_code")
                .containsEntry("portcullis.arguments", List.of("limit", "query"))
                .containsEntry("portcullis.batch", Map.of("requests", 3));
        // AuditEvent#fields, what tests and other appenders see, is the same object, field for field and in order.
        assertThat(List.copyOf(written.entrySet())).isEqualTo(List.copyOf(event.fields().entrySet()));
    }
}
