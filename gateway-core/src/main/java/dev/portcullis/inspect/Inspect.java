package dev.portcullis.inspect;

import dev.portcullis.authn.AuthenticatedRequest;
import dev.portcullis.authn.SessionBinding;
import dev.portcullis.failure.GatewayFailure;
import dev.portcullis.failure.Reason;
import dev.portcullis.listen.Inbound;
import dev.portcullis.listen.RequestHead;
import dev.portcullis.revision.McpRevision;
import dev.portcullis.route.Route;
import dev.portcullis.route.UpstreamEras;
import io.netty.handler.codec.http.HttpMethod;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Stage 4: read the POST body (at most {@code max-body-size}: 413 beyond it), classify its JSON-RPC messages
 * and choose the request's {@link McpRevision} from them, once (V26-1); the revision's own checks then run.
 * GET and DELETE carry no body. The bytes are kept to be forwarded unchanged.
 */
public final class Inspect {
    private final long maxBodyBytes;
    private final BatchLimit batchLimit;
    private final SessionBinding sessions;
    private final UpstreamEras upstreamEras;
    private final JsonRpcInspector inspector = new JsonRpcInspector();

    public Inspect(long maxBodyBytes, int maxBatchSize, SessionBinding sessions, UpstreamEras upstreamEras) {
        this.maxBodyBytes = maxBodyBytes;
        this.batchLimit = new BatchLimit(maxBatchSize);
        this.sessions = sessions;
        this.upstreamEras = upstreamEras;
    }

    /**
     * Classifies the request's body. {@code body} is what the listener read; {@code state} says whether it
     * was whole, too large or too slow. Throws {@link GatewayFailure} for a request that cannot go on.
     */
    public InspectedRequest apply(AuthenticatedRequest authenticated, byte[] body, Inbound.BodyState state) {
        RequestHead request = authenticated.head();
        if (!HttpMethod.POST.equals(request.method())) {
            // GET and DELETE exist only in the session revisions.
            return classified(authenticated, new byte[0], List.of(), false);
        }
        // Issue 12: one UTF-8 application/json body, not content-coded: what is inspected is what the upstream reads.
        JsonContentType.require(request.headers());
        long declared = request.headers().getInt("Content-Length", -1);
        if (declared > maxBodyBytes || state == Inbound.BodyState.TOO_LARGE || body.length > maxBodyBytes) {
            throw GatewayFailure.of(Reason.BODY_TOO_LARGE, "Request body too large");
        }
        if (state == Inbound.BodyState.TIMED_OUT) {
            throw GatewayFailure.of(Reason.REQUEST_TIMEOUT, "Request timeout", "body slower than listen.request-timeout");
        }
        batchLimit.check(body); // before any other work on the body (issue 12 item 10)
        List<McpMessage> messages = inspector.inspect(body);
        boolean batch = body.length > 0 && firstNonWhitespace(body) == '[';
        return classified(authenticated, body, messages, batch);
    }

    /**
     * V26-1: the body decides the revision (the header may only agree); the revision checks the request, the
     * route's upstream must speak it, and a session id the request carries must be one this gateway issued to
     * this principal on this route ({@link SessionBinding}).
     */
    private InspectedRequest classified(AuthenticatedRequest authenticated, byte[] body, List<McpMessage> messages,
                                        boolean batch) {
        Route route = authenticated.route();
        McpRevision revision = McpRevision.of(route, messages, batch);
        revision.admit(authenticated.head().headers(), messages, batch);
        requireServed(route, revision, messages);
        Optional<String> upstreamSession = revision.upstreamSession(authenticated.head(), authenticated.principal(), route,
                sessions);
        return new InspectedRequest(authenticated, body, messages, batch, revision, upstreamSession);
    }

    /** Mirror mode (V26-45): only the revisions the upstream speaks are offered; unknown yet → nothing assumed. */
    private void requireServed(Route route, McpRevision revision, List<McpMessage> messages) {
        Set<McpRevision> served = upstreamEras.of(route);
        if (served.isEmpty() || served.contains(revision)) {
            return;
        }
        throw revision.notServed(messages.isEmpty() ? null : messages.get(0), served);
    }

    private static int firstNonWhitespace(byte[] body) {
        for (byte b : body) {
            if (b != ' ' && b != '\t' && b != '\r' && b != '\n') {
                return b;
            }
        }
        return -1;
    }
}
