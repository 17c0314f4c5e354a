package dev.portcullis.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The container image as `mvn verify` builds it (deploy/image/rootfs.sh, then Jib's OCI tarball):
 * its configuration is what the Kubernetes manifests expect, its files are what the entrypoint
 * needs, and the image actually starts — its root filesystem is unpacked and the entrypoint run in
 * it, as the image's own non-root user, with the class-data sharing archive required (-Xshare:on
 * makes the JVM fail when the archive does not match the runtime or the jar).
 *
 * <p>Runs in the {@code integration-test} phase (tag "image"), after the tarball exists.
 */
@Tag("image")
class ImageTest {
    private static final Path TARBALL = Path.of("target/portcullis-image.tar");
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    static Path work;
    private static JsonNode config;
    private static Path rootfs;

    @BeforeAll
    static void unpack() throws Exception {
        assertThat(TARBALL).as("built by `mvn verify` (pre-integration-test)").exists();
        Path layout = Files.createDirectories(work.resolve("layout"));
        run(List.of("tar", "-xf", TARBALL.toAbsolutePath().toString(), "-C", layout.toString()));
        JsonNode index = JSON.readTree(layout.resolve("index.json").toFile());
        JsonNode manifest = blob(layout, index.path("manifests").get(0).path("digest").asText());
        config = blob(layout, manifest.path("config").path("digest").asText());
        rootfs = Files.createDirectories(work.resolve("rootfs"));
        for (JsonNode layer : manifest.path("layers")) {
            Path file = blobPath(layout, layer.path("digest").asText());
            run(List.of("tar", "-xzf", file.toString(), "-C", rootfs.toString()));
        }
    }

    @Test
    void configurationMatchesWhatTheManifestsRun() {
        JsonNode c = config.path("config");
        assertThat(c.path("User").asText()).isEqualTo("10001:10001");
        assertThat(strings(c.path("Entrypoint"))).containsExactly("/opt/java/bin/java",
                "-XX:SharedArchiveFile=/app/portcullis.jsa", "-Djava.io.tmpdir=/tmp", "-jar", "/app/portcullis.jar");
        assertThat(strings(c.path("Cmd"))).containsExactly("run", "--config", "/etc/portcullis/gateway.yaml");
        List<String> ports = new ArrayList<>();
        c.path("ExposedPorts").fieldNames().forEachRemaining(ports::add);
        assertThat(ports).containsExactlyInAnyOrder("8443/tcp", "9090/tcp");
        assertThat(c.path("Labels").path("org.opencontainers.image.title").asText()).isEqualTo("portcullis");
        assertThat(c.path("Labels").path("org.opencontainers.image.version").asText()).isNotBlank();
        assertThat(strings(c.path("Env"))).anyMatch(e -> e.startsWith("JAVA_TOOL_OPTIONS=")
                && e.contains("-XX:+ExitOnOutOfMemoryError"));
        assertThat(config.path("os").asText()).isEqualTo("linux");
        assertThat(config.path("architecture").asText()).isEqualTo("amd64");
    }

    @Test
    void filesAreTheRuntimeTheJarAndItsArchiveOnly() throws IOException {
        assertThat(rootfs.resolve("app/portcullis.jar")).isRegularFile();
        if (root()) { // rootfs.sh trains the archive in a chroot, which needs root; without it the image has none
            assertThat(rootfs.resolve("app/portcullis.jsa")).as("class-data sharing archive").isRegularFile();
        }
        assertThat(rootfs.resolve("opt/java/bin/java")).isExecutable();
        assertThat(rootfs.resolve("lib64/ld-linux-x86-64.so.2")).isRegularFile();
        assertThat(rootfs.resolve("jib-default")).as("Jib's own layers are filtered out").doesNotExist();
        assertThat(Files.readString(rootfs.resolve("etc/passwd"))).contains(":10001:10001:");
        // Nothing the gateway's user could change: the jar and the archive are read-only for everyone.
        Set<PosixFilePermission> jar = Files.getPosixFilePermissions(rootfs.resolve("app/portcullis.jar"));
        assertThat(jar).doesNotContain(PosixFilePermission.OWNER_WRITE, PosixFilePermission.GROUP_WRITE,
                PosixFilePermission.OTHERS_WRITE);
        // No desktop libraries dragging X11 in.
        try (Stream<Path> files = Files.walk(rootfs)) {
            assertThat(files.map(p -> p.getFileName() == null ? "" : p.getFileName().toString()))
                    .noneMatch(name -> name.startsWith("libX11") || name.equals("libawt_xawt.so"));
        }
    }

    @Test
    void theEntrypointStartsAsTheImageUserWithItsArchive() throws Exception {
        // chroot needs root (CI runs as root); it is how this machine, which has no container engine, runs
        // the image's own files. /proc is absent in a bare chroot, so the launcher's $ORIGIN run path is
        // given as LD_LIBRARY_PATH; in a container the kernel provides /proc and nothing is needed.
        assumeTrue(root(), "running the image's files with chroot needs root (CI runs as root)");
        List<String> command = new ArrayList<>(List.of("chroot", "--userspec=10001:10001", rootfs.toString()));
        List<String> entrypoint = strings(config.path("config").path("Entrypoint"));
        command.add(entrypoint.get(0));
        command.add("-Xshare:on");
        command.addAll(entrypoint.subList(1, entrypoint.size()));
        command.add("--version");
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
        builder.environment().clear();
        builder.environment().put("LD_LIBRARY_PATH", "/opt/java/lib:/opt/java/lib/server");
        Process process = builder.start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(process.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(process.exitValue()).as(output).isZero();
        assertThat(output).containsIgnoringCase("portcullis").doesNotContain("Unable to use shared archive");
    }

    private static boolean root() throws IOException {
        return new String(new ProcessBuilder("id", "-u").start().getInputStream().readAllBytes(),
                StandardCharsets.US_ASCII).strip().equals("0");
    }

    private static List<String> strings(JsonNode array) {
        List<String> values = new ArrayList<>();
        array.forEach(v -> values.add(v.asText()));
        return values;
    }

    private static Path blobPath(Path layout, String digest) {
        return layout.resolve("blobs").resolve(digest.replace(':', '/'));
    }

    private static JsonNode blob(Path layout, String digest) throws IOException {
        return JSON.readTree(blobPath(layout, digest).toFile());
    }

    private static void run(List<String> command) throws Exception {
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(process.waitFor(120, TimeUnit.SECONDS)).isTrue();
        assertThat(process.exitValue()).as(String.join(" ", command) + "\n" + output).isZero();
    }
}
