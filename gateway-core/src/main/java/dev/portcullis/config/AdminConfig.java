package dev.portcullis.config;

/**
 * The admin listener: {@code /healthz}, {@code /readyz}, {@code /metrics}. It binds to loopback
 * by default (SECURITY-07); in Kubernetes, probes reach it through the pod IP only if you set
 * {@code host: 0.0.0.0} and keep the port off the Service.
 *
 * @param host address to bind (default {@code 127.0.0.1})
 * @param port TCP port (default 9090; 0 picks a free one)
 */
public record AdminConfig(String host, Integer port) {
    public AdminConfig {
        host = host == null ? "127.0.0.1" : host;
        port = Checks.port("port", port, 9090);
    }

    public static AdminConfig defaults() {
        return new AdminConfig(null, null);
    }
}
