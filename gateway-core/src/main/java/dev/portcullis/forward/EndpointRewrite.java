package dev.portcullis.forward;

import dev.portcullis.authn.Principal;
import dev.portcullis.authn.SessionBinding;
import dev.portcullis.route.Route;
import java.net.URI;
import java.nio.charset.StandardCharsets;

/**
 * {@code endpoint-rewrite}: the 2024-11-05 HTTP+SSE caller stream (TRANSPORT-11, SESSION-07).
 *
 * <ol>
 *   <li>The client GETs the route's path; the gateway opens the upstream's SSE URL.</li>
 *   <li>The upstream's first event, {@code event: endpoint}, names where to POST messages (e.g.
 *       {@code /message?sessionId=u1}). The gateway replaces it with {@code <route path>/messages?sessionId=<id>}
 *       on its own origin, where {@code <id>} seals the upstream's endpoint for this principal and route
 *       ({@link SessionBinding}): the upstream's session never reaches the client, and another caller
 *       presenting the id gets 404.</li>
 *   <li>A POST there is authenticated and decided like any request, then sent to the sealed upstream endpoint
 *       ({@link dev.portcullis.revision.HttpSse2024}).</li>
 *   <li>Results arrive on the stream as {@code event: message}; on a route with a policy, list results
 *       among them are filtered like any list ({@link ListFiltering}), and the gateway's own refusals of
 *       POSTed messages join the stream ({@link LegacyStreams}).</li>
 * </ol>
 */
final class EndpointRewrite implements ReplyTransform {
    static final String MESSAGES = "/messages";

    private final Route route;
    private final Principal principal;
    private final SessionBinding sessions;

    EndpointRewrite(Route route, Principal principal, SessionBinding sessions) {
        this.route = route;
        this.principal = principal;
        this.sessions = sessions;
    }

    @Override
    public String name() {
        return "endpoint-rewrite";
    }

    /** Whether the event is an {@code endpoint} event with data (one this step rewrites whole). */
    static boolean announcesEndpoint(byte[] event) {
        String text = new String(event, StandardCharsets.UTF_8);
        return (text.startsWith("event: endpoint") || text.contains("\nevent: endpoint")) && SseEvents.data(event) != null;
    }

    /** The upstream endpoint (path and query) an {@code endpoint} event announces; null for any other event. */
    String announced(byte[] event) {
        if (!announcesEndpoint(event)) {
            return null;
        }
        URI upstream = route.config().upstreamUri().resolve(SseEvents.data(event).strip());
        return upstream.getRawPath() + (upstream.getRawQuery() == null ? "" : "?" + upstream.getRawQuery());
    }

    @Override
    public byte[] event(byte[] event) {
        String endpoint = announced(event);
        if (endpoint == null) {
            return event;
        }
        String sealed = sessions.seal(endpoint, principal, route.name());
        return SseEvents.withData(event, route.path() + MESSAGES + "?sessionId=" + sealed);
    }
}
