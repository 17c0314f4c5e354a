package dev.portcullis.forward;

import dev.portcullis.authn.SessionBinding;
import dev.portcullis.exchange.UpstreamRequest;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * The 2024-11-05 HTTP+SSE transport through the gateway (TRANSPORT-11, SESSION-07).
 *
 * <ol>
 *   <li>The client GETs the route's path; the gateway opens the upstream's SSE URL.</li>
 *   <li>The upstream's first event, {@code event: endpoint}, names where to POST messages (e.g.
 *       {@code /message?sessionId=u1}). The gateway replaces it with {@code <route path>/messages?sessionId=<id>}
 *       on its own origin, where {@code <id>} seals the upstream's endpoint for this principal and route
 *       ({@link SessionBinding}): the upstream's session never reaches the client, and another caller
 *       presenting the id gets 404.</li>
 *   <li>A POST there is authenticated and decided like any request, then sent to the sealed upstream endpoint.</li>
 *   <li>Results arrive on the stream as {@code event: message}; on a route with a policy, list results
 *       among them are filtered like any list.</li>
 * </ol>
 */
final class LegacySse {
    static final String MESSAGES = "/messages";

    private final UpstreamRequest request;
    private final SessionBinding sessions;
    private final ListFilter lists;
    private final LegacyStreams streams;
    private final Consumer<byte[]> injected;
    private String endpoint;

    private LegacySse(UpstreamRequest request, SessionBinding sessions, ListFilter lists, LegacyStreams streams,
                      Consumer<byte[]> injected) {
        this.request = request;
        this.sessions = sessions;
        this.lists = lists;
        this.streams = streams;
        this.injected = injected;
    }

    /**
     * The rewriter for the GET stream of an HTTP+SSE route; {@code injected} takes the gateway's own events
     * for this stream (from any thread) once its endpoint is known.
     */
    static Optional<LegacySse> forStream(UpstreamRequest request, SessionBinding sessions, LegacyStreams streams,
                                         Consumer<byte[]> injected) {
        var route = request.route();
        if (!request.revision().endpointStream(request.head().method())) {
            return Optional.empty();
        }
        ListFilter lists = route.filtersLists()
                ? ListFilter.anyListResult(request.principal().asSubject(), route.policy()) : null;
        return Optional.of(new LegacySse(request, sessions, lists, streams, injected));
    }

    /** The stream ended: the gateway's answers no longer go to it. */
    void close() {
        if (endpoint != null) {
            streams.unregister(endpoint, injected);
        }
    }

    byte[] rewrite(byte[] event) {
        String text = new String(event, StandardCharsets.UTF_8);
        if (text.startsWith("event: endpoint") || text.contains("\nevent: endpoint")) {
            String endpoint = SseEvents.data(event);
            if (endpoint != null) {
                var route = request.route();
                URI upstream = route.config().upstreamUri().resolve(endpoint.strip());
                String pathAndQuery = upstream.getRawPath() + (upstream.getRawQuery() == null ? "" : "?" + upstream.getRawQuery());
                String sealed = sessions.seal(pathAndQuery, request.principal(), route.name());
                this.endpoint = pathAndQuery;
                streams.register(pathAndQuery, injected);
                return SseEvents.withData(event, route.path() + MESSAGES + "?sessionId=" + sealed);
            }
        }
        return lists == null ? event : lists.filterEvent(event);
    }
}
