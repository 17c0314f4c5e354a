package dev.portcullis.authz;

import dev.portcullis.policy.Decision;
import dev.portcullis.policy.ItemKind;
import dev.portcullis.policy.Operation;
import dev.portcullis.policy.Policy;
import dev.portcullis.policy.Subject;
import dev.portcullis.pin.RoutePins;
import dev.portcullis.route.Route;

/**
 * What one caller may see in lists (POLICY-05), as authorize decided it for the request: the value forward
 * filters every answer with, so forward never calls the policy itself. A route without a policy file hides
 * nothing ({@link #filters()} false). The names a list will hold are not known until the upstream answers, so
 * each name is decided when it is asked about, by the route's policy as it stands then: a reload applies to
 * answers and streams already under way, as it did before this value existed. On a route that pins tool
 * definitions (issue 17) it also carries the route's pins: an item whose definition differs from its pin is hidden
 * whatever the policy says ({@link #shows}).
 */
public final class ListVisibility {
    private static final ListVisibility UNFILTERED = new ListVisibility(null, null, null, null);

    private final Subject subject;
    private final Policy policy;
    /** Issue 17: the route's tool definition pins, or null. */
    private final RoutePins pins;
    /** The request whose answers this filters: named in a drift's audit event (issue 17); may be null. */
    private final String requestId;

    private ListVisibility(Subject subject, Policy policy, RoutePins pins, String requestId) {
        this.subject = subject;
        this.policy = policy;
        this.pins = pins;
        this.requestId = requestId;
    }

    /**
     * What {@code subject} may see on {@code route}: everything when the route has no policy file and pins nothing;
     * with pins (issue 17), only items whose definitions match their pins.
     */
    public static ListVisibility of(Route route, Subject subject) {
        return of(route, subject, null);
    }

    /** As above, for the request {@code requestId} (a drift its answers show is audited with it). */
    public static ListVisibility of(Route route, Subject subject, String requestId) {
        if (!route.filtersLists() && route.pins() == null) {
            return UNFILTERED;
        }
        return new ListVisibility(subject, route.filtersLists() ? route.policy() : null, route.pins(), requestId);
    }

    /** Whether lists are filtered at all (the route has a policy that may hide items, or pins definitions). */
    public boolean filters() {
        return policy != null || pins != null;
    }

    /**
     * Whether a list may show {@code item}, named {@code name}: its definition matches its pin (issue 17; checked,
     * and what it shows remembered, whatever the policy says) and the policy lets the caller see it.
     */
    public boolean shows(ItemKind kind, String name, com.fasterxml.jackson.databind.JsonNode item) {
        boolean pinned = pins == null || pins.shows(kind, name, item, requestId);
        return pinned && sees(kind, name);
    }

    /** Whether a list may show the item named {@code name} of {@code kind} (argument constraints ignored). */
    public boolean sees(ItemKind kind, String name) {
        return policy == null || policy.visible(subject, kind, name);
    }

    /** V26-5: whether the caller could ever see an item of {@code kind}. */
    public boolean mayEverSee(ItemKind kind) {
        return policy == null || policy.visibility(subject, kind).any();
    }

    /** V26-5: whether {@code completion/complete} is not denied outright. */
    public boolean mayComplete() {
        return policy == null
                || policy.decide(subject, Operation.method("completion/complete")).outcome() != Decision.Outcome.DENY;
    }
}
