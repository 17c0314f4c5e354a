package dev.portcullis.listen;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.nio.channels.ClosedChannelException;
import java.util.Locale;
import java.util.Optional;
import javax.net.ssl.SSLException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Expected network conditions (issue 12 item 9): things peers do every day that are not the gateway's
 * errors, so they are counted and logged quietly (DEBUG, one line, no stack trace) instead of as internal
 * errors with a stack trace each, which let any client flood the log by hanging up.
 *
 * <ul>
 *   <li>{@link Kind#CLIENT_ABORT}: the client closed or reset its connection (mid-body, while waiting, mid-stream);</li>
 *   <li>{@link Kind#TLS_HANDSHAKE}: a TLS handshake failed (scanners, plain HTTP on the TLS port, clients that
 *       do not trust the certificate or share no protocol or cipher).</li>
 * </ul>
 * An upstream that resets is already a 502 with a one-line access log entry (the forward stage maps it).
 * Counted as {@code portcullis_network_events_total{kind}}.
 */
public final class NetworkConditions {
    private static final Logger log = LoggerFactory.getLogger(NetworkConditions.class);

    /** What kind of expected event an exception is. */
    public enum Kind {
        CLIENT_ABORT, TLS_HANDSHAKE;

        String tag() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    private final Counter clientAborts;
    private final Counter tlsHandshakes;

    public NetworkConditions(MeterRegistry registry) {
        this.clientAborts = counter(registry, Kind.CLIENT_ABORT);
        this.tlsHandshakes = counter(registry, Kind.TLS_HANDSHAKE);
    }

    /** Not counted anywhere that is scraped (tests, and code paths built without a registry). */
    public static NetworkConditions unscraped() {
        return new NetworkConditions(new SimpleMeterRegistry());
    }

    private static Counter counter(MeterRegistry registry, Kind kind) {
        return Counter.builder("portcullis.network.events")
                .description("Expected network conditions: clients that went away, failed TLS handshakes")
                .tag("kind", kind.tag()).register(registry);
    }

    /**
     * The kind of expected condition {@code error} is (looking through its causes), or empty for an error
     * that deserves its stack trace.
     */
    public static Optional<Kind> classify(Throwable error) {
        for (Throwable c = error; c != null; c = c.getCause()) {
            if (c instanceof javax.net.ssl.SSLHandshakeException || c instanceof io.netty.handler.ssl.NotSslRecordException
                    || (c instanceof SSLException && !(c.getCause() instanceof IOException))) {
                return Optional.of(Kind.TLS_HANDSHAKE);
            }
            if (c instanceof ClosedChannelException || isAborted(c)) {
                return Optional.of(Kind.CLIENT_ABORT);
            }
            if (c instanceof IOException && isPeerGone(c.getMessage())) {
                return Optional.of(Kind.CLIENT_ABORT);
            }
            if (c.getCause() == c) {
                break;
            }
        }
        return Optional.empty();
    }

    /** The messages the JDK and Netty's native transports give a reset or closed peer. */
    static boolean isPeerGone(String message) {
        if (message == null) {
            return false;
        }
        String m = message.toLowerCase(Locale.ROOT);
        return m.contains("connection reset") || m.contains("broken pipe") || m.contains("connection has been closed")
                || m.contains("an existing connection was forcibly closed");
    }

    /** Reactor Netty's signal that the server connection closed while a response was being sent: the client left. */
    public static boolean isAborted(Throwable error) {
        return error.getClass().getName().equals("reactor.netty.channel.AbortedException");
    }

    /**
     * Counts and logs (DEBUG, one line) {@code error} when it is an expected condition; true then. False for
     * anything else, which the caller logs as the error it is.
     */
    public boolean absorb(Throwable error, String where) {
        Optional<Kind> kind = classify(error);
        if (kind.isEmpty()) {
            return false;
        }
        (kind.get() == Kind.CLIENT_ABORT ? clientAborts : tlsHandshakes).increment();
        if (log.isDebugEnabled()) {
            log.debug("{} {}: {}", kind.get().tag(), where, error.toString());
        }
        return true;
    }
}
