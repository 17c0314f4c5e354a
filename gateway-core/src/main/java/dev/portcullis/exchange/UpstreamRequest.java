package dev.portcullis.exchange;

import dev.portcullis.authz.AuthorizedRequest;
import java.util.Optional;

/**
 * An authorized request with the credential chosen for the upstream.
 *
 * @param authorized     the previous stage's value
 * @param upstreamBearer the token to send upstream, or empty; never the caller's token
 */
public record UpstreamRequest(AuthorizedRequest authorized, Optional<String> upstreamBearer) {
    @Override
    public String toString() {
        return "UpstreamRequest[" + authorized + ", upstreamBearer=" + (upstreamBearer.isPresent() ? "<set>" : "<none>") + "]";
    }
}
