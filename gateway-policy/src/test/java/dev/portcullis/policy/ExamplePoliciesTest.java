package dev.portcullis.policy;

import static dev.portcullis.policy.Policies.caller;
import static dev.portcullis.policy.Policies.tool;
import static org.assertj.core.api.Assertions.assertThat;

import dev.portcullis.policy.Decision.Outcome;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** The example policies in config/policies load cleanly and decide as their comments say. */
class ExamplePoliciesTest {
    private static final Path EXAMPLES = Path.of("..", "config", "policies");

    private static LoadedPolicy load(String name) {
        LoadedPolicy loaded = PolicyLoader.load(EXAMPLES.resolve(name));
        assertThat(loaded.warnings()).as(name + " warnings").isEmpty();
        return loaded;
    }

    @Test
    void filesystemExample() {
        CompiledPolicy policy = load("filesystem.yaml").policy();
        Subject reader = caller("docs-bot", "files:read", "");
        Subject writer = caller("ide-assistant", "files:write", "");
        Subject admin = caller("ide-assistant", "files:admin", "admin");

        assertThat(policy.decide(reader, tool("read_text_file", "{\"path\":\"/workspace/a.md\"}")).ruleId())
                .isEqualTo("tools.\"read_*\"");
        assertThat(policy.decide(reader, tool("list_directory")).allowed()).isTrue();
        assertThat(policy.decide(reader, tool("read_multiple_files")).outcome()).as("IDE assistant only").isEqualTo(Outcome.DENY);
        assertThat(policy.decide(reader, tool("write_file")).outcome()).isEqualTo(Outcome.STEP_UP);

        assertThat(policy.decide(writer, tool("write_file", "{\"path\":\"/workspace/notes/a.md\",\"content\":\"hi\"}"))
                .allowed()).isTrue();
        Decision traversal = policy.decide(writer, tool("write_file",
                "{\"path\":\"/workspace/../etc/passwd\",\"content\":\"x\"}"));
        assertThat(traversal.outcome()).isEqualTo(Outcome.DENY);
        assertThat(traversal.hidden()).isFalse();
        assertThat(policy.decide(writer, tool("write_file", "{\"path\":\"/etc/passwd\",\"content\":\"x\"}")).allowed()).isFalse();
        assertThat(policy.decide(writer, tool("move_file")).outcome()).as("maintainers only").isEqualTo(Outcome.DENY);

        assertThat(policy.decide(admin, tool("delete_file", "{\"path\":\"/workspace/old.txt\"}")).allowed()).isTrue();
        assertThat(policy.decide(caller("docs-bot", "files:admin", "admin"), tool("delete_file",
                "{\"path\":\"/workspace/old.txt\"}")).outcome()).isEqualTo(Outcome.DENY);
        assertThat(policy.decide(caller("chat-bot", "files:admin", "admin"), tool("list_directory")).ruleId())
                .isEqualTo("agents.allow");
        assertThat(policy.decide(admin, tool("Delete_File")).ruleId()).as("POLICY-03").isEqualTo("default");

        assertThat(policy.decide(reader, Operation.resourceRead("file:///workspace/src/Main.java")).allowed()).isTrue();
        assertThat(policy.decide(admin, Operation.resourceRead("file:///workspace/.git/config")).outcome()).isEqualTo(Outcome.DENY);
        assertThat(policy.decide(admin, Operation.resourceRead("file:///workspace/.env")).outcome()).isEqualTo(Outcome.DENY);
        assertThat(policy.decide(reader, Operation.resourceRead("file:///workspace/secrets/db")).outcome()).isEqualTo(Outcome.DENY);
        assertThat(policy.visible(reader, "resource-template", "file:///workspace/{+path}")).isTrue();
    }

    @Test
    void ticketsExample() {
        CompiledPolicy policy = load("tickets.yaml").policy();
        Subject agent = caller("helpdesk-assistant", "tickets:write", "");
        Subject exporter = caller("reporting", "tickets:export", "");

        assertThat(policy.decide(agent, tool("search_tickets")).allowed()).as("write implies read").isTrue();
        assertThat(policy.decide(agent, tool("create_ticket", "{\"project\":\"OPS\",\"title\":\"Printer on fire\"}"))
                .allowed()).isTrue();
        assertThat(policy.decide(agent, tool("create_ticket",
                "{\"project\":\"OPS\",\"title\":\"x\",\"priority\":\"urgent\"}")).outcome()).isEqualTo(Outcome.DENY);
        assertThat(policy.decide(agent, tool("update_ticket",
                "{\"ticket_id\":\"OPS-12\",\"fields\":{\"status\":\"closed\"}}")).outcome()).isEqualTo(Outcome.DENY);
        assertThat(policy.decide(agent, tool("update_ticket",
                "{\"ticket_id\":\"OPS-12\",\"fields\":{\"status\":\"waiting\"}}")).allowed()).isTrue();
        assertThat(policy.decide(agent, tool("assign_ticket")).outcome()).as("triage bot only").isEqualTo(Outcome.DENY);
        assertThat(policy.decide(caller("triage-bot", "tickets:write", ""), tool("assign_ticket")).allowed()).isTrue();

        assertThat(policy.decide(exporter, tool("export_tickets", "{\"limit\":500,\"format\":\"csv\"}")).allowed()).isTrue();
        assertThat(policy.decide(exporter, tool("export_tickets", "{\"limit\":5000,\"format\":\"csv\"}")).outcome())
                .isEqualTo(Outcome.DENY);
        Decision audit = policy.decide(exporter, tool("export_audit_log"));
        assertThat(audit.ruleId()).isEqualTo("tools.export_audit_log");
        assertThat(audit.outcome()).isEqualTo(Outcome.DENY);
        assertThat(policy.decide(caller("x", "tickets:admin", "admin"), tool("admin_purge")).outcome()).isEqualTo(Outcome.DENY);

        assertThat(policy.decide(agent, Operation.resourceRead("tickets://OPS/12")).allowed()).isTrue();
        assertThat(policy.decide(agent, Operation.resourceRead("tickets://OPS/12/attachments/log.txt")).allowed()).isTrue();
        assertThat(policy.decide(agent, Operation.resourceRead("tickets://SECURITY/7")).outcome()).isEqualTo(Outcome.DENY);
        assertThat(policy.decide(agent, Operation.resourceRead("tickets://SECURITY/7/attachments/x")).outcome())
                .isEqualTo(Outcome.DENY);
        assertThat(policy.decide(caller("x", "tickets:read", "security"), Operation.resourceRead("tickets://SECURITY/7"))
                .allowed()).isTrue();
        assertThat(policy.decide(agent, Operation.promptGet("draft_reply", Policies.json("{\"tone\":\"formal\"}"))).allowed())
                .isTrue();
        assertThat(policy.decide(agent, Operation.method("tasks/get")).allowed()).isTrue();
        assertThat(policy.decide(agent, Operation.method("sampling/createMessage")).outcome()).isEqualTo(Outcome.DENY);
    }
}
