package dev.portcullis.app;

import ch.qos.logback.classic.spi.ILoggingEvent;
import com.fasterxml.jackson.core.JsonGenerator;
import dev.portcullis.audit.AuditEvent;
import dev.portcullis.audit.AuditLog;
import java.io.IOException;
import java.time.Instant;
import net.logstash.logback.composite.AbstractFormattedTimestampJsonProvider;
import net.logstash.logback.composite.AbstractJsonProvider;
import net.logstash.logback.fieldnames.LogstashFieldNames;

/**
 * The audit trail's logstash-logback-encoder providers for a request's event: its {@code @timestamp} (when its request
 * arrived), then its fields, both read from the {@link AuditEvent} the logging event carries ({@link AuditLog#carried}).
 * The trail's other events (approval steps, pin drift) are key-value pairs, their {@code @timestamp} included: for
 * them both providers write nothing and the encoder's key-value provider writes the pairs.
 *
 * <p>Why not key-value pairs: the request path built a map and a key-value list of every event, and the encoder wrote
 * each name and value through its generic object writer (~2.5 µs an event, one JVM); written from the record, with
 * pre-encoded names and logstash's cached timestamp formatter, ~1.3 µs, and nothing is built on the request path
 * but the event. End to end, 3.6 to 5.6 µs less CPU per proxied request (bench/RESULTS.md, 2026-12-06 06:30).
 */
final class AuditJson {
    private AuditJson() {}

    /** {@code @timestamp}: the request's arrival, ISO-8601 in UTC as {@link Instant#toString} writes it. */
    static final class Timestamp extends AbstractFormattedTimestampJsonProvider<ILoggingEvent, LogstashFieldNames> {
        Timestamp() {
            setFieldName("@timestamp");
            setPattern("[ISO_INSTANT]");
            setTimeZone("UTC");
        }

        @Override
        public void writeTo(JsonGenerator out, ILoggingEvent event) throws IOException {
            if (AuditLog.carried(event.getArgumentArray()) != null) {
                super.writeTo(out, event);
            }
        }

        @Override
        protected Instant getTimestampAsInstant(ILoggingEvent event) {
            return AuditLog.carried(event.getArgumentArray()).timestamp();
        }
    }

    /** Every other field, in {@link AuditEvent#writeFields}' order; nothing for a logging event that carries no audit event. */
    static final class Fields extends AbstractJsonProvider<ILoggingEvent> {
        @Override
        public void writeTo(JsonGenerator out, ILoggingEvent event) throws IOException {
            AuditEvent audit = AuditLog.carried(event.getArgumentArray());
            if (audit != null) {
                audit.writeFields(out);
            }
        }
    }
}
