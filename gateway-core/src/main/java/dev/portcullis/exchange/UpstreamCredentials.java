package dev.portcullis.exchange;

import dev.portcullis.authz.AuthorizedRequest;
import java.util.Optional;
import reactor.core.publisher.Mono;

/**
 * Stage 6: the credential the upstream receives for one request. The caller's own token is
 * never an option (EXCHANGE-01, PROXY-01): implementations return a token minted for the
 * upstream, the gateway's own credential, or nothing.
 */
@FunctionalInterface
public interface UpstreamCredentials {

    /** The bearer token to send upstream, or empty to send no Authorization header. */
    Mono<Optional<String>> bearerFor(AuthorizedRequest request);

    /** Route mode {@code none}: the upstream receives no credentials. */
    static UpstreamCredentials none() {
        return request -> Mono.just(Optional.empty());
    }
}
