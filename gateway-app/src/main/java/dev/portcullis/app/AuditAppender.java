package dev.portcullis.app;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.AsyncAppenderBase;
import ch.qos.logback.core.ConsoleAppender;
import ch.qos.logback.core.FileAppender;
import ch.qos.logback.core.OutputStreamAppender;
import dev.portcullis.audit.AuditLog;
import dev.portcullis.config.AuditConfig;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import net.logstash.logback.encoder.LogstashEncoder;
import org.slf4j.LoggerFactory;

/**
 * Wires the {@code portcullis.audit} logger: a bounded asynchronous queue in front of a JSON
 * (logstash-logback-encoder) writer to stdout or a file. The request path never waits for it: when
 * the queue is full the event is dropped and {@code portcullis_audit_events_dropped_total} counts it
 * (a documented choice: availability of the gateway over completeness of the trail; alert on the counter).
 */
final class AuditAppender {
    private AuditAppender() {}

    /** Drops instead of blocking when full, and counts what it drops. */
    static final class CountingAsyncAppender extends AsyncAppenderBase<ILoggingEvent> {
        private Counter dropped;

        @Override
        protected void append(ILoggingEvent event) {
            if (getRemainingCapacity() == 0) {
                dropped.increment();
                return;
            }
            super.append(event);
        }
    }

    static void install(AuditConfig config, MeterRegistry metrics) {
        LoggerContext context = (LoggerContext) LoggerFactory.getILoggerFactory();
        LogstashEncoder encoder = new LogstashEncoder();
        encoder.setContext(context);
        encoder.start();

        OutputStreamAppender<ILoggingEvent> writer;
        if (config.file() != null) {
            FileAppender<ILoggingEvent> file = new FileAppender<>();
            file.setFile(config.file().toString());
            file.setAppend(true);
            writer = file;
        } else {
            writer = new ConsoleAppender<>();
        }
        writer.setName("audit-writer");
        writer.setContext(context);
        writer.setEncoder(encoder);
        writer.start();

        CountingAsyncAppender async = new CountingAsyncAppender();
        async.dropped = Counter.builder("portcullis.audit.events.dropped")
                .description("Audit events dropped because the audit queue was full").register(metrics);
        async.setName("audit");
        async.setContext(context);
        async.setQueueSize(config.queueSize());
        async.setDiscardingThreshold(0);
        async.setNeverBlock(true);
        async.addAppender(writer);
        async.start();

        Logger audit = context.getLogger(AuditLog.LOGGER);
        audit.detachAndStopAllAppenders();
        audit.setAdditive(false);
        audit.addAppender(async);
    }
}
