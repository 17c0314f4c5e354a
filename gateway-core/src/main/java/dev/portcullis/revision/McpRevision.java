package dev.portcullis.revision;

import dev.portcullis.authn.Principal;
import dev.portcullis.authn.SessionBinding;
import dev.portcullis.failure.FailureResponses;
import dev.portcullis.failure.GatewayFailure;
import dev.portcullis.failure.Reason;
import dev.portcullis.inspect.McpMessage;
import dev.portcullis.listen.RequestHead;
import dev.portcullis.route.Route;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import java.net.URI;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * One room per MCP revision: the rules a request follows from the moment it is inspected to the last byte of
 * its answer. Chosen once, by the inspect stage, from the body ({@link #of}: V26-1, never from a session), and
 * carried on the stage records; the stages ask it instead of testing which revision they hold.
 *
 * <ul>
 *   <li>{@link HttpSse2024} — 2024-11-05 HTTP+SSE ({@code transport: sse} routes): the session travels in the
 *       message endpoint's query, every answer travels on the caller's GET stream (a POST gets 202), whose
 *       {@code endpoint} event the gateway rewrites;</li>
 *   <li>{@link Streamable2025} — streamable HTTP (2025-03-26, 2025-06-18, 2025-11-25): sessions in
 *       {@code Mcp-Session-Id}, standing GET streams, {@code MCP-Protocol-Version}, batches only in 2025-03-26;</li>
 *   <li>{@link Stateless2026} — 2026-07-28: no sessions, the version in {@code params._meta}, the
 *       {@code Mcp-Method}/{@code Mcp-Name} headers mirrored from the body, {@code subscriptions/listen} streams,
 *       no server-to-client requests, cache hints on results.</li>
 * </ul>
 *
 * Each room owns its inbound checks ({@link #admit}), its session handling ({@link #upstreamSession},
 * {@link #upstreamHeaders}, {@link #upstreamTarget}), the decisions that shape the reply (what a stream is, what
 * is dropped or rewritten on it) and how a refusal is delivered ({@link #refusedOnCallerStream}).
 */
public sealed interface McpRevision permits HttpSse2024, Streamable2025, Stateless2026 {
    /** The {@code _meta} key that makes a request 2026-07-28 (V26-1). */
    String VERSION_KEY = "io.modelcontextprotocol/protocolVersion";
    String CAPABILITIES_KEY = "io.modelcontextprotocol/clientCapabilities";
    /** 2026 revisions the gateway can parse and police. */
    List<String> MODERN_VERSIONS = List.of("2026-07-28");
    /** Earlier revisions accepted in {@code MCP-Protocol-Version} (TRANSPORT-09). */
    Set<String> LEGACY_VERSIONS = Set.of("2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05");

    /**
     * V26-1: the revision of a request, from its body. One message whose {@code params._meta} carries
     * {@value #VERSION_KEY} is 2026-07-28; everything else ({@code initialize}, in-session traffic, batches,
     * posted responses, GET and DELETE) follows the route's transport: 2024-11-05 HTTP+SSE or streamable HTTP.
     */
    static McpRevision of(Route route, List<McpMessage> messages, boolean batch) {
        if (!batch && messages.size() == 1 && Stateless2026.envelopeVersion(messages.get(0)) != null) {
            return Stateless2026.REVISION;
        }
        return route.config().legacySse() ? HttpSse2024.REVISION : Streamable2025.REVISION;
    }

    /** The revision as the spec names it, for logs. */
    String name();

    /**
     * The revision's checks of an inbound request, before policy runs or the upstream is contacted: the
     * headers agree with the body, the version is one the gateway polices, the message may exist here.
     *
     * @throws GatewayFailure the refusal
     */
    void admit(HttpHeaders headers, List<McpMessage> messages, boolean batch);

    /**
     * The upstream's session behind the gateway session id the request carries, or empty when it carries none
     * (or the revision has no sessions).
     *
     * @throws GatewayFailure 404 for an id this gateway did not issue to this principal on this route (SESSION-03)
     */
    Optional<String> upstreamSession(RequestHead head, Principal principal, Route route, SessionBinding sessions);

    /** Where the request goes upstream. */
    default URI upstreamTarget(Route route, RequestHead head, Optional<String> upstreamSession) {
        return route.upstreamUri(head.path(), head.rawQuery());
    }

    /**
     * The revision's headers on the way upstream, after the client's were copied: the caller's session id is
     * replaced by the upstream's (or removed), and the mirrored headers are rebuilt from the body or removed.
     */
    void upstreamHeaders(List<McpMessage> messages, Optional<String> upstreamSession, HttpHeaders upstream);

    /** The {@code MCP-Protocol-Version} the request speaks (for traces), or null when it names none. */
    String protocolVersion(HttpHeaders headers);

    /** The refusal for a method the route does not know (or hides). */
    default Reason methodNotFound() {
        return Reason.METHOD_NOT_FOUND;
    }

    /** Mirror mode (V26-45, V26-7): the refusal when the route's upstream does not speak this revision. */
    GatewayFailure notServed(McpMessage first, Set<McpRevision> served);

    // --- reply shaping ---------------------------------------------------------------------------

    /**
     * The request's {@code subscriptions/listen} (2026-07-28, V26-20): its stream is tagged with the
     * subscription, narrowed to what the caller may see and ended with its result; empty otherwise.
     */
    default Optional<McpMessage> listenRequest(List<McpMessage> messages) {
        return Optional.empty();
    }

    /**
     * Whether an SSE answer to this request answers no request of its own (a 2025 GET stream, a 2026 listen
     * stream): such a stream ends as soon as the gateway starts draining (issue 14).
     */
    boolean standingStream(HttpMethod method, List<McpMessage> messages);

    /** Whether an SSE answer is the 2024-11-05 caller stream whose {@code endpoint} event the gateway rewrites. */
    default boolean endpointStream(HttpMethod method) {
        return false;
    }

    /** V26-29: whether a server-to-client request on the answer is dropped (the revision has none). */
    default boolean dropsServerRequests() {
        return false;
    }

    /**
     * V26-32/33: the ceiling for a result's {@code ttlMs} (its {@code cacheScope} then made private), or -1
     * when the revision's results carry no cache hints.
     */
    default long cacheHintCeilingMillis(Route route) {
        return -1;
    }

    /** V26-5: whether a {@code server/discover} result is narrowed to what the gateway polices. */
    default boolean narrowsDiscover() {
        return false;
    }

    /** V26-43: whether the request may carry its trace context in {@code params._meta}. */
    default boolean traceContextInMeta() {
        return false;
    }

    // --- refusals --------------------------------------------------------------------------------

    /**
     * Delivers a refusal made after the request was read where the revision expects answers: true when it
     * went on the caller's stream (the POST itself is then answered 202, TRANSPORT-11); false when the
     * request's own answer carries it, as in every revision but 2024-11-05.
     */
    default boolean refusedOnCallerStream(GatewayFailure failure, Optional<String> upstreamSession,
                                          FailureResponses failures, CallerStreams streams) {
        return false;
    }

    /** The open caller streams of 2024-11-05 HTTP+SSE, by the upstream endpoint they announced. */
    @FunctionalInterface
    interface CallerStreams {
        /** Puts a JSON-RPC message on the stream of {@code upstreamEndpoint}; false when no such stream is open here. */
        boolean deliver(String upstreamEndpoint, byte[] jsonRpc);
    }
}
