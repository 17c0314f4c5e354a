package dev.portcullis.forward;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.UnaryOperator;
import reactor.core.publisher.Flux;

/**
 * Re-frames an SSE byte stream into whole events so one event can be rewritten while every other
 * event passes through byte for byte (TRANSPORT-05). Events end at an empty line; lines end with
 * CRLF, LF or CR (WHATWG). A trailing partial event (no blank line before the stream ended) is
 * rewritten like any other before it is passed on: a lenient client may still read it.
 */
public final class SseEvents {
    private SseEvents() {}

    /** Applies {@code rewrite} to each whole event (raw bytes including its terminating blank line). */
    static Flux<byte[]> rewriteEach(Flux<byte[]> chunks, UnaryOperator<byte[]> rewrite) {
        return Flux.defer(() -> {
            ByteArrayOutputStream pending = new ByteArrayOutputStream();
            return chunks.concatMapIterable(chunk -> {
                pending.write(chunk, 0, chunk.length);
                byte[] buffer = pending.toByteArray();
                List<byte[]> events = new ArrayList<>();
                int start = 0;
                int end;
                while ((end = eventEnd(buffer, start)) > 0) {
                    events.add(rewrite.apply(Arrays.copyOfRange(buffer, start, end)));
                    start = end;
                }
                pending.reset();
                pending.write(buffer, start, buffer.length - start);
                return events;
            }).concatWith(Flux.defer(() -> pending.size() == 0 ? Flux.empty() : Flux.just(rewrite.apply(pending.toByteArray()))));
        });
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
