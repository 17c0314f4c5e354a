package dev.portcullis.authn;

import dev.portcullis.Step;
import dev.portcullis.config.DpopMode;
import dev.portcullis.failure.GatewayFailure;
import dev.portcullis.failure.Reason;
import dev.portcullis.route.RouteDpop;
import dev.portcullis.route.RoutedRequest;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/**
 * Stage 3: the bearer token from the Authorization header, validated for the route's resource,
 * becomes a {@link Principal}. Runs before the body is looked at or anything reaches the upstream
 * (AUTHN-15). Failures: 401 (none / invalid token), 400 (ambiguous credentials), 503 (keys
 * unavailable). A token whose signature was checked before is answered at once; a new one may wait
 * for the issuer's keys.
 *
 * <p>DPoP (RFC 9449, AUTHN-13; docs/dpop.md), where the route or the token's issuer accepts it: a token presented
 * as {@code Authorization: DPoP} needs exactly one {@code DPoP} proof, checked on every request by
 * {@link DpopProofVerifier} against the token's {@code cnf.jkt}, cached token or not. A token with any
 * {@code cnf} is never accepted as a bearer token (§7.2), and where DPoP is required a plain bearer token is refused.
 */
public final class Authenticate {
    private final BearerTokenExtractor extractor = new BearerTokenExtractor();
    private final TokenVerifier verifier;
    private final DpopProofVerifier dpop;

    /** Bearer tokens only: the DPoP scheme counts as no credentials (bound tokens are still refused as bearer). */
    public Authenticate(TokenVerifier verifier) {
        this(verifier, null);
    }

    /** @param dpop checks DPoP proofs where a route or issuer accepts them; null: nowhere */
    public Authenticate(TokenVerifier verifier, DpopProofVerifier dpop) {
        this.verifier = verifier;
        this.dpop = dpop;
    }

    /** Throws {@link dev.portcullis.failure.GatewayFailure} for a missing or ambiguous credential. */
    public Step<AuthenticatedRequest> apply(RoutedRequest routed) {
        RouteDpop rules = routed.route().dpop();
        boolean dpopHere = dpop != null && rules.accepted();
        BearerTokenExtractor.Presented presented = extractor.extract(routed.head().headers(), routed.head().uri(), dpopHere);
        if (presented.dpop()) {
            return withProof(routed, rules, presented.token());
        }
        if (dpopHere && !rules.bearerAllowed()) {
            throw dpopRequired();
        }
        Step<TokenVerifier.Checked> checked = verifier.checkConfirmed(presented.token(), routed.route().acceptedAudiences());
        if (checked.ready()) {
            return Step.now(asBearer(routed, rules, dpopHere, checked.value()));
        }
        return Step.later(checked.future().thenApply(c -> asBearer(routed, rules, dpopHere, c)));
    }

    /**
     * A token presented as a bearer token: never a sender-constrained one — except a certificate-bound token (RFC 8705)
     * over a connection whose client certificate it names — and not where DPoP is required.
     */
    private static AuthenticatedRequest asBearer(RoutedRequest routed, RouteDpop rules, boolean dpopHere,
                                                 TokenVerifier.Checked checked) {
        Confirmation confirmation = checked.confirmation();
        if (confirmation.present()) {
            if (!confirmation.certificateBound()) {
                // RFC 9449 §7.2: a DPoP-bound token received as a bearer token MUST be rejected (the same for any cnf
                // this gateway cannot check).
                throw GatewayFailure.of(Reason.INVALID_TOKEN, "The access token is sender-constrained: present it with "
                        + "the DPoP scheme and a DPoP proof", "token with cnf presented as Bearer").withCode("bound_token_as_bearer");
            }
            certificateMatches(routed, confirmation);
        }
        if (dpopHere && rules.modeFor(checked.issuer()) == DpopMode.REQUIRED) {
            throw dpopRequired();
        }
        return new AuthenticatedRequest(routed, agentOf(routed, checked.principal()));
    }

    /**
     * RFC 8705 §3: a certificate-bound token is accepted only over a mutual-TLS connection whose client certificate has
     * the SHA-256 thumbprint in its {@code cnf["x5t#S256"]}; otherwise 401 {@code invalid_token}. Checked on every
     * request, cached token or not (the token cache knows tokens, not connections).
     */
    static void certificateMatches(RoutedRequest routed, Confirmation confirmation) {
        dev.portcullis.listen.ClientCertificate certificate = routed.head().clientCertificate();
        if (certificate == null) {
            throw GatewayFailure.of(Reason.INVALID_TOKEN, "The access token is bound to a client certificate, and this "
                    + "connection presented none", "certificate-bound token without a client certificate")
                    .withCode("certificate_missing");
        }
        if (!java.security.MessageDigest.isEqual(certificate.thumbprint().getBytes(java.nio.charset.StandardCharsets.US_ASCII),
                confirmation.x5tS256().getBytes(java.nio.charset.StandardCharsets.US_ASCII))) {
            throw GatewayFailure.of(Reason.INVALID_TOKEN, "The access token is bound to another client certificate",
                    "cnf x5t#S256 does not match the connection's certificate").withCode("certificate_mismatch");
        }
    }

    /**
     * The caller's agent: the SPIFFE ID of the connection's X.509-SVID when a bundle pinned to its trust domain accepted
     * it (issue 16, docs/mtls.md), else the token's client as the issuer preset reads it.
     */
    static Principal agentOf(RoutedRequest routed, Principal principal) {
        dev.portcullis.listen.ClientCertificate certificate = routed.head().clientCertificate();
        return certificate == null || certificate.spiffeId() == null ? principal : principal.withAgent(certificate.spiffeId());
    }

    private static GatewayFailure dpopRequired() {
        return GatewayFailure.of(Reason.INVALID_DPOP_TOKEN, "A DPoP-bound access token and a DPoP proof are required",
                "bearer token where DPoP is required").withCode("dpop_required");
    }

    /** {@code Authorization: DPoP}: the token, then its binding, then the proof (RFC 9449 §7.1). */
    private Step<AuthenticatedRequest> withProof(RoutedRequest routed, RouteDpop rules, BearerToken token) {
        List<String> proofs = routed.head().headers().getAll("DPoP");
        if (proofs.isEmpty()) {
            throw GatewayFailure.of(Reason.INVALID_DPOP_PROOF, "A DPoP proof is required with the DPoP scheme",
                    "no DPoP header").withCode("proof_missing");
        }
        if (proofs.size() > 1) {
            // RFC 9449 §4.3 check 1.
            throw GatewayFailure.of(Reason.INVALID_DPOP_PROOF, "More than one DPoP proof", "several DPoP headers")
                    .withCode("proof_repeated");
        }
        String proof = proofs.get(0).strip();
        Step<TokenVerifier.Checked> checked;
        try {
            checked = verifier.checkConfirmed(token, routed.route().acceptedAudiences());
        } catch (GatewayFailure failure) {
            throw onDpopChallenge(failure);
        }
        if (checked.ready()) {
            return proven(routed, rules, token, proof, checked.value());
        }
        CompletableFuture<AuthenticatedRequest> later = checked.future()
                .handle((c, error) -> {
                    if (error != null) {
                        Throwable cause = error instanceof CompletionException && error.getCause() != null ? error.getCause() : error;
                        throw new CompletionException(cause instanceof GatewayFailure f ? onDpopChallenge(f) : cause);
                    }
                    return c;
                })
                .thenCompose(c -> proven(routed, rules, token, proof, c).future());
        return Step.later(later);
    }

    private Step<AuthenticatedRequest> proven(RoutedRequest routed, RouteDpop rules, BearerToken token, String proof,
                                              TokenVerifier.Checked checked) {
        if (rules.modeFor(checked.issuer()) == DpopMode.OFF) {
            throw GatewayFailure.of(Reason.INVALID_DPOP_TOKEN, "DPoP-bound tokens of this issuer are not accepted here",
                    "dpop off for issuer " + checked.issuer().issuer() + " on this route").withCode("dpop_not_accepted");
        }
        if (!checked.confirmation().dpopBound()) {
            throw GatewayFailure.of(Reason.INVALID_DPOP_TOKEN, "The access token is not DPoP-bound",
                    "no usable cnf.jkt").withCode("not_dpop_bound");
        }
        DpopProofVerifier.Expected expected = new DpopProofVerifier.Expected(routed.head().method().name(),
                routed.route().publicUrl(routed.head().path()), routed.route().name(), token.value(),
                checked.confirmation().jkt(), checked.issuer().algorithms(), rules);
        Step<Boolean> valid = dpop.verify(proof, expected);
        AuthenticatedRequest authenticated = new AuthenticatedRequest(routed, agentOf(routed, checked.principal()));
        if (valid.ready()) {
            return Step.now(authenticated);
        }
        return Step.later(valid.future().thenApply(ok -> authenticated));
    }

    /** A token failure under the DPoP scheme: the error goes on the DPoP challenge (RFC 9449 §7.2). */
    private static GatewayFailure onDpopChallenge(GatewayFailure failure) {
        if (failure.reason() != Reason.INVALID_TOKEN) {
            return failure;
        }
        GatewayFailure moved = GatewayFailure.of(Reason.INVALID_DPOP_TOKEN, failure.description(), failure.getMessage(), failure);
        return failure.code() == null ? moved : moved.withCode(failure.code());
    }
}
