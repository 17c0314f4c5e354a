package dev.portcullis.forward;

import com.fasterxml.jackson.databind.JsonNode;
import dev.portcullis.authn.SessionBinding;
import dev.portcullis.exchange.UpstreamRequest;
import dev.portcullis.failure.GatewayFailure;
import dev.portcullis.failure.Reason;
import dev.portcullis.inspect.McpMessage;
import dev.portcullis.revision.McpRevision;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpUtil;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * How the gateway relays one upstream answer, decided once when the upstream's status and headers arrive
 * ({@link #of}, a pure function of the request and that head), then carried out by {@link UpstreamCall}.
 *
 * <ul>
 *   <li>{@code DISCARD}: read to its end and never relayed: a 401/403 (CHALLENGE-07: renewed once, or 502), or
 *       an encoded answer the list filter cannot read (502);</li>
 *   <li>{@code PASS_THROUGH}: relayed chunk by chunk as it arrives;</li>
 *   <li>{@code WHOLE_BODY}: read whole (bounded by {@link #bodyLimit}), passed through the transforms'
 *       {@link ReplyTransform#body}, and sent with its head in one write;</li>
 *   <li>{@code EVENT_STREAM}: an SSE stream relayed as it arrives; each event passes the transforms'
 *       {@link ReplyTransform#event} (cut into whole events when a transform needs it).</li>
 * </ul>
 *
 * @param kind          how the answer is relayed
 * @param status        the status the client gets
 * @param transforms    the named steps, in order: {@code batch-answers}, {@code endpoint-rewrite},
 *                      {@code server-request-drop}, {@code list-filter}, {@code subscription-injection},
 *                      {@code token-lifetime-end}
 * @param bodyLimit     WHOLE_BODY: the most the gateway reads (beyond it: 502 with {@code tooLarge}); else 0
 * @param tooLarge      WHOLE_BODY: the detail of that 502
 * @param lengthChanges whether the upstream's {@code Content-Length} no longer holds (lists filtered, errors merged)
 * @param contentType   the {@code Content-Type} the gateway sets, or null to keep the upstream's
 * @param standing      EVENT_STREAM: it answers no request of its own (a 2025 GET stream, a 2026 listen stream),
 *                      so it ends as soon as the gateway drains (issue 14)
 * @param awaited       EVENT_STREAM: the ids of the requests the stream answers (issue 14: those unanswered
 *                      when the shutdown grace ends get an error event)
 * @param refusal       DISCARD: what the caller is answered, or null to renew the upstream credential once
 */
record ReplyPlan(Kind kind, int status, List<ReplyTransform> transforms, long bodyLimit, String tooLarge,
                 boolean lengthChanges, String contentType, boolean standing, List<JsonNode> awaited,
                 GatewayFailure refusal) {

    enum Kind { DISCARD, PASS_THROUGH, WHOLE_BODY, EVENT_STREAM }

    ReplyPlan {
        transforms = List.copyOf(transforms);
        awaited = List.copyOf(awaited);
    }

    /**
     * The plan for the answer whose head is {@code upstream} to {@code request}.
     *
     * @param mayRenew whether a 401 may still be answered by renewing the upstream credential (once per request)
     * @param sessions seals the 2024-11-05 upstream endpoint for the caller
     */
    static ReplyPlan of(UpstreamRequest request, HttpResponse upstream, boolean mayRenew, SessionBinding sessions) {
        int status = upstream.status().code();
        if (status == 401 && mayRenew && request.renewable()) {
            return discard(null); // CHALLENGE-07: the gateway's own token, renewed once
        }
        if (status == 401 || status == 403) {
            return discard(GatewayFailure.of(Reason.UPSTREAM_REJECTED_CREDENTIALS,
                    "Upstream MCP server refused the gateway's credentials", "upstream answered " + status)
                    .withJsonRpcId(request.errorId()));
        }
        ListFilter filter = ListFilter.forRequest(request.authorized()).orElse(null);
        if (filter != null && !ListFilter.readable(upstream.headers().get("Content-Encoding"))) {
            // The gateway asks for no encoding; an answer it cannot read cannot be filtered (fail closed).
            return discard(GatewayFailure.of(Reason.UPSTREAM_UNAVAILABLE, "Upstream MCP server unavailable",
                    "encoded answer (Content-Encoding) on a route that filters lists").withJsonRpcId(request.errorId()));
        }
        BatchAnswers batch = request.partialBatch() == null ? null : new BatchAnswers(request.messages(), request.partialBatch());
        if (batch != null && !batch.answersSomething()) {
            batch = null; // only notifications were refused: nothing to answer (JSONRPC-06)
        }
        // A list may be rewritten (or errors are merged in), so the length may change.
        boolean lengthChanges = filter != null || (batch != null && status == 200);
        if (batch != null && status == 202) {
            // The upstream took the forwarded notifications; the refused requests still need their errors.
            return whole(200, List.of(BatchAnswering.errorsOnly(batch)), Forward.MAX_FILTERED_BODY,
                    "batch response too large to merge", true, "application/json");
        }
        if (!isEventStream(upstream.headers())) {
            if (batch != null && status == 200) {
                List<ReplyTransform> steps = filter == null ? List.of(BatchAnswering.merged(batch))
                        : List.of(BatchAnswering.merged(batch), new ListFiltering(filter));
                return whole(status, steps, Forward.MAX_FILTERED_BODY, "batch response too large to merge", true, null);
            }
            if (filter != null) {
                // Any answer on a policy route may carry a list (whatever it answers, whatever its status): it
                // must be whole before it can be filtered; bounded, and failed closed beyond.
                return whole(status, List.of(new ListFiltering(filter)), Forward.MAX_FILTERED_BODY,
                        "list response too large to filter", true, null);
            }
            long length = HttpUtil.getContentLength(upstream, -1L);
            if (length >= 0 && length <= Forward.ONE_WRITE_BODY) {
                // A small answer of known length goes out with its headers in one write.
                return whole(status, List.of(), Forward.ONE_WRITE_BODY, "response longer than its Content-Length", false, null);
            }
            return new ReplyPlan(Kind.PASS_THROUGH, status, List.of(), 0, null, false, null, false, List.of(), null);
        }
        return eventStream(request, status, filter, batch, lengthChanges, sessions);
    }

    private static ReplyPlan eventStream(UpstreamRequest request, int status, ListFilter filter, BatchAnswers batch,
                                         boolean lengthChanges, SessionBinding sessions) {
        McpRevision revision = request.revision();
        HttpMethod method = request.head().method();
        List<McpMessage> messages = request.messages();
        McpMessage listen = revision.listenRequest(messages).orElse(null);
        List<JsonNode> awaited = new ArrayList<>();
        if (listen == null && !HttpMethod.GET.equals(method)) {
            for (McpMessage message : messages) {
                if (message.kind() == McpMessage.Kind.REQUEST && message.id() != null) {
                    awaited.add(message.id());
                }
            }
        }
        List<ReplyTransform> steps = new ArrayList<>();
        if (status == 200 && revision.endpointStream(method)) {
            // 2024-11-05: the endpoint event is rewritten to the gateway, and results on the stream filtered.
            steps.add(new EndpointRewrite(request.route(), request.principal(), sessions));
            if (filter != null) {
                steps.add(new ListFiltering(filter, true));
            }
        } else {
            if (batch != null && status == 200) {
                steps.add(BatchAnswering.events(batch)); // E9: each error one more event on the upstream's stream
            }
            if (revision.dropsServerRequests()) {
                steps.add(new ServerRequestDrop(request.route().name()));
            }
            if (filter != null) {
                // Every event holding a list is filtered by its shape (replayed, resumed and unattributed ones too).
                steps.add(new ListFiltering(filter));
            }
        }
        if (listen != null) {
            // V26-34: gateway-made list_changed events only where the route's policy can change what is seen.
            steps.add(new SubscriptionEvents(listen, status == 200 && request.visibility().filters()));
        }
        steps.add(new TokenLifetimeEnd(request.principal().acceptedUntil()));
        return new ReplyPlan(Kind.EVENT_STREAM, status, steps, 0, null, lengthChanges, null,
                revision.standingStream(method, messages), awaited, null);
    }

    private static ReplyPlan discard(GatewayFailure refusal) {
        return new ReplyPlan(Kind.DISCARD, 0, List.of(), 0, null, false, null, false, List.of(), refusal);
    }

    private static ReplyPlan whole(int status, List<ReplyTransform> steps, long limit, String tooLarge,
                                   boolean lengthChanges, String contentType) {
        return new ReplyPlan(Kind.WHOLE_BODY, status, steps, limit, tooLarge, lengthChanges, contentType, false,
                List.of(), null);
    }

    static boolean isEventStream(HttpHeaders headers) {
        String type = headers.get("Content-Type", "");
        return type.toLowerCase(Locale.ROOT).startsWith("text/event-stream");
    }

    /** The transforms' names, in order. */
    List<String> names() {
        return transforms.stream().map(ReplyTransform::name).toList();
    }

    /** The plan's step of {@code type}, or null. */
    <T extends ReplyTransform> T step(Class<T> type) {
        for (ReplyTransform each : transforms) {
            if (type.isInstance(each)) {
                return type.cast(each);
            }
        }
        return null;
    }

    /** Whether a whole body passes through any step (else its bytes go out as they came). */
    boolean rewritesBody() {
        return kind == Kind.WHOLE_BODY && !transforms.isEmpty();
    }

    /** A whole answer through every step in order. */
    byte[] body(byte[] body) {
        byte[] out = Objects.requireNonNull(body);
        for (ReplyTransform each : transforms) {
            out = each.body(out);
        }
        return out;
    }

    /** Whether the stream is cut into whole events (a step rewrites them, or the answered requests are tracked). */
    boolean framesEvents() {
        return kind == Kind.EVENT_STREAM && (!awaited.isEmpty() || transforms.stream().anyMatch(ReplyTransform::needsEvents));
    }

    /** The gateway's events ahead of the upstream's first. */
    List<byte[]> opening() {
        List<byte[]> events = new ArrayList<>();
        for (ReplyTransform each : transforms) {
            events.addAll(each.opening());
        }
        return events;
    }

    /** One whole event through every step in order; empty when a step dropped it. */
    byte[] event(byte[] event) {
        byte[] out = event;
        for (ReplyTransform each : transforms) {
            out = each.event(out);
            if (out.length == 0) {
                return ReplyTransform.DROPPED;
            }
        }
        return out;
    }
}
