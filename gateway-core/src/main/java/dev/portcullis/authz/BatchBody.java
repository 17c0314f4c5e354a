package dev.portcullis.authz;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * A smaller batch made of some elements of a batch body, each element copied byte for byte, so the
 * upstream reads exactly the elements policy decided (POLICY-02, POLICY-07). Element boundaries come
 * from Jackson's token locations over the (already validated) body.
 */
final class BatchBody {
    private static final JsonFactory JSON = new JsonFactory();

    private BatchBody() {}

    /** {@code [e_i, e_j, …]} for the kept indexes, in their order in {@code body}. */
    static byte[] keep(byte[] body, Set<Integer> kept) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(body.length);
        out.write('[');
        boolean first = true;
        for (int[] range : elements(body)) {
            if (!kept.contains(range[0])) {
                continue;
            }
            if (!first) {
                out.write(',');
            }
            out.write(body, range[1], range[2] - range[1]);
            first = false;
        }
        out.write(']');
        return out.toByteArray();
    }

    /** {index, start, end} of each element of the top-level array. */
    static List<int[]> elements(byte[] body) {
        List<int[]> ranges = new ArrayList<>();
        try (JsonParser parser = JSON.createParser(body)) {
            if (parser.nextToken() != JsonToken.START_ARRAY) {
                throw new IllegalArgumentException("not a batch");
            }
            int index = 0;
            JsonToken token;
            while ((token = parser.nextToken()) != JsonToken.END_ARRAY && token != null) {
                int start = (int) parser.currentTokenLocation().getByteOffset();
                parser.skipChildren();
                int end = (int) parser.currentLocation().getByteOffset();
                ranges.add(new int[] {index++, start, end});
            }
        } catch (IOException e) {
            throw new IllegalArgumentException("batch body cannot be split", e);
        }
        return ranges;
    }
}
