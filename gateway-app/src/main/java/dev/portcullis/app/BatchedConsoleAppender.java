package dev.portcullis.app;

import ch.qos.logback.core.ConsoleAppender;
import java.io.BufferedOutputStream;
import java.io.OutputStream;

/**
 * Logback's console appender, writing a batch of lines with one {@code write} call instead of one per line.
 *
 * <p>Logback's {@code ConsoleAppender} writes each event to {@code System.out}/{@code System.err}, whose
 * {@code PrintStream} flushes every write: one system call per log line, that is, one per proxied request for
 * the access log and one more for an audit trail on stdout. This one keeps the lines in a 64 KiB buffer
 * ({@code immediateFlush} off) and relies on the ring-buffer appender in front of it (logstash-logback-encoder's
 * {@code LoggingEventAsyncDisruptorAppender}, whose handler flushes its appenders at the end of every batch):
 * a line reaches the stream when the writer thread has drained the ring buffer, at most one sleep of its wait
 * strategy (20 ms) after it was logged. Only ever wire it behind such an appender: on its own it would keep the
 * last lines until the buffer fills.
 *
 * <p>The stream underneath is still the one {@code System.out}/{@code System.err} names when a batch is
 * written, so whatever replaced them (a test's capture) still sees every line.
 */
public final class BatchedConsoleAppender<E> extends ConsoleAppender<E> {
    static final int BUFFER_BYTES = 64 * 1024;

    public BatchedConsoleAppender() {
        setImmediateFlush(false);
    }

    @Override
    public void setOutputStream(OutputStream outputStream) {
        super.setOutputStream(new BufferedOutputStream(outputStream, BUFFER_BYTES));
    }
}
