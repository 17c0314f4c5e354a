package dev.portcullis.exchange;

import com.fasterxml.jackson.databind.JsonNode;
import dev.portcullis.authn.Principal;
import dev.portcullis.authz.AuthorizedRequest;
import dev.portcullis.authz.PartialBatch;
import dev.portcullis.inspect.McpMessage;
import dev.portcullis.listen.RequestHead;
import dev.portcullis.revision.McpRevision;
import dev.portcullis.route.Route;
import java.util.List;
import java.util.Optional;
import reactor.core.publisher.Mono;

/**
 * An authorized request with the credential chosen for the upstream: the value exchange hands to forward.
 * What forward reads of the earlier stages has a direct accessor here ({@link #route}, {@link #head},
 * {@link #upstreamBody} …); {@link #authorized} is kept whole to renew the credential with.
 *
 * @param authorized     the previous stage's value
 * @param upstreamBearer the token to send upstream, or empty; never the caller's token
 * @param credentials    where {@code upstreamBearer} came from, to renew it once if the upstream refuses it
 */
public record UpstreamRequest(AuthorizedRequest authorized, Optional<String> upstreamBearer, UpstreamCredentials credentials) {

    /** A request whose credential cannot be renewed (route mode none, tests). */
    public UpstreamRequest(AuthorizedRequest authorized, Optional<String> upstreamBearer) {
        this(authorized, upstreamBearer, UpstreamCredentials.none());
    }

    /** Whether an upstream 401 is worth one more try: a token was sent, and a new one can be had. */
    public boolean renewable() {
        return upstreamBearer.isPresent();
    }

    /**
     * After the upstream answered 401 to {@link #upstreamBearer}: drop that token from the cache
     * and get a fresh one (CHALLENGE-07: re-exchange once).
     */
    public Mono<UpstreamRequest> renewed() {
        upstreamBearer.ifPresent(rejected -> credentials.invalidate(authorized, rejected));
        return credentials.bearerFor(authorized).map(bearer -> new UpstreamRequest(authorized, bearer, credentials));
    }

    public RequestHead head() {
        return authorized.head();
    }

    public Route route() {
        return authorized.route();
    }

    public String requestId() {
        return authorized.requestId();
    }

    public Principal principal() {
        return authorized.principal();
    }

    public McpRevision revision() {
        return authorized.revision();
    }

    /** The messages as the client sent them. */
    public List<McpMessage> messages() {
        return authorized.messages();
    }

    public boolean batch() {
        return authorized.batch();
    }

    public Optional<String> upstreamSessionId() {
        return authorized.upstreamSessionId();
    }

    /** The bytes sent upstream ({@link AuthorizedRequest#upstreamBody}). */
    public byte[] upstreamBody() {
        return authorized.upstreamBody();
    }

    /** The refused elements of a batch forwarded in part, or null. */
    public PartialBatch partialBatch() {
        return authorized.partialBatch();
    }

    /** What the caller may see in lists, as authorize decided it. */
    public dev.portcullis.authz.ListVisibility visibility() {
        return authorized.visibility();
    }

    /** The id to put on a gateway-made error. */
    public JsonNode errorId() {
        return authorized.errorId();
    }

    @Override
    public String toString() {
        return "UpstreamRequest[" + authorized + ", upstreamBearer=" + (upstreamBearer.isPresent() ? "<set>" : "<none>") + "]";
    }
}
