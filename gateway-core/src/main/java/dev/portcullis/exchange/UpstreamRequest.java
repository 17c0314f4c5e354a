package dev.portcullis.exchange;

import dev.portcullis.authz.AuthorizedRequest;
import java.util.Optional;
import reactor.core.publisher.Mono;

/**
 * An authorized request with the credential chosen for the upstream.
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

    @Override
    public String toString() {
        return "UpstreamRequest[" + authorized + ", upstreamBearer=" + (upstreamBearer.isPresent() ? "<set>" : "<none>") + "]";
    }
}
