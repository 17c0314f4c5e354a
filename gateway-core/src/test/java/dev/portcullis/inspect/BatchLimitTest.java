package dev.portcullis.inspect;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.portcullis.failure.FailureResponses;
import dev.portcullis.failure.GatewayFailure;
import dev.portcullis.failure.Reason;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** Issue 12 item 10: no limit on batch size. A batch over the limit is refused whole, before any other work. */
class BatchLimitTest {
    private static byte[] batch(int elements) {
        StringBuilder out = new StringBuilder("[");
        for (int i = 0; i < elements; i++) {
            out.append(i == 0 ? "" : ",").append("{\"jsonrpc\":\"2.0\",\"id\":").append(i)
                    .append(",\"method\":\"tools/call\",\"params\":{\"name\":\"echo\",\"arguments\":{\"a\":[1,{\"b\":2}]}}}");
        }
        return out.append(']').toString().getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void noLimitOnBatchSize() {
        BatchLimit limit = new BatchLimit(100);
        assertThatCode(() -> limit.check(batch(100))).doesNotThrowAnyException();
        assertThatThrownBy(() -> limit.check(batch(101)))
                .isInstanceOfSatisfying(GatewayFailure.class, f -> {
                    assertThat(f.reason()).isEqualTo(Reason.INVALID_JSONRPC);
                    assertThat(FailureResponses.status(f.reason())).isEqualTo(400);
                    assertThat(f.description()).isEqualTo("Invalid Request: batch too large (at most 100 messages)");
                    assertThat(f.jsonRpcId()).isNull(); // one error for the whole batch
                });
    }

    /** Counting stops past the limit: a huge batch costs the scan of its first elements only. */
    @Test
    void countingStopsAtTheFirstElementPastTheLimit() {
        byte[] huge = batch(30_000);
        assertThat(BatchLimit.countUpTo(huge, 101)).isEqualTo(101);
        // Even when the rest of the body is not JSON at all.
        byte[] truncated = java.util.Arrays.copyOf(huge, huge.length / 2);
        assertThatThrownBy(() -> new BatchLimit(100).check(truncated)).isInstanceOf(GatewayFailure.class);
        long start = System.nanoTime();
        for (int i = 0; i < 100; i++) {
            BatchLimit.countUpTo(huge, 101);
        }
        assertThat((System.nanoTime() - start) / 100).as("ns per check of a %d-byte batch", huge.length).isLessThan(5_000_000);
    }

    @Test
    void singleMessagesAndNonJsonAreLeftToTheParser() {
        BatchLimit one = new BatchLimit(1);
        assertThatCode(() -> one.check("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}".getBytes(StandardCharsets.UTF_8)))
                .doesNotThrowAnyException();
        assertThatCode(() -> one.check("not json".getBytes(StandardCharsets.UTF_8))).doesNotThrowAnyException();
        assertThatCode(() -> one.check("[]".getBytes(StandardCharsets.UTF_8))).doesNotThrowAnyException();
        assertThatThrownBy(() -> one.check("[1,2".getBytes(StandardCharsets.UTF_8))).isInstanceOf(GatewayFailure.class);
    }
}
