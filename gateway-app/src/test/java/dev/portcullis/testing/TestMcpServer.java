package dev.portcullis.testing;

import io.modelcontextprotocol.common.McpTransportContext;
import io.modelcontextprotocol.server.McpServer;
import io.modelcontextprotocol.server.McpServerFeatures.SyncToolSpecification;
import io.modelcontextprotocol.server.McpSyncServer;
import io.modelcontextprotocol.server.McpSyncServerExchange;
import io.modelcontextprotocol.server.transport.HttpServletStreamableServerTransportProvider;
import io.modelcontextprotocol.spec.McpSchema;
import io.modelcontextprotocol.spec.McpSchema.CallToolRequest;
import io.modelcontextprotocol.spec.McpSchema.CallToolResult;
import jakarta.servlet.Filter;
import jakarta.servlet.FilterChain;
import jakarta.servlet.ReadListener;
import jakarta.servlet.ServletException;
import jakarta.servlet.ServletInputStream;
import jakarta.servlet.ServletRequest;
import jakarta.servlet.ServletResponse;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletRequestWrapper;
import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.BiFunction;
import java.util.stream.Stream;
import org.apache.catalina.Context;
import org.apache.catalina.LifecycleException;
import org.apache.catalina.connector.Connector;
import org.apache.catalina.startup.Tomcat;
import org.apache.tomcat.util.descriptor.web.FilterDef;
import org.apache.tomcat.util.descriptor.web.FilterMap;

/**
 * A real MCP server (Java MCP SDK, streamable HTTP servlet transport) in embedded Tomcat on
 * 127.0.0.1, endpoint {@code /mcp}, with tools {@code echo}, {@code whoami} and
 * {@code slow_progress}. A servlet filter in front records every HTTP request it receives.
 */
public final class TestMcpServer implements AutoCloseable {

    public static final String ENDPOINT = "/mcp";
    private static final String AUTHORIZATION = "authorization";

    /** One HTTP request as the upstream saw it; header names are lower-cased. */
    public record RecordedRequest(String method, String path, Map<String, List<String>> headers, String body) {
        /** First value of the header, or null. */
        public String header(String name) {
            List<String> values = headers.get(name.toLowerCase(Locale.ROOT));
            return values == null || values.isEmpty() ? null : values.get(0);
        }
    }

    private final List<RecordedRequest> requests = new CopyOnWriteArrayList<>();
    private final java.util.concurrent.atomic.AtomicInteger probes = new java.util.concurrent.atomic.AtomicInteger();
    private final Path baseDir;
    private final Tomcat tomcat;
    private final McpSyncServer mcp;
    private final int port;
    /** The tools as served now, by name (issue 17: {@link #redescribe} changes one). */
    private final Map<String, SyncToolSpecification> tools = new java.util.concurrent.ConcurrentHashMap<>();

    private TestMcpServer() throws IOException, LifecycleException {
        var transport = HttpServletStreamableServerTransportProvider.builder()
                .mcpEndpoint(ENDPOINT)
                // the SDK hands this per-HTTP-request context to tool handlers (exchange.transportContext())
                .contextExtractor(request -> McpTransportContext.create(Map.of(AUTHORIZATION,
                        Objects.requireNonNullElse(request.getHeader("Authorization"), "none"))))
                .build();
        this.mcp = McpServer.sync(transport)
                .serverInfo("portcullis-test-upstream", "1.0.0")
                .capabilities(McpSchema.ServerCapabilities.builder().tools(false).logging().build())
                .tools(echo(), whoami(), slowProgress(), longProgress())
                .build();
        for (SyncToolSpecification tool : List.of(echo(), whoami(), slowProgress(), longProgress())) {
            tools.put(tool.tool().name(), tool);
        }

        this.baseDir = Files.createTempDirectory("test-mcp-tomcat");
        this.tomcat = new Tomcat();
        try {
            this.port = startTomcat(transport);
        } catch (LifecycleException | RuntimeException e) {
            close();
            throw e;
        }
    }

    private int startTomcat(HttpServletStreamableServerTransportProvider transport) throws LifecycleException {
        tomcat.setBaseDir(baseDir.toString());
        Connector connector = new Connector();
        connector.setPort(0);
        connector.setProperty("address", "127.0.0.1");
        tomcat.setConnector(connector);

        Context context = tomcat.addContext("", baseDir.toString());
        Tomcat.addServlet(context, "mcp", transport).setAsyncSupported(true);
        context.addServletMappingDecoded(ENDPOINT, "mcp");
        FilterDef recorder = new FilterDef();
        recorder.setFilterName("recorder");
        recorder.setFilter(new RecordingFilter());
        recorder.setAsyncSupported("true");
        context.addFilterDef(recorder);
        FilterMap everything = new FilterMap();
        everything.setFilterName("recorder");
        everything.addURLPattern("/*");
        context.addFilterMap(everything);

        tomcat.start();
        return connector.getLocalPort();
    }

    public static TestMcpServer start() {
        try {
            return new TestMcpServer();
        } catch (IOException | LifecycleException e) {
            throw new IllegalStateException("cannot start test MCP server", e);
        }
    }

    public int port() {
        return port;
    }

    /** {@code http://127.0.0.1:PORT} */
    public String baseUrl() {
        return "http://127.0.0.1:" + port;
    }

    /** {@code http://127.0.0.1:PORT/mcp} */
    public String url() {
        return baseUrl() + ENDPOINT;
    }

    /** Every HTTP request received (any path), in arrival order. */
    public List<RecordedRequest> requests() {
        return List.copyOf(requests);
    }

    /** How many era probes the gateway sent (see the recording filter). */
    public int probes() {
        return probes.get();
    }

    public void clearRequests() {
        requests.clear();
    }

    @Override
    public void close() {
        try {
            mcp.close();
        } finally {
            try {
                tomcat.stop();
                tomcat.destroy();
            } catch (LifecycleException e) {
                throw new IllegalStateException(e);
            } finally {
                forgetGlobalTomcatDirs();
                deleteRecursively(baseDir);
            }
        }
    }

    /**
     * Issue 17 (a "rug pull"): tool {@code name} is served from now on with {@code description}, its schema and handler
     * unchanged; the next {@code tools/list} shows it. No {@code list_changed} is sent (the server does not offer it).
     */
    public void redescribe(String name, String description) {
        SyncToolSpecification before = tools.get(name);
        if (before == null) {
            throw new IllegalArgumentException("no tool " + name);
        }
        SyncToolSpecification after = SyncToolSpecification.builder()
                .tool(McpSchema.Tool.builder(name, before.tool().inputSchema()).description(description).build())
                .callHandler(before.callHandler())
                .build();
        mcp.removeTool(name);
        mcp.addTool(after);
        tools.put(name, after);
    }

    private static SyncToolSpecification echo() {
        return tool("echo", "Returns the text argument",
                Map.of("type", "object",
                        "properties", Map.of("text", Map.of("type", "string")),
                        "required", List.of("text")),
                (exchange, request) -> text(String.valueOf(request.arguments().get("text"))));
    }

    private static SyncToolSpecification whoami() {
        return tool("whoami", "Returns the Authorization header this server received, or \"none\"",
                Map.of("type", "object"),
                (exchange, request) -> text(String.valueOf(exchange.transportContext().get(AUTHORIZATION))));
    }

    /** Two notifications 300 ms apart (progress if the call carries a progressToken, logging always), then "done". */
    private static SyncToolSpecification slowProgress() {
        return tool("slow_progress", "Sends two notifications 300 ms apart, then returns \"done\"",
                Map.of("type", "object"),
                (exchange, request) -> {
                    Object progressToken = request.meta() == null ? null : request.meta().get("progressToken");
                    for (int step = 1; step <= 2; step++) {
                        if (progressToken != null) {
                            exchange.progressNotification(McpSchema.ProgressNotification.builder(progressToken, step)
                                    .total(2.0).message("step " + step).build());
                        }
                        exchange.loggingNotification(new McpSchema.LoggingMessageNotification(
                                McpSchema.LoggingLevel.INFO, "slow_progress", "step " + step));
                        sleep(300);
                    }
                    return text("done");
                });
    }

    /** Issue 14 (drain): eight logging notifications 500 ms apart (about 4 s), then "long done". */
    private static SyncToolSpecification longProgress() {
        return tool("long_progress", "Sends eight notifications 500 ms apart, then returns \"long done\"",
                Map.of("type", "object"),
                (exchange, request) -> {
                    for (int step = 1; step <= 8; step++) {
                        exchange.loggingNotification(new McpSchema.LoggingMessageNotification(
                                McpSchema.LoggingLevel.INFO, "long_progress", "step " + step));
                        sleep(500);
                    }
                    return text("long done");
                });
    }

    private static SyncToolSpecification tool(String name, String description, Map<String, Object> inputSchema,
            BiFunction<McpSyncServerExchange, CallToolRequest, CallToolResult> handler) {
        return SyncToolSpecification.builder()
                .tool(McpSchema.Tool.builder(name, inputSchema).description(description).build())
                .callHandler(handler)
                .build();
    }

    private static CallToolResult text(String text) {
        return CallToolResult.builder().addTextContent(text).isError(false).build();
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Embedded Tomcat publishes its base dir as the JVM-wide catalina.base/catalina.home system
     * properties, and every later instance mkdirs catalina.home: unset them if they point at ours.
     */
    private void forgetGlobalTomcatDirs() {
        String ours = tomcat.getServer().getCatalinaBase().getPath();
        for (String property : List.of("catalina.base", "catalina.home")) {
            if (ours.equals(System.getProperty(property))) {
                System.clearProperty(property);
            }
        }
    }

    private static void deleteRecursively(Path dir) {
        try (Stream<Path> paths = Files.walk(dir)) {
            paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Records the request, then passes it on with the already-read body replayable. */
    private final class RecordingFilter implements Filter {
        @Override
        public void doFilter(ServletRequest req, ServletResponse res, FilterChain chain)
                throws IOException, ServletException {
            HttpServletRequest http = (HttpServletRequest) req;
            byte[] body = http.getInputStream().readAllBytes();
            Map<String, List<String>> headers = new LinkedHashMap<>();
            for (String name : Collections.list(http.getHeaderNames())) {
                headers.computeIfAbsent(name.toLowerCase(Locale.ROOT), n -> new ArrayList<>())
                        .addAll(Collections.list(http.getHeaders(name)));
            }
            String text = new String(body, StandardCharsets.UTF_8);
            // The gateway's own era probe (server/discover, once per upstream at start) is not a client
            // request: tests that count what reached the upstream on a client's behalf do not see it.
            if (text.contains("\"id\":\"portcullis-probe\"")) {
                probes.incrementAndGet();
            } else {
                requests.add(new RecordedRequest(http.getMethod(), http.getRequestURI(), headers, text));
            }
            chain.doFilter(new CachedBodyRequest(http, body), res);
        }
    }

    private static final class CachedBodyRequest extends HttpServletRequestWrapper {
        private final byte[] body;

        CachedBodyRequest(HttpServletRequest request, byte[] body) {
            super(request);
            this.body = body;
        }

        @Override
        public ServletInputStream getInputStream() {
            ByteArrayInputStream in = new ByteArrayInputStream(body);
            return new ServletInputStream() {
                @Override
                public int read() {
                    return in.read();
                }

                @Override
                public int read(byte[] b, int off, int len) {
                    return in.read(b, off, len);
                }

                @Override
                public boolean isFinished() {
                    return in.available() == 0;
                }

                @Override
                public boolean isReady() {
                    return true;
                }

                @Override
                public void setReadListener(ReadListener listener) {
                    throw new UnsupportedOperationException();
                }
            };
        }

        @Override
        public BufferedReader getReader() {
            String encoding = getCharacterEncoding();
            Charset charset = encoding == null ? StandardCharsets.UTF_8 : Charset.forName(encoding);
            return new BufferedReader(new InputStreamReader(getInputStream(), charset));
        }
    }
}
