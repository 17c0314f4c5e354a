package dev.portcullis.authz;

import dev.portcullis.policy.Decision;
import dev.portcullis.policy.InvalidPolicyException;
import dev.portcullis.policy.ItemKind;
import dev.portcullis.policy.LoadedPolicy;
import dev.portcullis.policy.Operation;
import dev.portcullis.policy.Policy;
import dev.portcullis.policy.PolicyLoader;
import dev.portcullis.policy.PolicyWarning;
import dev.portcullis.policy.Subject;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A route's policy file, kept in force while it changes on disk.
 *
 * <p>{@link #reloadIfChanged()} reads the file's bytes (following symlinks, so the Kubernetes
 * ConfigMap swap of the {@code ..data} link is seen like any edit), and when they differ from the
 * policy in force, parses them; a valid file replaces the policy atomically, an invalid one is
 * reported (log and {@code portcullis_policy_reloads_total{outcome="failure"}}) and the last good
 * policy stays in force (SECURITY-11). Reloads run on a scheduler thread, never on the event loop;
 * decisions read the current policy without locking.
 */
public final class PolicySource implements Policy {
    private static final Logger log = LoggerFactory.getLogger(PolicySource.class);

    private final String route;
    private final Path file;
    private final MeterRegistry metrics;
    private final AtomicReference<LoadedPolicy> current;
    private volatile byte[] digest;
    /** Why the file on disk is not the policy in force (issue 14: shown on /readyz), or null. */
    private volatile String staleReason;
    private final java.util.List<java.util.function.BiConsumer<Policy, Policy>> listeners =
            new java.util.concurrent.CopyOnWriteArrayList<>();

    private PolicySource(String route, Path file, MeterRegistry metrics, LoadedPolicy initial, byte[] digest) {
        this.route = route;
        this.file = file;
        this.metrics = metrics;
        this.current = new AtomicReference<>(initial);
        this.digest = digest;
    }

    /** Loads the file once; a bad file is an error here (the gateway refuses to start: SECURITY-11). */
    public static PolicySource load(String route, Path file, MeterRegistry metrics) {
        byte[] bytes = read(file);
        LoadedPolicy loaded = PolicyLoader.parse(new String(bytes, java.nio.charset.StandardCharsets.UTF_8), file.toString());
        warn(route, loaded);
        return new PolicySource(route, file, metrics, loaded, sha256(bytes));
    }

    /** Re-reads the file; returns true when a new policy came into force. Never throws. */
    public boolean reloadIfChanged() {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (IOException e) {
            // Issue 14: one line when the file becomes unreadable, not one on every check (every 2 s).
            failed("cannot read " + file + ": " + e.getClass().getSimpleName());
            return false;
        }
        byte[] next = sha256(bytes);
        if (Arrays.equals(next, digest)) {
            if (staleReason != null && staleReason.startsWith("cannot read")) {
                staleReason = null; // readable again, and the policy in force is what it says
                log.info("route {}: policy {} readable again; unchanged", route, file);
            }
            return false;
        }
        try {
            LoadedPolicy loaded = PolicyLoader.parse(new String(bytes, java.nio.charset.StandardCharsets.UTF_8), file.toString());
            warn(route, loaded);
            LoadedPolicy before = current.getAndSet(loaded);
            digest = next;
            staleReason = null;
            count("success");
            log.info("route {}: policy {} reloaded ({} rules)", route, file, loaded.policy().rules().size());
            changed(before.policy(), loaded.policy());
            return true;
        } catch (InvalidPolicyException e) {
            digest = next; // report a bad file once, not on every check
            failed("invalid policy, keeping the last good one:\n" + e.getMessage());
            return false;
        }
    }

    /**
     * Calls {@code listener} with the policy before and after each reload that brought a new policy into
     * force, on the reload thread, after the new policy is in force (V26-34). Listeners must not block.
     */
    public void onChange(java.util.function.BiConsumer<Policy, Policy> listener) {
        listeners.add(listener);
    }

    private void changed(Policy before, Policy after) {
        for (var listener : listeners) {
            try {
                listener.accept(before, after);
            } catch (RuntimeException e) {
                log.error("route {}: a policy change listener failed", route, e);
            }
        }
    }

    private void failed(String message) {
        if (message.equals(staleReason)) {
            return; // already said (and counted) for this state
        }
        staleReason = message;
        count("failure");
        log.error("route {}: policy reload failed, keeping the last good policy: {}", route, message);
    }

    /**
     * Why the policy file on disk is not the policy in force (unreadable, or invalid: the last good one
     * stays), or null when it is (issue 14).
     */
    public String staleReason() {
        return staleReason;
    }

    private void count(String outcome) {
        Counter.builder("portcullis.policy.reloads").description("Policy file reloads by route and outcome")
                .tag("route", route).tag("outcome", outcome).register(metrics).increment();
    }

    private static void warn(String route, LoadedPolicy loaded) {
        for (PolicyWarning warning : loaded.warnings()) {
            log.warn("route {}: policy warning: {}", route, warning);
        }
    }

    public LoadedPolicy loaded() {
        return current.get();
    }

    @Override
    public Decision decide(Subject subject, Operation operation) {
        return current.get().policy().decide(subject, operation);
    }

    @Override
    public dev.portcullis.policy.Limits limits() {
        return current.get().policy().limits();
    }

    /** Issue 17: the approvals of the policy in force. */
    @Override
    public dev.portcullis.policy.Approvals approvals() {
        return current.get().policy().approvals();
    }

    /** Issue 17: the version of the policy in force (a reload changes it, so earlier approvals no longer pass). */
    @Override
    public String version() {
        return current.get().policy().version();
    }

    @Override
    public boolean visible(Subject subject, ItemKind kind, String name) {
        return current.get().policy().visible(subject, kind, name);
    }

    @Override
    public dev.portcullis.policy.Visibility visibility(Subject subject, ItemKind kind) {
        return current.get().policy().visibility(subject, kind);
    }

    private static byte[] read(Path file) {
        try {
            return Files.readAllBytes(file);
        } catch (IOException e) {
            throw new IllegalArgumentException(file + ": cannot be read (" + e.getClass().getSimpleName() + ")");
        }
    }

    private static byte[] sha256(byte[] bytes) {
        return dev.portcullis.Sha256.of(bytes);
    }
}
