package dev.portcullis.forward;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.UnaryOperator;
import java.util.function.Consumer;

/**
 * Re-frames an SSE byte stream into whole events so one event can be rewritten while every other
 * event passes through byte for byte (TRANSPORT-05). Events end at an empty line; lines end with
 * CRLF, LF or CR (WHATWG). A trailing partial event (no blank line before the stream ended) is
 * rewritten like any other before it is passed on: a lenient client may still read it.
 */
public final class SseEvents {
    private SseEvents() {}

    /**
     * Cuts a byte stream into whole events as chunks arrive, keeping a partial event until it is complete.
     * Not thread-safe: one per stream, used on its event loop.
     */
    static final class Framer {
        private byte[] pending = new byte[0];

        /** Passes each event completed by {@code chunk} (raw bytes including its blank line) to {@code each}. */
        void feed(byte[] chunk, Consumer<byte[]> each) {
            byte[] buffer;
            if (pending.length == 0) {
                buffer = chunk;
            } else {
                buffer = Arrays.copyOf(pending, pending.length + chunk.length);
                System.arraycopy(chunk, 0, buffer, pending.length, chunk.length);
            }
            int start = 0;
            int end;
            while ((end = eventEnd(buffer, start)) > 0) {
                each.accept(start == 0 && end == buffer.length ? buffer : Arrays.copyOfRange(buffer, start, end));
                start = end;
            }
            pending = start == 0 ? buffer : Arrays.copyOfRange(buffer, start, buffer.length);
        }

        /** What is left when the stream ends (a trailing partial event), or null. */
        byte[] rest() {
            byte[] rest = pending;
            pending = new byte[0];
            return rest.length == 0 ? null : rest;
        }
    }

    /** Applies {@code rewrite} to each whole event of {@code chunks}, and to a trailing partial event. */
    static List<byte[]> rewriteEach(List<byte[]> chunks, UnaryOperator<byte[]> rewrite) {
        Framer framer = new Framer();
        List<byte[]> events = new ArrayList<>();
        for (byte[] chunk : chunks) {
            framer.feed(chunk, event -> events.add(rewrite.apply(event)));
        }
        byte[] rest = framer.rest();
        if (rest != null) {
            events.add(rewrite.apply(rest)); // a lenient client may still read a trailing partial event
        }
        return events;
    }

    /** One {@code event: message} carrying {@code json} (a JSON-RPC message serialised by Jackson, one line). */
    static byte[] event(String json) {
        return ("event: message\ndata: " + json + "\n\n").getBytes(StandardCharsets.UTF_8);
    }

    /** Index just after the blank line that ends the event starting at {@code from}, or -1. */
    static int eventEnd(byte[] b, int from) {
        int lineStart = from;
        int i = from;
        while (i < b.length) {
            byte c = b[i];
            if (c == '\n' || c == '\r') {
                int next = i + 1;
                if (c == '\r') {
                    if (next >= b.length) {
                        return -1; // a CR at the end may be the first half of CRLF: wait for more
                    }
                    if (b[next] == '\n') {
                        next++;
                    }
                }
                if (i == lineStart) {
                    return next; // an empty line ends the event
                }
                lineStart = next;
                i = next;
            } else {
                i++;
            }
        }
        return -1;
    }

    /** The joined {@code data} of an event (multi-line data joined by LF), or null when it has none. */
    public static String data(byte[] event) {
        StringBuilder data = null;
        for (String line : lines(event)) {
            if (line.startsWith("data")) {
                String value = line.length() > 4 && line.charAt(4) == ':' ? line.substring(5) : line.equals("data") ? "" : null;
                if (value == null) {
                    continue;
                }
                if (value.startsWith(" ")) {
                    value = value.substring(1);
                }
                data = data == null ? new StringBuilder(value) : data.append('\n').append(value);
            }
        }
        return data == null ? null : data.toString();
    }

    /** The event with its data replaced by {@code json} (one line); id, event, retry and comments kept in place. */
    static byte[] withData(byte[] event, String json) {
        StringBuilder out = new StringBuilder();
        boolean written = false;
        for (String line : lines(event)) {
            if (line.isEmpty()) {
                continue;
            }
            if (line.equals("data") || line.startsWith("data:")) {
                if (!written) {
                    out.append("data: ").append(json).append('\n');
                    written = true;
                }
                continue;
            }
            out.append(line).append('\n');
        }
        return out.append('\n').toString().getBytes(StandardCharsets.UTF_8);
    }

    private static List<String> lines(byte[] event) {
        return Arrays.asList(new String(event, StandardCharsets.UTF_8).split("\r\n|\r|\n", -1));
    }
}
