package dev.portcullis.inspect;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.portcullis.failure.GatewayFailure;
import dev.portcullis.failure.Reason;
import java.util.List;

/**
 * Coverage-guided fuzzing of the request body parser (issue 6). Invariant: {@link JsonRpcInspector#inspect}
 * returns messages or throws a {@link GatewayFailure} of {@link Reason#PARSE_ERROR} or
 * {@link Reason#INVALID_JSONRPC}, never any other exception; every request it returns has a method
 * and an id that is a string or an integer.
 *
 * <p>In {@code mvn verify} this runs in Jazzer's regression mode: once per seed in
 * {@code src/test/resources/dev/portcullis/inspect/JsonRpcInspectorFuzzTestInputs/inspect/} (and per crash
 * file found earlier). To fuzz for real (5 minutes by default):
 * {@code JAZZER_FUZZ=1 mvn -B -pl gateway-core -am test -Dtest=JsonRpcInspectorFuzzTest -Dsurefire.failIfNoSpecifiedTests=false}.
 */
class JsonRpcInspectorFuzzTest {
    private static final JsonRpcInspector INSPECTOR = new JsonRpcInspector();

    @FuzzTest(maxDuration = "5m")
    void inspect(byte[] body) {
        List<McpMessage> messages;
        try {
            messages = INSPECTOR.inspect(body);
        } catch (GatewayFailure failure) {
            assertThat(failure.reason()).isIn(Reason.PARSE_ERROR, Reason.INVALID_JSONRPC);
            return;
        }
        assertThat(messages).isNotEmpty();
        for (McpMessage message : messages) {
            if (message.kind() == McpMessage.Kind.REQUEST) {
                assertThat(message.method()).isNotEmpty();
                assertThat(message.id().isTextual() || message.id().isIntegralNumber()).isTrue();
            }
            if (message.kind() != McpMessage.Kind.RESPONSE) {
                message.operation(); // what policy decides on: must be buildable from anything accepted
            }
        }
    }
}
