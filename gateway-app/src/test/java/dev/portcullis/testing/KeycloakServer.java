package dev.portcullis.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * The real Keycloak (the {@code org.keycloak:keycloak-quarkus-dist} zip from Maven Central, unpacked into
 * {@code target/keycloak} by the build) in development mode on 127.0.0.1 with the realm
 * {@code src/test/resources/keycloak/mcp-realm.json} imported, heap-limited to 512 MB, started once per
 * test run (a JUnit extension keeps it in the root store) and stopped by its process handle at the end.
 *
 * <p>A start keeps the database of the previous run only if that was made from the same realm JSON, so the
 * realm is always exactly the JSON (the tests change nothing in it). Output goes to
 * {@code target/keycloak.log}; start-up time to {@code target/keycloak-timing.txt}.
 */
public final class KeycloakServer implements AutoCloseable {
    public static final String REALM = "mcp";
    private static final Duration STARTUP_TIMEOUT = Duration.ofSeconds(300);
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Process process;
    private final int port;
    private final Duration startup;
    private final Path log;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    private KeycloakServer(Process process, int port, Duration startup, Path log) {
        this.process = process;
        this.port = port;
        this.startup = startup;
        this.log = log;
    }

    /** JUnit 5: {@code @ExtendWith(KeycloakServer.Extension.class)}, then {@link Extension#server()}. */
    public static final class Extension implements BeforeAllCallback {
        private static volatile KeycloakServer shared;

        @Override
        public void beforeAll(ExtensionContext context) throws Exception {
            org.junit.jupiter.api.Assumptions.assumeFalse(Boolean.getBoolean("portcullis.keycloak.skip"),
                    "-Dkeycloak.skip: Keycloak tests left out");
            ExtensionContext.Store store = context.getRoot().getStore(ExtensionContext.Namespace.create(KeycloakServer.class));
            shared = store.getOrComputeIfAbsent("keycloak", key -> new Resource(start()), Resource.class).server;
        }

        public static KeycloakServer server() {
            return shared;
        }

        /** Closed by JUnit when the whole run ends. */
        private record Resource(KeycloakServer server) implements ExtensionContext.Store.CloseableResource {
            @Override
            public void close() {
                server.close();
            }
        }
    }

    static Path home() {
        String configured = System.getProperty("portcullis.keycloak.home");
        Path home = configured != null ? Path.of(configured)
                : Path.of(System.getProperty("basedir", System.getProperty("user.dir")), "target/keycloak/keycloak-26.7.3");
        if (!Files.isExecutable(home.resolve("bin/kc.sh"))) {
            throw new IllegalStateException(home + "/bin/kc.sh is missing: the build unpacks the Keycloak distribution"
                    + " in generate-test-resources (mvn -pl gateway-app verify, or dependency:unpack@keycloak-dist)");
        }
        return home;
    }

    public static KeycloakServer start() {
        try {
            Path home = home();
            Path data = home.resolve("data");
            byte[] realm;
            try (InputStream in = KeycloakServer.class.getResourceAsStream("/keycloak/mcp-realm.json")) {
                realm = in.readAllBytes();
            }
            // The database of an earlier run is kept when it was made from this very realm JSON: creating the
            // schema, the master realm and the import take most of a start. Otherwise it starts empty.
            Path marker = data.resolve("portcullis-realm.sha256");
            String hash = java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(realm));
            boolean reuse = Files.isDirectory(data.resolve("h2")) && Files.exists(marker)
                    && Files.readString(marker).strip().equals(hash);
            try {
                return start(home, data, realm, marker, hash, reuse);
            } catch (IllegalStateException failed) {
                if (!reuse) {
                    throw failed;
                }
                System.out.println("[keycloak] start with the kept database failed; starting with an empty one");
                return start(home, data, realm, marker, hash, false);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static KeycloakServer start(Path home, Path data, byte[] realm, Path marker, String hash, boolean reuse) {
        try {
            if (!reuse) {
                Files.deleteIfExists(marker);
                deleteRecursively(data.resolve("h2"));
            }
            Files.createDirectories(data.resolve("import"));
            Files.write(data.resolve("import/mcp-realm.json"), realm);
            int port = freePort();
            Path log = home.getParent().getParent().resolve("keycloak.log");
            ProcessBuilder pb = new ProcessBuilder(home.resolve("bin/kc.sh").toString(), "start-dev",
                    "--http-host=127.0.0.1", "--http-port=" + port, "--http-management-port=" + freePort(),
                    "--import-realm", "--health-enabled=false", "--metrics-enabled=false")
                    .directory(home.toFile())
                    .redirectErrorStream(true)
                    .redirectOutput(log.toFile());
            pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
            pb.environment().put("JAVA_OPTS_KC_HEAP", "-Xms64m -Xmx512m");
            long t0 = System.nanoTime();
            Process process = pb.start();
            KeycloakServer server = new KeycloakServer(process, port, null, log);
            server.awaitRealm(t0);
            Duration startup = Duration.ofNanos(System.nanoTime() - t0);
            Files.writeString(marker, hash);
            Files.writeString(home.getParent().getParent().resolve("keycloak-timing.txt"),
                    "keycloak " + home.getFileName() + " start-dev to realm metadata (" + (reuse ? "kept" : "new")
                            + " database): " + startup.toMillis() + " ms\n",
                    java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.APPEND);
            System.out.println("[keycloak] ready on 127.0.0.1:" + port + " after " + startup.toMillis() + " ms");
            return new KeycloakServer(process, port, startup, log);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private void awaitRealm(long t0) {
        URI metadata = URI.create(issuer() + "/.well-known/openid-configuration");
        long deadline = t0 + STARTUP_TIMEOUT.toNanos();
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IllegalStateException("Keycloak exited with " + process.exitValue() + "\n" + tail());
            }
            try {
                HttpResponse<String> r = http.send(HttpRequest.newBuilder(metadata).timeout(Duration.ofSeconds(5)).GET().build(),
                        HttpResponse.BodyHandlers.ofString());
                if (r.statusCode() == 200) {
                    return;
                }
            } catch (IOException e) {
                // not listening yet
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
            sleep(250);
        }
        close();
        throw new IllegalStateException("Keycloak not ready within " + STARTUP_TIMEOUT + "\n" + tail());
    }

    public int port() {
        return port;
    }

    public Duration startup() {
        return startup;
    }

    public String issuer() {
        return "http://127.0.0.1:" + port + "/realms/" + REALM;
    }

    public String tokenEndpoint() {
        return issuer() + "/protocol/openid-connect/token";
    }

    /** A token response (JSON) for the form; Basic client authentication. */
    public JsonNode token(String clientId, String secret, Map<String, String> form) {
        return token(clientId, secret, form, Map.of());
    }

    /** As {@link #token(String, String, Map)}, with more request headers (a {@code DPoP} proof). */
    public JsonNode token(String clientId, String secret, Map<String, String> form, Map<String, String> headers) {
        String body = form.entrySet().stream()
                .map(e -> enc(e.getKey()) + "=" + enc(e.getValue())).collect(Collectors.joining("&"));
        String basic = Base64.getEncoder().encodeToString((enc(clientId) + ":" + enc(secret)).getBytes(StandardCharsets.UTF_8));
        try {
            HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(tokenEndpoint()))
                    .timeout(Duration.ofSeconds(30))
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .header("Authorization", "Basic " + basic)
                    .POST(HttpRequest.BodyPublishers.ofString(body));
            headers.forEach(request::header);
            HttpResponse<String> r = http.send(request.build(), HttpResponse.BodyHandlers.ofString());
            JsonNode json = JSON.readTree(r.body());
            if (r.statusCode() != 200) {
                throw new IllegalStateException("Keycloak token endpoint answered " + r.statusCode() + ": " + json);
            }
            return json;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** A user's access token by the password grant. */
    public String passwordGrant(String clientId, String secret, String user, String password, String scope) {
        return token(clientId, secret, Map.of("grant_type", "password", "username", user, "password", password,
                "scope", scope)).path("access_token").asText();
    }

    /** The claims of a JWT (not verified: the test reads what a peer received). */
    public static JsonNode claims(String jwt) {
        return part(jwt, 1);
    }

    public static JsonNode header(String jwt) {
        return part(jwt, 0);
    }

    private static JsonNode part(String jwt, int index) {
        try {
            return JSON.readTree(Base64.getUrlDecoder().decode(jwt.split("\\.")[index]));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public String tail() {
        try {
            List<String> lines = Files.exists(log) ? Files.readAllLines(log) : List.of();
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
        } catch (IOException e) {
            return "(no log: " + e + ")";
        }
    }

    /** Stops Keycloak by its process handle (SIGTERM, then SIGKILL), and the JVM kc.sh started. */
    @Override
    public void close() {
        List<ProcessHandle> descendants = new ArrayList<>(process.descendants().toList());
        process.destroy();
        descendants.forEach(ProcessHandle::destroy);
        try {
            if (!process.waitFor(20, TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
            for (ProcessHandle child : descendants) {
                child.onExit().get(20, TimeUnit.SECONDS);
            }
        } catch (Exception e) {
            descendants.stream().filter(ProcessHandle::isAlive).forEach(ProcessHandle::destroyForcibly);
        }
    }

    private static String enc(String value) {
        return URLEncoder.encode(value, StandardCharsets.UTF_8);
    }

    private static int freePort() {
        return dev.portcullis.testing.Ports.free(); // below the ephemeral range: no outgoing connection takes it
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
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
