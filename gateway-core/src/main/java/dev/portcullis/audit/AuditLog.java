package dev.portcullis.audit;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes audit events to the dedicated {@code portcullis.audit} logger, each as the last argument of its logging
 * event; the application wires that logger to an asynchronous JSON appender (logstash-logback-encoder) whose encoder
 * writes the event's fields straight from it ({@link AuditEvent#writeFields}), so recording never blocks the request
 * path and builds no map or key-value list per event.
 */
public final class AuditLog {
    public static final String LOGGER = "portcullis.audit";
    private static final Logger log = LoggerFactory.getLogger(LOGGER);

    public void record(AuditEvent event) {
        // The audit encoder writes the event's fields only (dev.portcullis.app.AuditAppender); the message is for
        // appenders a test or an embedder attaches (AuditEvent#fields has the event as a map).
        log.atInfo().setMessage("mcp {} {}").addArgument(event.decision())
                .addArgument(event.method() != null ? event.method() : event.httpMethod()).addArgument(event).log();
    }

    /** The audit event a logging event of {@link #LOGGER} carries (its last argument), or null. */
    public static AuditEvent carried(Object[] arguments) {
        return arguments != null && arguments.length > 0 && arguments[arguments.length - 1] instanceof AuditEvent event
                ? event : null;
    }
}
