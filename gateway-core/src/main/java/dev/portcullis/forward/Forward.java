package dev.portcullis.forward;

import dev.portcullis.authn.SessionBinding;
import dev.portcullis.exchange.UpstreamRequest;
import dev.portcullis.failure.GatewayFailure;
import dev.portcullis.failure.Reason;
import dev.portcullis.listen.Inbound;
import dev.portcullis.route.Route;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.timeout.ReadTimeoutException;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Stage 7: send the request upstream and relay the answer. A plain Netty client: the upstream connection
 * lives on the inbound connection's event loop, taken from that loop's keep-alive pool ({@link UpstreamPool}),
 * so a proxied request never changes threads and takes no lock.
 *
 * <p>How bytes and backpressure cross the proxy ({@link UpstreamCall}):
 * <ol>
 *   <li>The request body was read (bounded) by the listener and is sent as those exact bytes, with its
 *       head, in one write.</li>
 *   <li>When the upstream's status and headers arrive they are rewritten ({@link HeaderRewrite}) and the
 *       answer's {@link ReplyPlan} is decided: a small answer of known length, and an answer that must be
 *       rewritten whole (list filter, batch answers), is sent with its headers in one write; anything else is
 *       relayed chunk by chunk as it is read. The plan's named transforms ({@link ReplyTransform}) do the
 *       rewriting; what the caller may see in lists comes from authorize ({@link dev.portcullis.authz.ListVisibility}):
 *       forward never asks the policy.</li>
 *   <li>An SSE answer is relayed event by event as the upstream emits it, each flushed at once, so the
 *       first event reaches the client without waiting for the next (TRANSPORT-04). When the client
 *       connection stops taking bytes, reading from the upstream pauses until it drains (backpressure
 *       through channel writability; read interest is otherwise left alone).</li>
 *   <li>An SSE answer is not subject to the response timeout once it has started; anything else must not
 *       go quiet for longer than {@code response-timeout} (504).</li>
 * </ol>
 * An upstream 401/403 is never relayed (CHALLENGE-07): it becomes 502, after one retry with a
 * renewed token when the 401 refused a token the gateway obtained.
 */
public final class Forward {
    /** A list response larger than this cannot be filtered and is refused (fail closed). */
    static final long MAX_FILTERED_BODY = 16L * 1024 * 1024;

    /** A non-stream answer with a Content-Length up to this size is sent to the client in one write. */
    static final int ONE_WRITE_BODY = 64 * 1024;

    /** The {@code _meta} key tagging every event of a listen stream with its subscription (V26-20). */
    static final String SUBSCRIPTION_ID_KEY = "io.modelcontextprotocol/subscriptionId";

    /** How a forward ended; called once, on the request's event loop. */
    public interface Done {
        /** The upstream answered and its answer was relayed (or the relay was cut by the client). */
        void forwarded(ForwardResult result);

        /** No answer could be relayed; if the client's response had started, its connection has been closed. */
        void failed(GatewayFailure failure);

        /** The request's trace: the upstream call's client span is its child ({@link dev.portcullis.trace.RequestTrace#OFF}: none). */
        default dev.portcullis.trace.RequestTrace trace() {
            return dev.portcullis.trace.RequestTrace.OFF;
        }
    }

    final Map<String, Route> routes = new HashMap<>();
    final SessionBinding sessions;
    final LegacyStreams legacyStreams;
    final ListenStreams listenStreams;
    final UpstreamPool pool = new UpstreamPool();
    private final AtomicInteger activeStreams = new AtomicInteger();
    private final Set<UpstreamCall> streams = ConcurrentHashMap.newKeySet();
    /** Every call in progress (issue 14: the end of the shutdown grace reaches each one). */
    final Set<UpstreamCall> calls = ConcurrentHashMap.newKeySet();
    /** Set when the gateway shuts down: open SSE relays then end cleanly instead of being cut; new ones end at once. */
    volatile boolean stopping;

    public Forward(List<Route> routes, SessionBinding sessions, LegacyStreams legacyStreams, ListenStreams listenStreams) {
        this.sessions = sessions;
        this.legacyStreams = legacyStreams;
        this.listenStreams = listenStreams;
        for (Route route : routes) {
            this.routes.put(route.name(), route);
        }
        // Jackson builds deserializers on first use under a lock: here, at start, not on an event loop.
        BatchAnswers.warm();
        ListFilter.warm();
        ServerRequests.warm();
    }

    /**
     * Sends {@code upstream} and relays the answer to {@code in}; {@code done} hears how it ended. Call on
     * {@code in}'s event loop.
     *
     * @param cors headers every answer on the route carries (CORS), possibly empty
     */
    public void apply(UpstreamRequest upstream, Inbound in, HttpHeaders cors, Done done) {
        new UpstreamCall(this, upstream, in, cors, done, true).start();
    }

    /** SSE responses being relayed right now. */
    public int activeStreams() {
        return activeStreams.get();
    }

    /**
     * Issue 14, drain step 1 (SIGTERM): streams that answer no request of their own (2025 GET streams,
     * 2026 {@code subscriptions/listen} streams with their final result, V26-21) end now, and new ones end
     * at once; calls in progress, streamed or not, run on.
     */
    public void drain() {
        stopping = true;
        for (UpstreamCall call : streams) {
            call.drainStarted();
        }
    }

    /**
     * Issue 14, drain step 2 (the shutdown grace is over): each call still in progress ends with a JSON-RPC
     * error for the requests it has not answered ({@link Drain#MESSAGE}), before its connection is closed.
     */
    public void graceOver() {
        stopping = true;
        for (UpstreamCall call : calls) {
            call.graceOver();
        }
    }

    /** Calls in progress (upstream request sent or being sent, answer not relayed to its end). */
    public int callsInProgress() {
        return calls.size();
    }

    /** Ends every open SSE relay cleanly (the client sees the stream end, not a reset); new ones end at once. */
    public void endStreams() {
        stopping = true;
        for (UpstreamCall call : streams) {
            call.endFromAnyThread();
        }
    }

    void streamOpened(UpstreamCall call) {
        activeStreams.incrementAndGet();
        streams.add(call);
    }

    void streamClosed(UpstreamCall call) {
        if (streams.remove(call)) {
            activeStreams.decrementAndGet();
        }
    }

    static GatewayFailure toFailure(Throwable e) {
        if (e instanceof GatewayFailure failure) {
            return failure;
        }
        for (Throwable c = e; c != null; c = c.getCause()) {
            if (c instanceof ReadTimeoutException || c instanceof TimeoutException) {
                return GatewayFailure.of(Reason.UPSTREAM_TIMEOUT, "Upstream MCP server timed out", "upstream timeout", e);
            }
        }
        String detail = e == null ? "upstream closed the connection early" : e.toString();
        return GatewayFailure.of(Reason.UPSTREAM_UNAVAILABLE, "Upstream MCP server unavailable", detail, e);
    }

    public void close() {
        pool.close();
    }
}
