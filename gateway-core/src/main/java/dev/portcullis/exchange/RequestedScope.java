package dev.portcullis.exchange;

import dev.portcullis.authz.AuthorizedRequest;
import dev.portcullis.policy.Decision;
import java.util.List;
import java.util.TreeSet;

/**
 * The scope to request for the upstream (EXCHANGE-07): what the tools being called need, as
 * policy says (the union of {@code requiredScopes} of the ALLOW decisions), else the route's
 * configured {@code upstream-auth.scopes}. Never a copy of the caller's scopes.
 */
final class RequestedScope {
    private RequestedScope() {}

    /** Sorted and space-separated (a stable cache key); "" when nothing is configured. */
    static String of(AuthorizedRequest request, List<String> defaults) {
        TreeSet<String> scopes = new TreeSet<>();
        for (Decision decision : request.decisions()) {
            if (decision.allowed()) {
                scopes.addAll(decision.requiredScopes());
            }
        }
        if (scopes.isEmpty()) {
            scopes.addAll(defaults);
        }
        return String.join(" ", scopes);
    }
}
