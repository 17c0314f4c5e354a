package dev.portcullis.pin;

import dev.portcullis.Caches;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.github.benmanes.caffeine.cache.Cache;
import dev.portcullis.audit.AuditLog;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Instant;
import java.util.List;
import java.util.Locale;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.spi.LoggingEventBuilder;

/**
 * What the gateway has seen of pinned routes' definitions (issue 17), shared by every config snapshot so a reload
 * forgets nothing: per route, kind and pinned name, the hash of the definition the last relayed list showed. A call
 * is decided from it ({@link RoutePins#refusal}); a list that shows a new definition is reported once per change,
 * not once per list: one audit event ({@code event.action: pin.drift}) and one increment of
 * {@code portcullis_tool_drift_total{route,kind,change}}.
 *
 * <p>Bounds. Only names the pins file names are remembered for decisions (the file bounds them; an upstream cannot
 * grow the memory by listing new names, so it cannot evict what a drifted tool's refusal depends on). Unpinned
 * names are remembered only so each is reported once, in a separate cache of {@value #MAX_UNPINNED} entries: when an
 * upstream lists more, some are reported again — never shown.
 */
public final class DriftWatch {
    static final long MAX_PINNED = 1_000_000;
    static final long MAX_UNPINNED = 10_000;
    private static final Logger audit = LoggerFactory.getLogger(AuditLog.LOGGER);

    private record Key(String route, PinKind kind, String name) {}

    private final Cache<Key, String> seen = Caches.onCallingThread().maximumSize(MAX_PINNED).build();
    private final Cache<Key, String> unpinned = Caches.onCallingThread().maximumSize(MAX_UNPINNED).build();
    private final MeterRegistry registry;

    public DriftWatch(MeterRegistry registry) {
        this.registry = registry;
    }

    /** Registers the route's counters at 0, so an alert on their increase works from the start. */
    void register(String route, List<PinKind> kinds) {
        for (PinKind kind : kinds) {
            counter(route, kind, "changed");
            counter(route, kind, "unpinned");
        }
    }

    /** The hash of the definition of a pinned item the last list showed, or null when none has been seen. */
    String lastSeen(String route, PinKind kind, String name) {
        return seen.getIfPresent(new Key(route, kind, name));
    }

    /**
     * A list showed pinned item {@code pin} with definition {@code definition} (hash {@code hash}): remembered, and
     * reported when it differs from the pin and from what the last list showed.
     */
    void sawPinned(String route, PinKind kind, Pin pin, ObjectNode definition, String hash, String requestId) {
        String before = seen.asMap().put(new Key(route, kind, pin.name()), hash);
        if (hash.equals(pin.sha256()) || hash.equals(before)) {
            return;
        }
        List<String> changed = Definitions.changedFields(kind, pin.definition(), definition);
        counter(route, kind, "changed").increment();
        record(requestId, route, kind, pin.name(), pin.sha256(), hash, changed, "changed",
                kind.singular() + " \"" + pin.name() + "\": definition changed since it was pinned (" + String.join(", ", changed)
                        + " changed); hidden from lists" + (kind.callMethod() == null ? "" : ", " + kind.callMethod() + " refused"));
    }

    /** A list showed an item no pin names; reported once per definition. */
    void sawUnpinned(String route, PinKind kind, String name, String hash, boolean hidden, String requestId) {
        String before = unpinned.asMap().put(new Key(route, kind, name), hash);
        if (hash.equals(before)) {
            return;
        }
        counter(route, kind, "unpinned").increment();
        record(requestId, route, kind, name, null, hash, List.of(), "unpinned", kind.singular() + " \"" + name + "\" is not pinned; "
                + (hidden ? "hidden from lists" + (kind.callMethod() == null ? "" : ", " + kind.callMethod() + " refused")
                : "shown (unpinned: show)"));
    }

    private Counter counter(String route, PinKind kind, String change) {
        return Counter.builder("portcullis.tool.drift")
                .description("Definitions a list showed that differ from their pin (changed) or have none (unpinned), "
                        + "once per change")
                .tag("route", route).tag("kind", kind.text()).tag("change", change).register(registry);
    }

    private static void record(String requestId, String route, PinKind kind, String name, String pinned, String seenHash,
                               List<String> changed, String change, String reason) {
        LoggingEventBuilder event = audit.atInfo();
        event.addKeyValue("@timestamp", Instant.now().toString());
        event.addKeyValue("event.action", "pin.drift");
        event.addKeyValue("event.outcome", "failure");
        event.addKeyValue("event.reason", reason);
        event.addKeyValue("rule.id", "pinning");
        event.addKeyValue("portcullis.decision", change.equals("changed") ? "hide" : "unpinned");
        event.addKeyValue("portcullis.route", route);
        if (requestId != null) {
            event.addKeyValue("http.request.id", requestId); // the list request whose answer showed it
        }
        event.addKeyValue("portcullis.pin.kind", kind.text());
        event.addKeyValue("portcullis.pin.name", name);
        event.addKeyValue("portcullis.pin.change", change);
        if (pinned != null) {
            event.addKeyValue("portcullis.pin.pinned_sha256", pinned);
        }
        event.addKeyValue("portcullis.pin.seen_sha256", seenHash);
        if (!changed.isEmpty()) {
            event.addKeyValue("portcullis.pin.changed_fields", changed);
        }
        event.log("pin drift {} {} {}", route, kind.text().toLowerCase(Locale.ROOT), change);
    }
}
