package dev.portcullis.pin;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * How a pins file and what an upstream lists now differ (issue 17): what {@code portcullis pin} reports when it
 * replaces a file, and what {@code check --against-upstream} reports (and fails on).
 *
 * @param changes one per item that differs, in kind order then the upstream's order (removed items last)
 */
public record PinDiff(List<Change> changes) {
    /** What differs for one item. */
    public enum What { CHANGED, NOT_PINNED, NOT_LISTED }

    /**
     * @param fields for {@link What#CHANGED}: the definition fields that differ
     */
    public record Change(PinKind kind, String name, What what, List<String> fields) {
        /** One line: {@code tools.echo: definition changed (description)}. */
        public String describe() {
            String at = PinFile.path(List.of(kind.text(), name));
            return switch (what) {
                case CHANGED -> at + ": definition changed since it was pinned (" + String.join(", ", fields) + ")";
                case NOT_PINNED -> at + ": listed by the upstream, not pinned";
                case NOT_LISTED -> at + ": pinned, no longer listed by the upstream";
            };
        }
    }

    public PinDiff {
        changes = List.copyOf(changes);
    }

    /** The differences between {@code pinned} and {@code live} for each of {@code kinds}. */
    public static PinDiff of(PinSet pinned, Map<PinKind, Map<String, Pin>> live, List<PinKind> kinds) {
        List<Change> changes = new ArrayList<>();
        for (PinKind kind : kinds) {
            Map<String, Pin> now = live.getOrDefault(kind, Map.of());
            Map<String, Pin> before = pinned.of(kind);
            for (Pin item : now.values()) {
                Pin pin = before.get(item.name());
                if (pin == null) {
                    changes.add(new Change(kind, item.name(), What.NOT_PINNED, List.of()));
                } else if (!pin.sha256().equals(item.sha256())) {
                    changes.add(new Change(kind, item.name(), What.CHANGED,
                            Definitions.changedFields(kind, pin.definition(), item.definition())));
                }
            }
            for (Pin pin : before.values()) {
                if (!now.containsKey(pin.name())) {
                    changes.add(new Change(kind, pin.name(), What.NOT_LISTED, List.of()));
                }
            }
        }
        return new PinDiff(changes);
    }

    public boolean isEmpty() {
        return changes.isEmpty();
    }
}
