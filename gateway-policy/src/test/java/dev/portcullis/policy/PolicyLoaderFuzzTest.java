package dev.portcullis.policy;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import java.util.Optional;
import java.util.Set;

/**
 * Coverage-guided fuzzing of the policy loader (issue 6). Invariant: {@link PolicyLoader#parse} returns
 * a {@link LoadedPolicy} or throws {@link InvalidPolicyException}, never any other exception; and a
 * policy that loads decides any operation without throwing.
 *
 * <p>In {@code mvn verify} this runs in Jazzer's regression mode over
 * {@code src/test/resources/dev/portcullis/policy/PolicyLoaderFuzzTestInputs/parse/}. To fuzz for real:
 * {@code JAZZER_FUZZ=1 mvn -B -pl gateway-policy test -Dtest=PolicyLoaderFuzzTest -Dsurefire.failIfNoSpecifiedTests=false}.
 */
class PolicyLoaderFuzzTest {

    @FuzzTest(maxDuration = "5m")
    void parse(FuzzedDataProvider data) {
        String method = data.pickValue(new String[] {"tools/call", "resources/read", "prompts/get", "initialize",
                "tools/list", "completion/complete", "notifications/x"});
        String target = data.consumeString(40);
        String scope = data.consumeString(20);
        int number = data.consumeInt();
        String yaml = data.consumeRemainingAsString();
        LoadedPolicy loaded;
        try {
            loaded = PolicyLoader.parse(yaml, "fuzz.yaml");
        } catch (InvalidPolicyException expected) {
            return;
        }
        Subject subject = new Subject("https://idp.example.com", "user", "agent", Set.of(scope), Set.of("admin"));
        com.fasterxml.jackson.databind.node.ObjectNode arguments = com.fasterxml.jackson.databind.node.JsonNodeFactory.instance
                .objectNode().put("text", target).put("limit", number);
        arguments.putObject("fields").put("status", scope);
        loaded.policy().decide(subject, new Operation(method, Optional.of(target), arguments));
        loaded.policy().decide(subject, new Operation(method, Optional.empty(), null));
    }
}
