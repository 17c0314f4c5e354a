package dev.portcullis.app.approvals;

import com.fasterxml.jackson.databind.JsonNode;
import dev.portcullis.approval.ApprovalRequest;
import java.net.URI;
import java.util.concurrent.CompletableFuture;

/**
 * Issue 17: how approvers sign in: OpenID Connect authorization code with PKCE ({@link OidcLogin}).
 */
interface ApproverLogin {
    /** Where to send the browser to sign in. */
    CompletableFuture<URI> authorizationUrl(String state, String nonce, String codeChallenge);

    /**
     * Redeems the authorization code (with the PKCE verifier) and verifies the ID token it brings (signature with
     * the issuer's keys, iss, aud, azp, exp, iat, nonce). Fails for anything else.
     */
    CompletableFuture<Approver> redeem(String code, String codeVerifier, String nonce);

    /** A signed-in approver: who (issuer, subject, login name) and its ID token's claims (roles and groups are read there). */
    record Approver(ApprovalRequest.Party party, JsonNode claims, long expiresAtMillis) {}
}
