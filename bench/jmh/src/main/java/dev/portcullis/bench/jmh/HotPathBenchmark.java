package dev.portcullis.bench.jmh;

import dev.portcullis.forward.HeaderRewrite;
import dev.portcullis.audit.ArgumentLogging;
import dev.portcullis.inspect.JsonRpcInspector;
import dev.portcullis.inspect.McpMessage;
import dev.portcullis.policy.Decision;
import dev.portcullis.policy.LoadedPolicy;
import dev.portcullis.policy.Operation;
import dev.portcullis.policy.Policy;
import dev.portcullis.policy.PolicyLoader;
import dev.portcullis.policy.Subject;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import java.io.IOException;
import java.io.InputStream;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The other per-request pieces, each on the same ~1 KB {@code tools/call} the load harness sends
 * ({@code bench/payload/tools-call.json}, bundled as a resource):
 *
 * <ul>
 *   <li>{@code inspectToolsCall}: {@link JsonRpcInspector#inspect}: the strict parse (duplicate keys,
 *       depth, exact numbers) and classification of the body;</li>
 *   <li>{@code policyAuthenticatedOnly}: {@link Policy#authenticatedOnly()}, what a route without a
 *       policy file decides today;</li>
 *   <li>{@code policyCompiledRule}: a compiled policy file (scopes, a glob section, argument checks)
 *       deciding the same call: what a route with a {@code policy:} key will decide once the gateway
 *       wires policy files in;</li>
 *   <li>{@code headerRewriteToUpstream}: {@link HeaderRewrite#toUpstream} on a typical MCP request's
 *       headers;</li>
 *   <li>{@code auditArgumentDigest}: the audit trail's default record of the call's arguments (SHA-256 of their
 *       canonical JSON, {@link ArgumentLogging#digest}).</li>
 * </ul>
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
@State(Scope.Thread)
public class HotPathBenchmark {
    static final String POLICY = """
            default: deny
            scopes:
              implies:
                tickets:admin: [tickets:read, tickets:write]
            tools:
              search_tickets:
                scopes: [tickets:read]
                arguments:
                  project: { one-of: [OPS, HELP] }
                  limit:   { min: 1, max: 100 }
              get_ticket: { scopes: [tickets:read] }
              "export_*": { scopes: [tickets:admin] }
            """;

    private JsonRpcInspector inspector;
    private byte[] body;
    private Subject subject;
    private Operation operation;
    private Policy authenticatedOnly;
    private Policy compiled;
    private HttpHeaders inbound;

    @Setup
    public void setUp() throws IOException {
        try (InputStream in = HotPathBenchmark.class.getResourceAsStream("/tools-call.json")) {
            body = in.readAllBytes();
        }
        inspector = new JsonRpcInspector();
        operation = inspector.inspect(body).get(0).operation();
        subject = new Subject(BenchIssuer.ISSUER, "bench-user", "bench-agent", Set.of("mcp:tools", "tickets:read"), Set.of());
        authenticatedOnly = Policy.authenticatedOnly();
        LoadedPolicy loaded = PolicyLoader.parse(POLICY, "bench-policy.yaml");
        compiled = loaded.policy();
        if (!compiled.decide(subject, operation).allowed()) {
            throw new IllegalStateException("the bench policy must allow the bench call");
        }
        inbound = new DefaultHttpHeaders()
                .add("Host", "mcp.bench.example")
                .add("User-Agent", "bench-client/1.0")
                .add("Content-Type", "application/json")
                .add("Accept", "application/json, text/event-stream")
                .add("Content-Length", Integer.toString(body.length))
                .add("Authorization", "Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln")
                .add("MCP-Protocol-Version", "2025-11-25")
                .add("Mcp-Session-Id", "5f1c7a0e-3c1b-4d7e-9a57-1f0b2d3c4e5f")
                .add("Connection", "keep-alive")
                .add("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    }

    @Benchmark
    public List<McpMessage> inspectToolsCall() {
        return inspector.inspect(body);
    }

    @Benchmark
    public Decision policyAuthenticatedOnly() {
        return authenticatedOnly.decide(subject, operation);
    }

    @Benchmark
    public Decision policyCompiledRule() {
        return compiled.decide(subject, operation);
    }

    @Benchmark
    public String auditArgumentDigest() {
        return ArgumentLogging.digest(operation.arguments());
    }

    @Benchmark
    public HttpHeaders headerRewriteToUpstream() {
        HttpHeaders out = new DefaultHttpHeaders();
        HeaderRewrite.toUpstream(inbound, out, Optional.empty(), "127.0.0.1", false);
        return out;
    }
}
