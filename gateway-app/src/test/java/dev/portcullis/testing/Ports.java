package dev.portcullis.testing;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;

/**
 * A free port on 127.0.0.1 for a server the tests configure before it binds (a page whose public URL names its port, a
 * process given {@code --port}): the tests' one way of choosing one.
 *
 * <p>Chosen <em>below the kernel's ephemeral range</em> ({@code /proc/sys/net/ipv4/ip_local_port_range}). A port
 * {@code new ServerSocket(0)} hands out comes from that range, the one every outgoing connection takes its local port
 * from: between the choice and the bind, a connection the test makes meanwhile (to its IdP, its upstream) could take
 * it, and the server then fails with "Address already in use" (seen in CI runs). No outgoing connection is given a port
 * below the range. A port handed out is not handed out again by this JVM, and is checked free by binding it.
 */
public final class Ports {
    private static final int LOWEST = 10_000;
    private static final Set<Integer> HANDED_OUT = ConcurrentHashMap.newKeySet();

    private Ports() {}

    /** A port on 127.0.0.1 that nothing listens on now and no outgoing connection will be given. */
    public static int free() {
        int ephemeralStart = ephemeralStart();
        if (ephemeralStart - LOWEST >= 1_000) {
            for (int attempt = 0; attempt < 200; attempt++) {
                int port = ThreadLocalRandom.current().nextInt(LOWEST, ephemeralStart);
                if (HANDED_OUT.add(port) && bindable(port)) {
                    return port;
                }
            }
        }
        // A machine whose ephemeral range leaves no room below it: the kernel's choice, as before.
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            HANDED_OUT.add(socket.getLocalPort());
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static boolean bindable(int port) {
        try (ServerSocket socket = new ServerSocket()) {
            socket.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 1);
            return true;
        } catch (IOException taken) {
            return false;
        }
    }

    /** The first port of the ephemeral range (Linux; elsewhere the IANA range's 49152). */
    static int ephemeralStart() {
        try {
            String range = Files.readString(Path.of("/proc/sys/net/ipv4/ip_local_port_range")).trim();
            return Integer.parseInt(range.split("\\s+")[0]);
        } catch (IOException | RuntimeException e) {
            return 49_152;
        }
    }
}
