package dev.portcullis.forward;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.IntNode;
import dev.portcullis.policy.Policy;
import dev.portcullis.policy.PolicyLoader;
import dev.portcullis.policy.Subject;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** V26-34: which open listen streams a policy change is announced on, and that closed streams are forgotten. */
class ListenStreamsTest {
    private final ObjectMapper json = new ObjectMapper();
    private final Subject reader = new Subject("https://idp", "u", "agent", Set.of("files:read"), Set.of());

    private static Policy policy(Path dir, String name, String yaml) throws Exception {
        return PolicyLoader.load(Files.writeString(dir.resolve(name), yaml)).policy();
    }

    @Test
    void v26_34OnlyStreamsWhoseCallerSeesAListDifferentlyAndAskedForItAreTold(@TempDir Path dir) throws Exception {
        Policy before = policy(dir, "a.yaml", "default: deny\ntools:\n  read_file: { scopes: [files:read] }\n");
        Policy toolsChanged = policy(dir, "b.yaml", "default: deny\ntools:\n  read_file: { scopes: [files:write] }\n");
        Policy promptsChanged = policy(dir, "c.yaml", "default: deny\ntools:\n  read_file: { scopes: [files:read] }\n"
                + "prompts:\n  p: {}\n");
        ListenStreams streams = new ListenStreams();
        ListenStreams.Stream tools = streams.register("r", reader, json.readTree("{\"toolsListChanged\":true}"), IntNode.valueOf(9));
        ListenStreams.Stream prompts = streams.register("r", reader, json.readTree("{\"promptsListChanged\":true}"), IntNode.valueOf(10));
        ListenStreams.Stream otherRoute = streams.register("other", reader, json.readTree("{\"toolsListChanged\":true}"), IntNode.valueOf(11));
        assertThat(streams.register("r", reader, json.readTree("{\"resourceSubscriptions\":[\"x\"]}"), IntNode.valueOf(12)))
                .as("nothing to announce to a stream that asked for no list changes").isNull();
        assertThat(streams.size()).isEqualTo(3);

        streams.policyChanged("r", before, toolsChanged);
        streams.policyChanged("r", before, promptsChanged);
        streams.policyChanged("r", before, before);
        tools.close();
        prompts.close();
        otherRoute.close();

        List<byte[]> toTools = tools.drain();
        assertThat(toTools).singleElement().satisfies(e -> assertThat(new String(e, StandardCharsets.UTF_8)).isEqualTo(
                "event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/tools/list_changed\","
                        + "\"params\":{\"_meta\":{\"io.modelcontextprotocol/subscriptionId\":9}}}\n\n"));
        assertThat(prompts.drain()).singleElement()
                .satisfies(e -> assertThat(new String(e, StandardCharsets.UTF_8)).contains("notifications/prompts/list_changed"));
        assertThat(otherRoute.drain()).isEmpty();
        assertThat(streams.size()).as("closed streams are forgotten").isZero();
    }
}
