package dev.portcullis.pin;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.portcullis.config.PinningConfig;
import dev.portcullis.failure.GatewayFailure;
import dev.portcullis.failure.Reason;
import dev.portcullis.inspect.McpMessage;
import dev.portcullis.policy.Decision;
import dev.portcullis.policy.ItemKind;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Tool definition pinning on one route (issue 17, docs/pinning.md): the route's pins and what the gateway has seen.
 *
 * <ul>
 *   <li>Lists: every item of a pinned kind in any list result relayed to a caller ({@link #shows}, called by the list
 *       filter for every result, page, batch answer and SSE event) is shown only when its definition's hash equals its
 *       pin; an item no pin names is shown or hidden per {@code unpinned}.</li>
 *   <li>Calls: a {@code tools/call} (or {@code prompts/get}) is refused before anything is sent upstream when the
 *       last list the gateway relayed showed the item with another definition, or when no pin names it and
 *       {@code unpinned} is {@code hide} ({@link #refusal}).</li>
 * </ul>
 *
 * The decision itself is {@link #verdict}, a pure function.
 */
public final class RoutePins {
    /** What pinning makes of one item. */
    public enum Verdict {
        /** The definition is the pinned one (or, for a call, not seen yet: see docs/pinning.md, residual risks). */
        PINNED,
        /** A call to a pinned item whose definition no relayed list has shown yet: allowed. */
        UNSEEN,
        /** The definition differs from its pin: hidden, calls refused. */
        DRIFTED,
        /** No pin names it, {@code unpinned: show}. */
        UNPINNED_SHOWN,
        /** No pin names it, {@code unpinned: hide}: hidden, calls refused. */
        UNPINNED_HIDDEN;

        public boolean shown() {
            return this == PINNED || this == UNSEEN || this == UNPINNED_SHOWN;
        }
    }

    private final String route;
    private final PinningConfig config;
    private final PinSet pins;
    private final Set<PinKind> kinds;
    private final DriftWatch watch;

    public RoutePins(String route, PinningConfig config, PinSet pins, DriftWatch watch) {
        this.route = route;
        this.config = config;
        this.pins = pins;
        Set<PinKind> pinned = EnumSet.noneOf(PinKind.class);
        config.kinds().forEach(kind -> pinned.add(PinKind.of(kind)));
        this.kinds = pinned;
        this.watch = watch;
        watch.register(route, List.copyOf(pinned));
    }

    /**
     * The verdict for one item.
     *
     * @param pin          its pin, or null when the pins file names none
     * @param seen         the hash of the definition seen (in the list being relayed, or for a call the last list's),
     *                     or null when none has been seen
     * @param hideUnpinned whether an unpinned item is hidden
     */
    public static Verdict verdict(Pin pin, String seen, boolean hideUnpinned) {
        if (pin == null) {
            return hideUnpinned ? Verdict.UNPINNED_HIDDEN : Verdict.UNPINNED_SHOWN;
        }
        if (seen == null) {
            return Verdict.UNSEEN;
        }
        return seen.equals(pin.sha256()) ? Verdict.PINNED : Verdict.DRIFTED;
    }

    public String route() {
        return route;
    }

    public PinSet pins() {
        return pins;
    }

    public PinningConfig config() {
        return config;
    }

    /** Whether items of {@code kind} are pinned on this route. */
    public boolean pinned(ItemKind kind) {
        return PinKind.of(kind).map(kinds::contains).orElse(false);
    }

    /**
     * Whether a list relayed to a caller may show {@code item} (of {@code kind}, named {@code name}); what it shows is
     * remembered, and a new drift reported ({@link DriftWatch}).
     */
    public boolean shows(ItemKind kind, String name, JsonNode item) {
        return shows(kind, name, item, null);
    }

    /** As above, in an answer to request {@code requestId} (named in the drift's audit event; may be null). */
    public boolean shows(ItemKind kind, String name, JsonNode item, String requestId) {
        Optional<PinKind> pinKind = PinKind.of(kind);
        if (pinKind.isEmpty() || !kinds.contains(pinKind.get())) {
            return true;
        }
        PinKind k = pinKind.get();
        ObjectNode definition = Definitions.of(k, item);
        String hash = Definitions.sha256(definition);
        Pin pin = pins.get(k, name);
        Verdict verdict = verdict(pin, hash, config.hidesUnpinned());
        if (pin != null) {
            watch.sawPinned(route, k, pin, definition, hash, requestId);
        } else {
            watch.sawUnpinned(route, k, name, hash, !verdict.shown(), requestId);
        }
        return verdict.shown();
    }

    /** The refusal of a call to a drifted or hidden item, or empty (not a call of a pinned kind, or allowed). */
    public Optional<GatewayFailure> refusal(McpMessage message) {
        if (message.kind() != McpMessage.Kind.REQUEST || message.method() == null) {
            return Optional.empty();
        }
        Optional<PinKind> called = PinKind.calledBy(message.method());
        if (called.isEmpty() || !kinds.contains(called.get()) || message.target().isEmpty()) {
            return Optional.empty();
        }
        PinKind kind = called.get();
        String name = message.target().get();
        Pin pin = pins.get(kind, name);
        String seen = pin == null ? null : watch.lastSeen(route, kind, name);
        Verdict verdict = verdict(pin, seen, config.hidesUnpinned());
        if (verdict.shown()) {
            return Optional.empty();
        }
        String what = Character.toUpperCase(kind.singular().charAt(0)) + kind.singular().substring(1);
        String description;
        String reason;
        String code;
        if (verdict == Verdict.DRIFTED) {
            description = what + " definition changed since it was pinned: " + name;
            reason = kind.singular() + " \"" + name + "\": definition changed since it was pinned (pinned sha256:"
                    + pin.sha256() + ", seen sha256:" + seen + ")";
            code = "definition_changed";
        } else {
            description = what + " is not pinned on this route: " + name;
            reason = kind.singular() + " \"" + name + "\" is not pinned (unpinned: hide)";
            code = "not_pinned";
        }
        return Optional.of(GatewayFailure.of(Reason.POLICY_DENIED, description, reason)
                .withJsonRpcId(message.id())
                .withDecision(Decision.denyVisible("pinning", reason))
                .withData(Map.of("rule", "pinning", "pin", code)));
    }
}
