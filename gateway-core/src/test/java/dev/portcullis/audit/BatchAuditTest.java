package dev.portcullis.audit;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Issue 12 item 10: a flood of large batches wrote 2.8 million audit lines. A batch is one audit event with
 * counts per decision and per refusing rule and a bounded sample, refusals first; no refusal goes unsaid.
 */
class BatchAuditTest {
    private static List<BatchAudit.Element> elements(int allowed, int denied) {
        List<BatchAudit.Element> out = new ArrayList<>();
        for (int i = 0; i < allowed + denied; i++) {
            boolean deny = i % ((allowed + denied) / Math.max(denied, 1)) == 0 && out.stream().filter(BatchAudit.Element::refused).count() < denied;
            out.add(new BatchAudit.Element(i, "tools/call", deny ? "delete_repo" : "echo", deny ? "deny" : "allow",
                    deny ? "tools.delete_repo" : "tools.echo", new ObjectMapper().createObjectNode().put("text", "x" + i)));
        }
        return out;
    }

    @Test
    void auditLinesPerBatchElementAreBoundedToOneSummary() {
        BatchAudit.Summary summary = BatchAudit.summarise(elements(70, 30), ArgumentLogging.parse("digest", List.of()));

        assertThat(summary.decision()).isEqualTo("mixed");
        assertThat(summary.reason()).isEqualTo("100 messages: 70 allow, 30 deny");
        Map<String, Object> batch = summary.batch();
        assertThat(batch).containsEntry("size", 100).containsEntry("decisions", Map.of("allow", 70, "deny", 30))
                .containsEntry("refused_rules", Map.of("tools.delete_repo", 30)).containsEntry("elements_omitted", 80);
        @SuppressWarnings("unchecked")
        List<Map<String, Object>> sample = (List<Map<String, Object>>) batch.get("elements");
        assertThat(sample).hasSize(BatchAudit.SAMPLE).allSatisfy(e -> {
            assertThat(e).containsEntry("decision", "deny").containsEntry("target", "delete_repo");
            assertThat((String) e.get("arguments")).startsWith("sha256:");
        });
    }

    @Test
    void aSmallBatchIsListedWholeRefusalsFirst() {
        BatchAudit.Summary summary = BatchAudit.summarise(elements(2, 1), null);

        assertThat(summary.batch()).containsEntry("elements_omitted", 0);
        @SuppressWarnings("unchecked")
        List<Map<String, Object>> sample = (List<Map<String, Object>>) summary.batch().get("elements");
        assertThat(sample).extracting(e -> e.get("decision")).containsExactly("deny", "allow", "allow");
        assertThat(sample).allSatisfy(e -> assertThat(e).doesNotContainKey("arguments"));
        BatchAudit.Summary allowed = BatchAudit.summarise(elements(3, 0), null);
        assertThat(allowed.decision()).isEqualTo("allow");
        assertThat(allowed.batch()).doesNotContainKey("refused_rules");
    }
}
