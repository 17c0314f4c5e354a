package dev.portcullis.audit;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.spi.LoggingEventBuilder;

/**
 * Writes audit events to the dedicated {@code portcullis.audit} logger as key-value pairs; the
 * application wires that logger to an asynchronous JSON appender (logstash-logback-encoder), so
 * recording never blocks the request path.
 */
public final class AuditLog {
    public static final String LOGGER = "portcullis.audit";
    private static final Logger log = LoggerFactory.getLogger(LOGGER);

    public void record(AuditEvent event) {
        LoggingEventBuilder builder = log.atInfo();
        event.fields().forEach(builder::addKeyValue);
        // The audit encoder writes the key-value pairs only (dev.portcullis.app.AuditAppender); this message is for
        // appenders a test or an embedder attaches.
        builder.log("mcp {} {}", event.decision(), event.method() != null ? event.method() : event.httpMethod());
    }
}
