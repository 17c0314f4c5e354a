package dev.portcullis.app;

import dev.portcullis.app.config.ConfigLoader;
import dev.portcullis.authz.PolicySource;
import dev.portcullis.config.GatewayConfig;
import dev.portcullis.config.ListenConfig;
import dev.portcullis.config.TlsConfig;
import dev.portcullis.listen.GatewayServer;
import dev.portcullis.route.Route;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Live reload of {@code gateway.yaml} (issue 14), on SIGHUP and when the file watch sees a change: the
 * file (through its symlinks, so a Kubernetes ConfigMap's {@code ..data} swap counts), the TLS
 * certificate and key it names (cert-manager rotates them) and the routes' pins files (issue 17) are hashed every {@value #WATCH_MILLIS} ms.
 *
 * <p>A reload reads the file with {@link ConfigLoader}, refuses a change to what cannot change while the
 * gateway runs (listen address and port, the listener's limits, TLS on/off, admin, sessions, audit), builds
 * the rest with {@link Gateway.Assembly} (routes, issuers, upstream-auth, policies, Host/Origin rules, the
 * TLS certificate and key), and swaps it in with one reference: a request uses the config in force when it
 * arrived. Anything wrong keeps the config in force, and says so once: a log line, the metrics
 * {@code portcullis_config_reload_total{result}} and {@code portcullis_config_stale}, and a
 * {@code /readyz} detail line (readiness stays true: the last good config serves).
 */
final class ConfigReload {
    private static final Logger log = LoggerFactory.getLogger(ConfigReload.class);
    static final long WATCH_MILLIS = 2000;
    /** How long a reload waits for the new issuers' signing keys before it swaps anyway. */
    private static final Duration KEYS_WAIT = Duration.ofSeconds(10);

    private final Path source;
    private final AtomicReference<Gateway.Snapshot> live;
    private final Gateway.Shared shared;
    private final BooleanSupplier stopping;
    private GatewayServer server;
    private volatile String staleReason;
    /** Touched on the reload thread only. */
    private String fingerprint;

    ConfigReload(Path source, AtomicReference<Gateway.Snapshot> live, Gateway.Shared shared, BooleanSupplier stopping) {
        this.source = source;
        this.live = live;
        this.shared = shared;
        this.stopping = stopping;
        Gauge.builder("portcullis.config.stale", this, reload -> reload.staleReason == null ? 0 : 1)
                .description("1 while gateway.yaml on disk is not the config in force (the last good one serves)")
                .register(shared.registry());
        for (String outcome : List.of("ok", "invalid", "refused")) {
            counter(outcome); // present from the start, at 0
        }
        policyGauges(live.get());
    }

    void tlsTarget(GatewayServer server) {
        this.server = server;
    }

    /** Starts the file watch (nothing to watch when the config came from no file). */
    void watch() {
        if (source == null) {
            return;
        }
        shared.reloads().execute(() -> fingerprint = fingerprint());
        shared.reloads().scheduleWithFixedDelay(this::checkFiles, WATCH_MILLIS, WATCH_MILLIS, TimeUnit.MILLISECONDS);
    }

    /** Why gateway.yaml on disk is not the config in force, or null. */
    String staleReason() {
        return staleReason;
    }

    void reloadLater(String why) {
        if (source == null) {
            log.warn("{}: the configuration has no file to re-read; nothing reloaded", why);
            return;
        }
        try {
            shared.reloads().execute(() -> reload(why));
        } catch (java.util.concurrent.RejectedExecutionException stopped) {
            log.info("{}: the gateway is stopping; nothing reloaded", why);
        }
    }

    private void checkFiles() {
        try {
            String now = fingerprint();
            if (!now.equals(fingerprint)) {
                reload("file change");
            }
        } catch (RuntimeException e) {
            log.error("config watch failed", e); // a defect: the watch itself never throws on a bad file
        }
    }

    /** On the reload thread. */
    void reload(String why) {
        if (stopping.getAsBoolean()) {
            return;
        }
        fingerprint = fingerprint();
        Gateway.Snapshot before = live.get();
        GatewayConfig next;
        try {
            next = ConfigLoader.load(source);
        } catch (ConfigLoader.InvalidConfigException e) {
            stale("invalid", why, e.getMessage());
            return;
        } catch (RuntimeException e) {
            stale("invalid", why, source + ": cannot be read (" + e + ")");
            return;
        }
        String refusal = notLive(before.built().config, next);
        if (refusal != null) {
            stale("refused", why, refusal + "; restart the gateway to apply it (nothing of this change was applied)");
            return;
        }
        Gateway.Assembly built;
        try {
            built = Gateway.Assembly.build(next, source.toString(), shared.registry(), before.built().driftWatch);
        } catch (ConfigLoader.InvalidConfigException e) {
            stale("invalid", why, e.getMessage());
            return;
        } catch (RuntimeException e) {
            stale("invalid", why, source + ": cannot be built (" + e + ")");
            return;
        }
        try {
            TlsConfig tls = next.listen().tls();
            if (tls != null && server != null) {
                server.replaceTls(tls); // validated by the Assembly; new connections present it from now on
            }
        } catch (RuntimeException e) {
            built.close();
            stale("invalid", why, source + ": listen.tls cannot be used (" + e.getMessage() + ")");
            return;
        }
        Gateway.Snapshot after = Gateway.Snapshot.of(built, shared);
        after.start(shared, before);
        awaitKeys(after);
        live.set(after);
        before.retire(shared.reloads());
        policyGauges(after);
        staleReason = null;
        counter("ok").increment();
        log.info("config {} reloaded ({}): routes {}", source, why, Gateway.Snapshot.describe(built.routes));
    }

    private void awaitKeys(Gateway.Snapshot next) {
        long deadline = System.nanoTime() + KEYS_WAIT.toNanos();
        while (!next.keysLoaded() && System.nanoTime() < deadline) {
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
        if (!next.keysLoaded()) {
            log.warn("config {}: some issuers' signing keys are not loaded yet; the new config is in force and fetches them",
                    source);
        }
    }

    private void stale(String result, String why, String message) {
        counter(result).increment();
        staleReason = message.replace('\n', ' ');
        log.error("config reload ({}) {}: keeping the last good config: {}", why,
                result.equals("refused") ? "refused" : "failed", message);
    }

    private Counter counter(String result) {
        return Counter.builder("portcullis.config.reload").description("gateway.yaml reloads by result")
                .tag("result", result).register(shared.registry());
    }

    /** {@code portcullis_policy_stale{route}}: 1 while a route's policy file is not the policy in force. */
    private void policyGauges(Gateway.Snapshot snapshot) {
        for (Route route : snapshot.built().routes) {
            String name = route.name();
            Gauge.builder("portcullis.policy.stale", live, ref -> ref.get().built().routes.stream()
                            .filter(r -> r.name().equals(name) && r.policy() instanceof PolicySource s && s.staleReason() != null)
                            .count())
                    .description("1 while the route's policy file is not the policy in force (the last good one serves)")
                    .tag("route", name).register(shared.registry());
        }
    }

    /**
     * What of {@code next} cannot be applied while the gateway runs, one message naming each field, or null.
     */
    static String notLive(GatewayConfig current, GatewayConfig next) {
        List<String> refused = new ArrayList<>();
        ListenConfig a = current.listen();
        ListenConfig b = next.listen();
        differs(refused, "listen.host", a.host(), b.host());
        differs(refused, "listen.port", a.port(), b.port());
        differs(refused, "listen.max-body-size", a.maxBodySize(), b.maxBodySize());
        differs(refused, "listen.max-header-size", a.maxHeaderSize(), b.maxHeaderSize());
        differs(refused, "listen.idle-timeout", a.idleTimeout(), b.idleTimeout());
        differs(refused, "listen.request-timeout", a.requestTimeout(), b.requestTimeout());
        if ((a.tls() == null) != (b.tls() == null)) {
            refused.add("listen.tls (TLS turned " + (b.tls() == null ? "off" : "on") + ")");
        }
        differs(refused, "admin.host", current.admin().host(), next.admin().host());
        differs(refused, "admin.port", current.admin().port(), next.admin().port());
        differs(refused, "sessions", current.sessions(), next.sessions());
        differs(refused, "audit", current.audit(), next.audit());
        if (!Objects.equals(current.store(), next.store())) {
            refused.add("store (issue 18: the shared store is connected once, at start)"); // its values hold a password
        }
        return refused.isEmpty() ? null : String.join("; ", refused) + " cannot change while the gateway runs";
    }

    private static void differs(List<String> refused, String field, Object a, Object b) {
        if (!Objects.equals(a, b)) {
            refused.add(field + " (" + a + " -> " + b + ")");
        }
    }

    /** The config file's real path and content, and the TLS files' (real paths and contents), hashed. */
    private String fingerprint() {
        MessageDigest sha = dev.portcullis.Sha256.newDigest();
        List<Path> files = new ArrayList<>();
        files.add(source);
        TlsConfig tls = live.get().built().config.listen().tls();
        if (tls != null) {
            files.addAll(tls.files()); // certificate, key and client-trust bundles (issue 16)
        }
        for (dev.portcullis.config.RouteConfig route : live.get().built().config.routes()) {
            if (route.pinning() != null) {
                files.add(route.pinning().file()); // issue 17: a pins file edit (a reviewed re-pin) reloads too
            }
        }
        for (Path file : files) {
            try {
                sha.update(file.toRealPath().toString().getBytes(java.nio.charset.StandardCharsets.UTF_8));
                sha.update(Files.readAllBytes(file));
            } catch (IOException | RuntimeException unreadable) {
                sha.update(("unreadable " + file + " " + unreadable.getClass().getName())
                        .getBytes(java.nio.charset.StandardCharsets.UTF_8));
            }
        }
        return HexFormat.of().formatHex(sha.digest());
    }
}
