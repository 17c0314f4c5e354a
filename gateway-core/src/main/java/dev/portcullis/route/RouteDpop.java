package dev.portcullis.route;

import dev.portcullis.config.DpopMode;
import dev.portcullis.config.IssuerConfig;
import dev.portcullis.config.RouteConfig;
import java.time.Duration;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * What DPoP (RFC 9449) means on one route, derived once from the route's and the issuers' {@code dpop:} settings:
 * whether a DPoP presentation is accepted here at all, whether a bearer token still is, the proof algorithms to
 * advertise ({@code algs} in the challenge, {@code dpop_signing_alg_values_supported} in the metadata), and the
 * route's proof window and nonce setting.
 *
 * @param routeMode     the route's own setting
 * @param accepted      whether {@code Authorization: DPoP} is accepted on the route for some issuer's tokens
 * @param bearerAllowed whether some issuer's plain bearer tokens are still accepted (false: the route or every
 *                      issuer requires DPoP; then no {@code Bearer} challenge is offered)
 * @param algorithms    the proof algorithms advertised: the algorithms of the issuers whose tokens may be
 *                      DPoP-bound here, in config order (a proof is checked against its token's issuer's own list)
 * @param nonce         whether proofs must carry a nonce this gateway issued (RFC 9449 §9)
 * @param window        how far a proof's {@code iat} may lie from now, either way
 */
public record RouteDpop(DpopMode routeMode, boolean accepted, boolean bearerAllowed, List<String> algorithms,
                        boolean nonce, Duration window) {
    /** No DPoP anywhere: bearer tokens only. */
    public static final RouteDpop OFF = new RouteDpop(DpopMode.OFF, false, true, List.of(), false, RouteConfig.MAX_DPOP_PROOF_WINDOW);

    public RouteDpop {
        algorithms = List.copyOf(algorithms);
    }

    public static RouteDpop of(RouteConfig route, List<IssuerConfig> issuers) {
        DpopMode mode = route.dpopMode();
        boolean accepted = mode != DpopMode.OFF || issuers.stream().anyMatch(i -> i.dpopMode() != DpopMode.OFF);
        if (!accepted) {
            return OFF;
        }
        boolean bearer = mode != DpopMode.REQUIRED && (issuers.isEmpty()
                || issuers.stream().anyMatch(i -> i.dpopMode() != DpopMode.REQUIRED));
        Set<String> algs = new LinkedHashSet<>();
        for (IssuerConfig issuer : issuers) {
            if (mode != DpopMode.OFF || issuer.dpopMode() != DpopMode.OFF) {
                algs.addAll(issuer.algorithms());
            }
        }
        return new RouteDpop(mode, true, bearer, List.copyOf(algs), route.dpopNonce(), route.dpopProofWindow());
    }

    /** The mode for tokens of {@code issuer} on this route: the stricter of the route's and the issuer's. */
    public DpopMode modeFor(IssuerConfig issuer) {
        return routeMode.stricter(issuer.dpopMode());
    }

    /** Whether every token must be DPoP-bound on this route, whatever its issuer (RFC 9728 {@code dpop_bound_access_tokens_required}). */
    public boolean required() {
        return accepted && !bearerAllowed;
    }

    /** The {@code algs} value of a challenge: the algorithms, space-separated. */
    public String algsValue() {
        return String.join(" ", algorithms);
    }
}
