package dev.portcullis.app.demo;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** {@code portcullis demo}: the printed guide's steps, replayed (issue 7). */
class DemoTest {
    private final HttpClient http = HttpClient.newHttpClient();

    private HttpResponse<String> post(String url, String token, String body) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(10))
                .header("Content-Type", "application/json").header("Accept", "application/json, text/event-stream")
                .POST(HttpRequest.BodyPublishers.ofString(body));
        if (token != null) {
            request.header("Authorization", "Bearer " + token);
        }
        return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    private String get(String url) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(url)).build(), HttpResponse.BodyHandlers.ofString()).body();
    }

    private static String call(int id, String tool, String args) {
        return "{\"jsonrpc\":\"2.0\",\"id\":" + id + ",\"method\":\"tools/call\",\"params\":{\"name\":\"" + tool
                + "\",\"arguments\":" + args + "}}";
    }

    @Test
    void everyStepOfTheGuideDoesWhatItSays() throws Exception {
        try (Demo demo = Demo.start(0)) {
            ByteArrayOutputStream printed = new ByteArrayOutputStream();
            demo.printGuide(new PrintStream(printed, true, StandardCharsets.UTF_8));
            String guide = printed.toString(StandardCharsets.UTF_8);
            String mcp = "http://127.0.0.1:" + demo.port() + "/mcp";
            assertThat(guide).contains(mcp, demo.issuerUrl() + "/dev-token?scope=notes:read", "DEVELOPMENT ONLY");

            // 1. no token
            HttpResponse<String> anonymous = post(mcp, null, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}");
            assertThat(anonymous.statusCode()).isEqualTo(401);
            assertThat(anonymous.headers().firstValue("WWW-Authenticate")).hasValueSatisfying(h -> assertThat(h)
                    .contains("resource_metadata=\"http://127.0.0.1:" + demo.port() + "/.well-known/oauth-protected-resource/mcp\""));
            assertThat(get("http://127.0.0.1:" + demo.port() + "/.well-known/oauth-protected-resource/mcp"))
                    .contains("\"resource\":\"" + mcp + "\"");
            // 2. tokens
            String read = get(demo.issuerUrl() + "/dev-token?scope=notes:read");
            String write = get(demo.issuerUrl() + "/dev-token?scope=notes:read%20notes:write");
            // 3. filtered list
            String list = post(mcp, read, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"}").body();
            assertThat(list).contains("list_notes", "read_note").doesNotContain("add_note", "delete_note");
            // 4. allowed read
            assertThat(post(mcp, read, call(3, "read_note", "{\"title\":\"welcome\"}")).body()).contains("Portcullis checked");
            // 5. write without the scope
            HttpResponse<String> stepUp = post(mcp, read, call(4, "add_note", "{\"title\":\"idea\",\"text\":\"hello\"}"));
            assertThat(stepUp.statusCode()).isEqualTo(403);
            assertThat(stepUp.headers().firstValue("WWW-Authenticate")).hasValueSatisfying(h -> assertThat(h)
                    .contains("insufficient_scope", "scope=\"notes:read notes:write\""));
            // 6. write with the scope; delete stays hidden
            assertThat(post(mcp, write, call(5, "add_note", "{\"title\":\"idea\",\"text\":\"hello\"}")).body()).contains("saved idea");
            assertThat(post(mcp, write, call(6, "delete_note", "{\"title\":\"todo\"}")).body()).contains("Unknown tool: delete_note");
        }
    }

    /** The container build's training run ({@code demo --exercise}) passes, and fails when an answer is wrong. */
    @Test
    void exerciseDrivesTheGuideAndChecksTheAnswers() throws Exception {
        Demo demo = Demo.start(0);
        try {
            demo.exercise();
        } finally {
            demo.close();
        }
        // Everything is stopped now: the exercise must notice, not pass.
        org.assertj.core.api.Assertions.assertThatThrownBy(demo::exercise).isInstanceOf(Exception.class);
    }
}
