package dev.portcullis.policy;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** Every YAML example in gateway-policy/README.md loads: the documentation cannot drift from the loader. */
class ReadmeExamplesTest {
    private static final Pattern YAML_BLOCK = Pattern.compile("```yaml\\n(.*?)```", Pattern.DOTALL);

    @Test
    void everyYamlExampleInTheReadmeLoads() throws Exception {
        String readme = Files.readString(Path.of("README.md"));
        Matcher blocks = YAML_BLOCK.matcher(readme);
        List<String> loaded = new ArrayList<>();
        while (blocks.find()) {
            String yaml = blocks.group(1);
            PolicyLoader.parse(yaml, "README.md example " + (loaded.size() + 1));
            loaded.add(yaml);
        }
        assertThat(loaded).hasSizeGreaterThanOrEqualTo(8);
    }
}
