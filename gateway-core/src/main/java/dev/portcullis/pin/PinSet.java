package dev.portcullis.pin;

import java.util.Collections;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A pins file's content (issue 17): per kind, the pinned definitions by name, with the route and upstream they were
 * recorded from (for the reviewer; the gateway does not compare them).
 */
public final class PinSet {
    private final String route;
    private final String upstream;
    private final Map<PinKind, Map<String, Pin>> pins;

    public PinSet(String route, String upstream, Map<PinKind, Map<String, Pin>> pins) {
        this.route = route;
        this.upstream = upstream;
        Map<PinKind, Map<String, Pin>> copy = new EnumMap<>(PinKind.class);
        pins.forEach((kind, byName) -> copy.put(kind, Collections.unmodifiableMap(new LinkedHashMap<>(byName))));
        this.pins = Collections.unmodifiableMap(copy);
    }

    public String route() {
        return route;
    }

    public String upstream() {
        return upstream;
    }

    /** Whether the file has a section for {@code kind} (possibly empty). */
    public boolean has(PinKind kind) {
        return pins.containsKey(kind);
    }

    /** The pins of {@code kind} by name, in file order (empty when the file has none). */
    public Map<String, Pin> of(PinKind kind) {
        return pins.getOrDefault(kind, Map.of());
    }

    /** The pin of {@code name}, or null. */
    public Pin get(PinKind kind, String name) {
        return of(kind).get(name);
    }
}
