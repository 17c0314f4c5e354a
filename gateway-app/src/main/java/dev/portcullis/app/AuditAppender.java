package dev.portcullis.app;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.Appender;
import ch.qos.logback.core.ConsoleAppender;
import ch.qos.logback.core.FileAppender;
import ch.qos.logback.core.OutputStreamAppender;
import dev.portcullis.audit.AuditLog;
import dev.portcullis.config.AuditConfig;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import net.logstash.logback.appender.LoggingEventAsyncDisruptorAppender;
import net.logstash.logback.appender.listener.AppenderListener;
import net.logstash.logback.composite.loggingevent.KeyValuePairsJsonProvider;
import net.logstash.logback.composite.loggingevent.LoggingEventJsonProviders;
import net.logstash.logback.encoder.LoggingEventCompositeJsonEncoder;
import org.slf4j.LoggerFactory;

/**
 * Wires the {@code portcullis.audit} logger: a bounded ring buffer (logstash-logback-encoder's
 * Disruptor appender) in front of a JSON (logstash-logback-encoder) writer to its own sink ({@code audit.output}:
 * stdout, stderr or a file), one object per line holding the event's fields only (ECS / OpenTelemetry names, see
 * {@link dev.portcullis.audit.AuditEvent}), written from the event itself ({@link AuditJson}). The
 * request path never waits for it: when the buffer is full the event is dropped and
 * {@code portcullis_audit_events_dropped_total} counts it (a documented choice: availability of the
 * gateway over completeness of the trail; alert on the counter).
 *
 * <p>Why not Logback's AsyncAppender: its queue wakes the writer thread for every event (a futex call
 * and a context switch each), and its writer flushes every event with its own write call. Here the
 * writer sleeps between batches ({@link #WAIT_STRATEGY}: nothing signals it) and a file or the console
 * ({@link BatchedConsoleAppender}) is flushed once per batch, which took the audit trail from the largest
 * cost of a proxied request to a small one (bench/README.md). An event reaches the file at most ~20 ms after its request ends.
 */
final class AuditAppender {
    /** Park 20 ms between batches: producers never signal (no syscall on the request path), and an idle gateway spends ~0.1% of a CPU on each writer. */
    static final String WAIT_STRATEGY = "sleeping{0,20000000}";

    private AuditAppender() {}

    static void install(AuditConfig config, MeterRegistry metrics) {
        LoggerContext context = (LoggerContext) LoggerFactory.getILoggerFactory();
        LoggingEventCompositeJsonEncoder encoder = encoder(context);

        OutputStreamAppender<ILoggingEvent> writer;
        if (config.file() != null) {
            FileAppender<ILoggingEvent> file = new FileAppender<>();
            file.setFile(config.file().toString());
            file.setAppend(true);
            // Flushed at the end of each batch by the ring buffer's handler, not after every event; a buffer as large
            // as the console's, so a batch is one write call (Logback's default of 8 KiB wrote every ten events).
            file.setImmediateFlush(false);
            file.setBufferSize(new ch.qos.logback.core.util.FileSize(BatchedConsoleAppender.BUFFER_BYTES));
            writer = file;
        } else {
            // One write per batch, like the file (flushed at the batch's end), not one per event.
            ConsoleAppender<ILoggingEvent> console = new BatchedConsoleAppender<>();
            // stdout unless audit.output says stderr; the operational log goes to the other stream (logback.xml).
            console.setTarget("stderr".equals(config.output()) ? "System.err" : "System.out");
            writer = console;
        }
        writer.setName("audit-writer");
        writer.setContext(context);
        writer.setEncoder(encoder);
        writer.start();

        Counter dropped = Counter.builder("portcullis.audit.events.dropped")
                .description("Audit events dropped because the audit queue was full").register(metrics);
        LoggingEventAsyncDisruptorAppender async = new LoggingEventAsyncDisruptorAppender();
        async.setName("audit");
        async.setContext(context);
        async.setRingBufferSize(ringSize(config.queueSize()));
        async.setWaitStrategyType(WAIT_STRATEGY);
        async.setThreadNameFormat("portcullis-audit-writer");
        async.addListener(new AppenderListener<>() {
            @Override
            public void eventAppendFailed(Appender<ILoggingEvent> appender, ILoggingEvent event, Throwable reason) {
                dropped.increment();
            }
        });
        async.addAppender(writer);
        async.start();

        Logger audit = context.getLogger(AuditLog.LOGGER);
        audit.detachAndStopAllAppenders();
        audit.setAdditive(false);
        audit.addAppender(async);
    }

    /** The event's own fields only (issue 15): no second timestamp, no @version, logger, thread or level. */
    static LoggingEventCompositeJsonEncoder encoder(LoggerContext context) {
        LoggingEventCompositeJsonEncoder encoder = new LoggingEventCompositeJsonEncoder();
        encoder.setContext(context);
        LoggingEventJsonProviders providers = new LoggingEventJsonProviders();
        providers.addProvider(new AuditJson.Timestamp());
        providers.addProvider(new AuditJson.Fields());
        providers.addKeyValuePairs(new KeyValuePairsJsonProvider()); // approval and pin-drift events
        encoder.setProviders(providers);
        encoder.start();
        return encoder;
    }

    /** The ring buffer needs a power of two: the configured size, rounded up. */
    static int ringSize(int queueSize) {
        return Integer.highestOneBit(queueSize - 1) << 1;
    }
}
