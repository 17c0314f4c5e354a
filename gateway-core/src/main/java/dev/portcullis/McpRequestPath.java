package dev.portcullis;

import dev.portcullis.audit.Auditor;
import dev.portcullis.audit.RequestProgress;
import dev.portcullis.authn.Authenticate;
import dev.portcullis.authn.AuthenticatedRequest;
import dev.portcullis.authz.Authorize;
import dev.portcullis.authz.AuthorizedRequest;
import dev.portcullis.exchange.Exchange;
import dev.portcullis.exchange.UpstreamRequest;
import dev.portcullis.failure.FailureResponses;
import dev.portcullis.failure.GatewayFailure;
import dev.portcullis.failure.Reason;
import dev.portcullis.forward.Forward;
import dev.portcullis.forward.ForwardResult;
import dev.portcullis.forward.LegacyStreams;
import dev.portcullis.inspect.Inspect;
import dev.portcullis.inspect.InspectedRequest;
import dev.portcullis.limit.LimitOutcome;
import dev.portcullis.limit.Limiter;
import dev.portcullis.listen.Inbound;
import dev.portcullis.listen.NetworkConditions;
import dev.portcullis.listen.RequestHead;
import dev.portcullis.route.RoutedRequest;
import java.util.function.Function;
import dev.portcullis.listen.RequestHandler;
import dev.portcullis.route.Route;
import dev.portcullis.route.RouteStage;
import dev.portcullis.trace.RequestTrace;
import dev.portcullis.trace.Tracing;
import io.opentelemetry.context.Scope;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The request path, top to bottom. Every MCP request goes through these stages in this order; each
 * takes the previous stage's value and returns the next (or throws a {@link GatewayFailure}, which
 * {@link FailureResponses} renders). Nothing reaches the upstream before route, authenticate, inspect
 * and authorize have passed.
 *
 * <pre>
 *   route → authenticate → inspect → authorize → exchange → forward
 * </pre>
 *
 * Runs on the connection's event loop. Authenticate and exchange answer at once from their caches;
 * only a miss waits (then the path continues on the same event loop when the answer is in).
 */
public final class McpRequestPath implements RequestHandler {
    private static final Logger access = LoggerFactory.getLogger("portcullis.access");
    private static final Logger log = LoggerFactory.getLogger(McpRequestPath.class);

    /**
     * The stages, each a function from one value to the next: route → authenticate → inspect → authorize →
     * exchange → forward. Production wiring passes the stage classes' {@code apply} methods; the ordering
     * tests pass recording stand-ins.
     */
    public record Stages(Function<RequestHead, RouteStage.Outcome> route,
                         Function<RoutedRequest, Step<AuthenticatedRequest>> authenticate,
                         InspectStage inspect,
                         Function<InspectedRequest, AuthorizedRequest> authorize,
                         Function<AuthorizedRequest, Step<UpstreamRequest>> exchange,
                         ForwardStage forward) {
        /** The stage classes of the request path. */
        public static Stages of(RouteStage route, Authenticate authenticate, Inspect inspect, Authorize authorize,
                                Exchange exchange, Forward forward) {
            return new Stages(route::apply, authenticate::apply, inspect::apply, authorize::apply, exchange::apply,
                    forward::apply);
        }
    }

    /** Stage 4's shape: the authenticated request and the body the listener read. */
    @FunctionalInterface
    public interface InspectStage {
        InspectedRequest apply(AuthenticatedRequest authenticated, byte[] body, Inbound.BodyState state);
    }

    /** Stage 7's shape: sends the request and relays the answer to {@code in}, then tells {@code done}. */
    @FunctionalInterface
    public interface ForwardStage {
        void apply(UpstreamRequest upstream, Inbound in, HttpHeaders cors, Forward.Done done);
    }

    private final Stages stages;
    private final FailureResponses failures;
    private final Auditor auditor;
    private final LegacyStreams legacyStreams;
    private final NetworkConditions network;
    private final Tracing tracing;
    /** Issue 18: rate and concurrency limits, decided after policy (null: none). */
    private final Limiter limiter;
    /** Issue 17: holds calls that need human approval, after the limits (null: none). */
    private final dev.portcullis.authz.ApprovalGate approvals;

    public McpRequestPath(Stages stages, Auditor auditor, LegacyStreams legacyStreams, FailureResponses failures,
                          NetworkConditions network) {
        this(stages, auditor, legacyStreams, failures, network, Tracing.OFF);
    }

    public McpRequestPath(Stages stages, Auditor auditor, LegacyStreams legacyStreams, FailureResponses failures,
                          NetworkConditions network, Tracing tracing) {
        this(stages, auditor, legacyStreams, failures, network, tracing, null);
    }

    /**
     * @param tracing the server span per request and its stage events ({@link Tracing#OFF}: none)
     * @param limiter the limits of the routes' policies, counted after policy allowed a call (null: none)
     */
    public McpRequestPath(Stages stages, Auditor auditor, LegacyStreams legacyStreams, FailureResponses failures,
                          NetworkConditions network, Tracing tracing, Limiter limiter) {
        this(stages, auditor, legacyStreams, failures, network, tracing, limiter, null);
    }

    /** @param approvals the approval gate (issue 17), after the limits; null: no call is held */
    public McpRequestPath(Stages stages, Auditor auditor, LegacyStreams legacyStreams, FailureResponses failures,
                          NetworkConditions network, Tracing tracing, Limiter limiter,
                          dev.portcullis.authz.ApprovalGate approvals) {
        this.approvals = approvals;
        this.tracing = tracing;
        this.limiter = limiter;
        this.stages = stages;
        this.failures = failures;
        this.auditor = auditor;
        this.legacyStreams = legacyStreams;
        this.network = network;
    }

    @Override
    public void handle(Inbound in) {
        RouteStage.Outcome outcome = stages.route().apply(in.head());
        if (outcome instanceof RouteStage.Answer answer) {
            in.respond(response(answer.status(), answer.headers(), answer.body()));
            return;
        }
        if (outcome instanceof RouteStage.Refused refused) {
            refuse(in, refused.route(), refused.failure(), refused.cors(), "-");
            return;
        }
        RouteStage.Routed routed = (RouteStage.Routed) outcome;
        new Request(in, routed.cors(), new RequestProgress(routed.request(), tracing.request(routed.request()))).authenticate();
    }

    /** One request past the route stage: its progress along the path, and how its answer is written. */
    private final class Request implements Forward.Done {
        private final Inbound in;
        /** The route's CORS headers, plus the {@code RateLimit} headers once the limits are counted (issue 18). */
        private HttpHeaders cors;
        private final RequestProgress progress;
        /** Issue 18: the concurrency permits this request holds, given back however it ends. */
        private LimitOutcome limits;

        Request(Inbound in, HttpHeaders cors, RequestProgress progress) {
            this.in = in;
            this.cors = cors;
            this.progress = progress;
        }

        @Override
        public RequestTrace trace() {
            return progress.trace();
        }

        void authenticate() {
            try (Scope scope = progress.trace().makeCurrent()) {
                Step<AuthenticatedRequest> step = stages.authenticate().apply(progress.routed());
                if (step.ready()) {
                    inspect(step.value());
                } else {
                    resume(step.future(), this::inspect);
                }
            } catch (RuntimeException e) {
                failed(e);
            }
        }

        void inspect(AuthenticatedRequest authenticated) {
            try {
                RequestTrace trace = progress.trace();
                trace.passed("authenticate");
                progress.reached(authenticated);
                InspectedRequest inspected = stages.inspect().apply(authenticated, in.body(), in.bodyState());
                progress.reached(inspected);
                trace.inspected(inspected);
                trace.passed("inspect");
                AuthorizedRequest authorized = stages.authorize().apply(inspected);
                progress.reached(authorized);
                LimitOutcome counted = limiter == null ? null : limiter.apply(authorized);
                if (counted != null) {
                    limits = counted;
                    AuthorizedRequest allowed = authorized;
                    if (!counted.ready()) {
                        // The shared store answers later, on the loop its connection lives on (this one, or another
                        // worker loop, or a cluster's own): continue on this request's event loop, as a task of its own.
                        counted.future().whenComplete((done, error) -> in.loop().execute(() -> {
                            if (!in.open()) {
                                failed(clientClosed("while its limits were counted"));
                                return;
                            }
                            try {
                                approve(limited(allowed, counted));
                            } catch (RuntimeException e) {
                                failed(e);
                            }
                        }));
                        return;
                    }
                    authorized = limited(authorized, counted);
                }
                approve(authorized);
            } catch (RuntimeException e) {
                failed(e);
            }
        }

        /** Issue 17: a call that needs approval is held here; the upstream is not contacted. */
        void approve(AuthorizedRequest authorized) {
            if (approvals == null) {
                exchange(authorized);
                return;
            }
            Step<AuthorizedRequest> step = approvals.apply(authorized);
            if (step.ready()) {
                proceed(authorized, step.value());
            } else {
                resume(step.future(), after -> proceed(authorized, after));
            }
        }

        private void proceed(AuthorizedRequest before, AuthorizedRequest after) {
            if (after != before) {
                progress.reached(after);
            }
            exchange(after);
        }

        /** Issue 18: the headers the limits add to every answer, and the elements they refused. */
        private AuthorizedRequest limited(AuthorizedRequest authorized, LimitOutcome counted) {
            cors = counted.headers(cors);
            AuthorizedRequest after = Authorize.limited(authorized, counted.refused());
            if (after != authorized) {
                progress.reached(after);
            }
            return after;
        }

        void exchange(AuthorizedRequest authorized) {
            try {
                RequestTrace trace = progress.trace();
                trace.passed("authorize");
                Step<UpstreamRequest> step;
                try (Scope scope = trace.makeCurrent()) {
                    step = stages.exchange().apply(authorized);
                }
                if (step.ready()) {
                    forward(step.value());
                } else {
                    resume(step.future(), this::forward);
                }
            } catch (RuntimeException e) {
                failed(e);
            }
        }

        void forward(UpstreamRequest upstream) {
            try {
                progress.reached(upstream);
                progress.trace().passed("exchange");
                auditor.overhead(progress);
                progress.trace().passed("forward");
                stages.forward().apply(upstream, in, cors, this);
            } catch (RuntimeException e) {
                failed(e);
            }
        }

        /** Continues with {@code next} on the request's event loop once {@code future} has its value. */
        private <T> void resume(CompletableFuture<T> future, Consumer<T> next) {
            future.whenComplete((value, error) -> in.loop().execute(() -> {
                if (!in.open()) {
                    failed(clientClosed("while the request waited")); // the client went away meanwhile
                    return;
                }
                if (error != null) {
                    failed(error);
                } else {
                    next.accept(value);
                }
            }));
        }

        @Override
        public void forwarded(ForwardResult result) {
            releaseLimits();
            try (Scope scope = progress.trace().makeCurrent()) {
                auditor.forwarded(progress, result);
            }
            progress.trace().forwarded(result.status());
            // Issue 15: structured values (fields of their own in JSON mode, key=value after the message in text mode).
            access.atInfo().addKeyValue("portcullis.route", progress.route().name())
                    .addKeyValue("http.request.method", in.head().method().name())
                    .addKeyValue("http.response.status_code", result.status())
                    .addKeyValue("http.request.id", progress.requestId())
                    .log("forwarded");
        }

        @Override
        public void failed(GatewayFailure failure) {
            failed((Throwable) failure);
        }

        /** Issue 18: every path a request ends on comes here (answered, failed, refused, client gone, shut down). */
        private void releaseLimits() {
            if (limits != null) {
                limits.release();
            }
        }

        void failed(Throwable e) {
            releaseLimits();
            GatewayFailure failure = e instanceof GatewayFailure f ? f
                    : !in.open() && network.absorb(e, "route=" + progress.route().name()) ? clientClosed(e.toString())
                    : asFailure(e);
            String errorType = failure.reason().name().toLowerCase(Locale.ROOT);
            if (failure.reason() == Reason.CLIENT_CLOSED_REQUEST) {
                // Issue 12 item 9: a client that hung up (while waiting, mid-stream) is an everyday event, not an
                // internal error: one access line without a stack trace, audited as 499, nothing written back.
                access.atInfo().addKeyValue("portcullis.route", progress.route().name())
                        .addKeyValue("error.type", "client_closed_request")
                        .addKeyValue("event.reason", failure.getMessage())
                        .addKeyValue("http.request.id", progress.requestId())
                        .log("client closed");
                try (Scope scope = progress.trace().makeCurrent()) {
                    auditor.failed(progress, failure, 499);
                }
                progress.trace().failed(errorType, 499);
                return;
            }
            if (refusedOnCallerStream(progress, failure)) {
                try (Scope scope = progress.trace().makeCurrent()) {
                    auditor.failed(progress, failure, 202);
                }
                progress.trace().failed(errorType, 202);
                in.respond(response(202, cors, null));
                return;
            }
            int status = FailureResponses.status(failure.reason());
            try (Scope scope = progress.trace().makeCurrent()) {
                auditor.failed(progress, failure, status);
            }
            progress.trace().failed(errorType, status);
            refuse(in, progress.route(), failure, cors, progress.requestId());
        }
    }

    /**
     * Where the request's revision delivers a refusal made after the request was read: on the caller's stream
     * for 2024-11-05 HTTP+SSE (then the POST gets 202, TRANSPORT-11), else in the request's own answer.
     */
    private boolean refusedOnCallerStream(RequestProgress progress, GatewayFailure failure) {
        var inspected = progress.inspected();
        return inspected != null && inspected.revision().refusedOnCallerStream(failure, inspected.upstreamSessionId(),
                failures, legacyStreams);
    }

    /** Logs the refusal and answers it, unless the answer has started (a stream broke mid-way: its connection is closed). */
    private void refuse(Inbound in, Route route, GatewayFailure failure, HttpHeaders cors, String requestId) {
        access.atInfo().addKeyValue("portcullis.route", route == null ? "-" : route.name())
                .addKeyValue("http.request.method", in.head().method().name())
                .addKeyValue("error.type", failure.reason().name().toLowerCase(Locale.ROOT))
                .addKeyValue("event.reason", failure.getMessage())
                .addKeyValue("http.request.id", requestId)
                .log("refused");
        if (in.started()) {
            in.abort();
            return;
        }
        in.respond(failures.render(route, failure, cors));
    }

    private static GatewayFailure clientClosed(String detail) {
        return GatewayFailure.of(Reason.CLIENT_CLOSED_REQUEST, "Client closed the request", detail);
    }

    private static FullHttpResponse response(int status, HttpHeaders headers, byte[] body) {
        FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.valueOf(status),
                body == null ? Unpooled.EMPTY_BUFFER : Unpooled.wrappedBuffer(body));
        if (headers != null && !headers.isEmpty()) {
            response.headers().add(headers);
        }
        response.headers().setInt("Content-Length", body == null ? 0 : body.length);
        return response;
    }

    private static GatewayFailure asFailure(Throwable e) {
        Throwable cause = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
        if (cause instanceof GatewayFailure failure) {
            return failure;
        }
        log.error("unexpected failure on the request path", cause);
        return GatewayFailure.of(Reason.INTERNAL, "Internal error", cause.getClass().getName(), cause);
    }
}
