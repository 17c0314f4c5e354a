package dev.portcullis.inspect;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import dev.portcullis.failure.GatewayFailure;
import dev.portcullis.failure.Reason;
import java.io.IOException;

/**
 * The first thing done with a body once it is read (issue 12 item 10): a JSON-RPC batch of more than
 * {@code listen.max-batch-size} elements is refused whole with one JSON-RPC error (400, -32600, id null),
 * before the body is parsed into a tree, decided, audited per element or forwarded. Counting stops at the
 * first element past the limit, so a 4 MiB batch of tens of thousands of elements costs a scan of its
 * first {@code limit + 1} elements, not a parse of all of them. A body that is not an array, or is not
 * valid JSON, is left to the full parse (which reports it as it always has).
 */
public final class BatchLimit {
    private static final JsonFactory JSON = new JsonFactory();

    private final int maxElements;

    public BatchLimit(int maxElements) {
        if (maxElements < 1) {
            throw new IllegalArgumentException("maxElements must be positive");
        }
        this.maxElements = maxElements;
    }

    public int maxElements() {
        return maxElements;
    }

    /** @throws GatewayFailure (INVALID_JSONRPC) when {@code body} is an array of more than the limit's elements */
    public void check(byte[] body) {
        if (countUpTo(body, maxElements + 1) > maxElements) {
            throw GatewayFailure.of(Reason.INVALID_JSONRPC,
                    "Invalid Request: batch too large (at most " + maxElements + " messages)",
                    "batch of more than " + maxElements + " elements (listen.max-batch-size)");
        }
    }

    /**
     * Elements of the top-level array in {@code body}, counted up to {@code stopAt} (then {@code stopAt} is
     * returned); 0 for a body that is not an array; what was counted so far when the JSON breaks off.
     */
    static int countUpTo(byte[] body, int stopAt) {
        if (!startsWithArray(body)) {
            return 0; // the common case, a single message: no parser at all
        }
        int count = 0;
        try (JsonParser parser = JSON.createParser(body)) {
            if (parser.nextToken() != JsonToken.START_ARRAY) {
                return 0;
            }
            JsonToken token;
            while (count < stopAt && (token = parser.nextToken()) != null && token != JsonToken.END_ARRAY) {
                parser.skipChildren();
                count++;
            }
        } catch (IOException e) {
            // Not valid JSON (or not all of it): the strict parse that follows reports it.
        }
        return count;
    }

    /** Whether the first byte after a UTF-8 byte order mark (as Jackson skips it) and JSON white space is {@code [}. */
    private static boolean startsWithArray(byte[] body) {
        int from = body.length >= 3 && (body[0] & 0xFF) == 0xEF && (body[1] & 0xFF) == 0xBB && (body[2] & 0xFF) == 0xBF ? 3 : 0;
        for (int i = from; i < body.length; i++) {
            byte b = body[i];
            if (b != ' ' && b != '\t' && b != '\n' && b != '\r') {
                return b == '[';
            }
        }
        return false;
    }
}
