package dev.portcullis.app;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.spi.ILoggingEvent;
import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import net.logstash.logback.appender.LoggingEventAsyncDisruptorAppender;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The console log (access lines, and the audit trail on stdout) is written a batch at a time behind the ring buffer,
 * not with a system call per line, and no line is lost or reordered. No sockets: {@code System.err} is replaced by a
 * stream that counts its write calls, as the real one would make them.
 */
class BatchedConsoleAppenderTest {
    private final ByteArrayOutputStream written = new ByteArrayOutputStream();
    private final AtomicInteger writeCalls = new AtomicInteger();
    private PrintStream originalErr;
    private LoggerContext context;
    private LoggingEventAsyncDisruptorAppender ring;

    @BeforeEach
    void captureStderr() {
        originalErr = System.err;
        OutputStream counting = new OutputStream() {
            @Override
            public synchronized void write(int b) {
                writeCalls.incrementAndGet();
                written.write(b);
            }

            @Override
            public synchronized void write(byte[] b, int off, int len) {
                writeCalls.incrementAndGet();
                written.write(b, off, len);
            }
        };
        // As the JVM's System.err: a PrintStream that flushes every write (one system call per write call).
        System.setErr(new PrintStream(counting, true, StandardCharsets.UTF_8));
    }

    @AfterEach
    void restore() {
        if (ring != null) {
            ring.stop();
        }
        if (context != null) {
            context.stop();
        }
        System.setErr(originalErr);
    }

    private Logger logger(ch.qos.logback.core.ConsoleAppender<ILoggingEvent> console) {
        context = new LoggerContext();
        context.setMDCAdapter(new ch.qos.logback.classic.util.LogbackMDCAdapter());
        PatternLayoutEncoder encoder = new PatternLayoutEncoder();
        encoder.setContext(context);
        encoder.setPattern("%msg%n");
        encoder.start();
        console.setContext(context);
        console.setTarget("System.err");
        console.setEncoder(encoder);
        console.start();
        ring = new LoggingEventAsyncDisruptorAppender();
        ring.setContext(context);
        ring.setWaitStrategyType(AuditAppender.WAIT_STRATEGY); // the same writer thread as logback.xml's
        ring.addAppender(console);
        ring.start();
        Logger logger = context.getLogger("portcullis.access");
        logger.addAppender(ring);
        return logger;
    }

    private List<String> lines() {
        synchronized (written) {
            String text = written.toString(StandardCharsets.UTF_8);
            return text.isEmpty() ? List.of() : List.of(text.split("\n"));
        }
    }

    private List<String> awaitLines(int count) throws InterruptedException {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (lines().size() < count && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        return lines();
    }

    @Test
    void aThousandAccessLinesArriveWholeAndInOrderInFarFewerWritesThanLines() throws InterruptedException {
        Logger access = logger(new BatchedConsoleAppender<>());
        List<String> expected = new ArrayList<>();
        for (int i = 0; i < 1000; i++) {
            access.info("request {} 200", i);
            expected.add("request " + i + " 200");
        }
        assertThat(awaitLines(1000)).containsExactlyElementsOf(expected);
        // Logback's ConsoleAppender makes 1,000 write calls here (shown by the next test); batched, a handful.
        assertThat(writeCalls.get()).isLessThanOrEqualTo(100);
    }

    @Test
    void logbacksOwnConsoleAppenderMakesOneWritePerLineWhichIsWhatThisReplaces() throws InterruptedException {
        Logger access = logger(new ch.qos.logback.core.ConsoleAppender<>());
        for (int i = 0; i < 200; i++) {
            access.info("request {} 200", i);
        }
        assertThat(awaitLines(200)).hasSize(200);
        assertThat(writeCalls.get()).isGreaterThanOrEqualTo(200);
    }

    @Test
    void aLoneLineIsWrittenWithoutWaitingForMoreLines() throws InterruptedException {
        Logger access = logger(new BatchedConsoleAppender<>());
        access.info("the only request 200");
        // The batch's end flushes it: it arrives within the writer's sleep (20 ms), never held for the buffer to fill.
        assertThat(awaitLines(1)).containsExactly("the only request 200");
        assertThat(writeCalls.get()).isEqualTo(1);
    }
}
