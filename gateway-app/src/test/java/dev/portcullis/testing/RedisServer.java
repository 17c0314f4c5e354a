package dev.portcullis.testing;

import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A real {@code redis-server} (Debian's, as {@code .ci/run} installs it) on 127.0.0.1 and a free port, without
 * persistence, started and stopped by PID (issue 18). {@link #kill()} is a SIGKILL; {@link #restart()} starts
 * a new one on the same port (empty: nothing is persisted).
 */
public final class RedisServer implements AutoCloseable {
    private final int port;
    private final List<String> extra;
    private final boolean tls;
    private Process process;

    private RedisServer(int port, List<String> extra, boolean tls) {
        this.port = port;
        this.extra = extra;
        this.tls = tls;
    }

    /** Starts one; {@code extraArgs} are more {@code redis-server} options, e.g. {@code --requirepass}, {@code s3cret}. */
    public static RedisServer start(String... extraArgs) {
        RedisServer server = new RedisServer(freePort(), List.of(extraArgs), false);
        server.launch();
        return server;
    }

    /** Starts one that speaks TLS only ({@code rediss://}), with this certificate and key (PEM); clients need no certificate. */
    public static RedisServer startTls(Path certificate, Path privateKey) {
        int port = freePort();
        RedisServer server = new RedisServer(port, List.of("--port", "0", "--tls-port", Integer.toString(port),
                "--tls-cert-file", certificate.toString(), "--tls-key-file", privateKey.toString(),
                "--tls-ca-cert-file", certificate.toString(), "--tls-auth-clients", "no"), true);
        server.launch();
        return server;
    }

    /**
     * A Redis Cluster of {@code nodes} masters (no replicas) on free ports, formed with {@code redis-cli --cluster create};
     * returned once every node reports {@code cluster_state:ok}.
     */
    public static List<RedisServer> startCluster(int nodes, Path dir) {
        List<RedisServer> servers = new ArrayList<>();
        List<String> create = new ArrayList<>(List.of(Path.of(binary()).resolveSibling("redis-cli").toString(), "--cluster",
                "create"));
        for (int i = 0; i < nodes; i++) {
            int port = clusterPort();
            RedisServer server = new RedisServer(port, List.of("--cluster-enabled", "yes", "--cluster-config-file",
                    dir.resolve("nodes-" + port + ".conf").toString(), "--cluster-node-timeout", "2000",
                    "--dir", dir.toString()), false);
            server.launch();
            servers.add(server);
            create.add("127.0.0.1:" + port);
        }
        create.addAll(List.of("--cluster-replicas", "0", "--cluster-yes"));
        try {
            Process formed = new ProcessBuilder(create).redirectErrorStream(true).start();
            String output = new String(formed.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!formed.waitFor(30, TimeUnit.SECONDS) || formed.exitValue() != 0) {
                throw new AssertionError("redis-cli --cluster create failed:\n" + output);
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            for (RedisServer server : servers) {
                while (!server.with(r -> r.clusterInfo()).contains("cluster_state:ok")) {
                    if (System.nanoTime() > deadline) {
                        throw new AssertionError("cluster not ok: " + server.with(r -> r.clusterInfo()));
                    }
                    Thread.sleep(50);
                }
            }
        } catch (IOException e) {
            throw new IllegalStateException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
        return servers;
    }

    /** A free port whose cluster bus port (+10000) is free too. */
    private static int clusterPort() {
        for (int attempt = 0; attempt < 100; attempt++) {
            int port = freePort();
            if (port + 10_000 > 65_535) {
                continue;
            }
            try (ServerSocket bus = new ServerSocket(port + 10_000, 1, InetAddress.getLoopbackAddress())) {
                return port;
            } catch (IOException taken) {
                // try another
            }
        }
        throw new IllegalStateException("no free port pair for a cluster node");
    }

    public static String binary() {
        for (String candidate : List.of("/usr/bin/redis-server", "/usr/local/bin/redis-server", "/usr/sbin/redis-server")) {
            if (Files.isExecutable(Path.of(candidate))) {
                return candidate;
            }
        }
        throw new AssertionError("redis-server is not installed (.ci/run installs Debian's redis-server package)");
    }

    private synchronized void launch() {
        List<String> command = new ArrayList<>(List.of(binary(), "--save", "", "--appendonly", "no", "--port",
                Integer.toString(port), "--bind", "127.0.0.1", "--daemonize", "no"));
        command.addAll(extra);
        try {
            Path log = Files.createTempFile("redis-" + port + "-", ".log");
            process = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
            while (System.nanoTime() < deadline) {
                if (!process.isAlive()) {
                    throw new AssertionError("redis-server exited: " + Files.readString(log));
                }
                if (answers()) {
                    return;
                }
                Thread.sleep(25);
            }
            throw new AssertionError("redis-server not answering within 15 s: " + Files.readString(log));
        } catch (IOException e) {
            throw new IllegalStateException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** Whether something on the port answers a RESP PING (with PONG, or an auth error when a password is set). */
    private boolean answers() {
        if (tls) {
            try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), port)) {
                return true; // listening (the TLS handshake is the client's test)
            } catch (IOException e) {
                return false;
            }
        }
        try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), port)) {
            socket.setSoTimeout(1000);
            OutputStream out = socket.getOutputStream();
            out.write("*1\r\n$4\r\nPING\r\n".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            InputStream in = socket.getInputStream();
            int first = in.read();
            return first == '+' || first == '-';
        } catch (IOException e) {
            return false;
        }
    }

    public int port() {
        return port;
    }

    public String url() {
        return (tls ? "rediss" : "redis") + "://127.0.0.1:" + port;
    }

    /** SIGKILL, as a crashed or evicted Redis pod; waits for the process to be gone. */
    public synchronized void kill() {
        if (process != null && process.isAlive()) {
            process.destroyForcibly();
            try {
                process.waitFor(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** A new, empty redis-server on the same port. */
    public synchronized void restart() {
        kill();
        launch();
    }

    /** Concurrency permits held now under {@code prefix} (the members of every {@code <prefix>cc:*} sorted set). */
    public long permitsHeld(String prefix) {
        RedisURI uri = RedisURI.create(url());
        uri.setTimeout(Duration.ofSeconds(5));
        RedisClient client = RedisClient.create(uri);
        try (StatefulRedisConnection<String, String> connection = client.connect()) {
            RedisCommands<String, String> redis = connection.sync();
            long held = 0;
            for (String key : redis.keys(prefix + "cc:*")) {
                held += redis.zcard(key);
            }
            return held;
        } finally {
            client.shutdown();
        }
    }

    /** Runs {@code action} with a synchronous connection. */
    public <T> T with(java.util.function.Function<RedisCommands<String, String>, T> action) {
        RedisURI uri = RedisURI.create(url());
        uri.setTimeout(Duration.ofSeconds(5));
        RedisClient client = RedisClient.create(uri);
        try (StatefulRedisConnection<String, String> connection = client.connect()) {
            return action.apply(connection.sync());
        } finally {
            client.shutdown();
        }
    }

    static int freePort() {
        return dev.portcullis.testing.Ports.free(); // below the ephemeral range: no outgoing connection takes it
    }

    @Override
    public void close() {
        kill();
    }
}
