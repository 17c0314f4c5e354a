package dev.portcullis.http;

import java.io.ByteArrayOutputStream;
import reactor.core.publisher.Mono;
import reactor.netty.ByteBufFlux;

/**
 * Collects a body into a byte array, failing as soon as it grows past a limit, so an oversized
 * body is never held whole. Each chunk is copied and released by {@code asByteArray()}.
 */
public final class BoundedBody {
    private BoundedBody() {}

    /** Signalled when a body exceeds its limit. */
    public static final class TooLarge extends RuntimeException {
        private static final long serialVersionUID = 1L;

        public TooLarge(long limit) {
            super("body larger than " + limit + " bytes", null, false, false);
        }
    }

    public static Mono<byte[]> collect(ByteBufFlux body, long limit) {
        return body.asByteArray()
                .reduceWith(ByteArrayOutputStream::new, (out, chunk) -> {
                    if (out.size() + (long) chunk.length > limit) {
                        throw new TooLarge(limit);
                    }
                    out.write(chunk, 0, chunk.length);
                    return out;
                })
                .map(ByteArrayOutputStream::toByteArray)
                .defaultIfEmpty(new byte[0]);
    }
}
