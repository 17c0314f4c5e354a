package dev.portcullis.exchange;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The grant part of one token request (client authentication is added by {@link ClientAuthentication}).
 * Its parameters carry tokens, so {@link #toString()} shows only the grant's name.
 *
 * @param name                    for logs: {@code token-exchange}, {@code entra-obo}, {@code client-credentials}
 * @param params                  form parameters, in order
 * @param onBehalfOfSubject       whether a caller's token is the subject (its errors are then the caller's
 *                                problem: invalid_request/invalid_grant become a 401 for the caller)
 * @param requiresIssuedTokenType whether a valid answer must carry {@code issued_token_type} (RFC 8693 §2.2.1)
 * @param issuedTokenType         the {@code issued_token_type} a valid answer names when it is required
 * @param tokenType               the {@code token_type} a valid answer names: {@code Bearer}, or {@code N_A} for an
 *                                identity assertion grant (it is no access token)
 */
record GrantRequest(String name, Map<String, String> params, boolean onBehalfOfSubject, boolean requiresIssuedTokenType,
                    String issuedTokenType, String tokenType) {
    static final String TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
    static final String JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer";
    static final String ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token";
    /** Identity Assertion JWT Authorization Grant (draft-ietf-oauth-identity-assertion-authz-grant). */
    static final String ID_JAG_TYPE = "urn:ietf:params:oauth:token-type:id-jag";

    GrantRequest {
        params = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(params));
    }

    GrantRequest(String name, Map<String, String> params, boolean onBehalfOfSubject, boolean requiresIssuedTokenType) {
        this(name, params, onBehalfOfSubject, requiresIssuedTokenType, ACCESS_TOKEN_TYPE, "Bearer");
    }

    /**
     * ID-JAG, step 1: exchange the caller's access token at the enterprise IdP for an Identity Assertion JWT
     * Authorization Grant addressed to the upstream's authorization server ({@code audience}); the answer must name
     * {@code issued_token_type} id-jag and {@code token_type} {@code N_A}.
     */
    static GrantRequest idJag(String subjectToken, String audience, String resource, String scope) {
        Map<String, String> p = new LinkedHashMap<>();
        p.put("grant_type", TOKEN_EXCHANGE);
        p.put("requested_token_type", ID_JAG_TYPE);
        p.put("subject_token", subjectToken);
        p.put("subject_token_type", ACCESS_TOKEN_TYPE);
        putIfPresent(p, "audience", audience);
        putIfPresent(p, "resource", resource);
        putIfPresent(p, "scope", scope);
        return new GrantRequest("id-jag", p, true, true, ID_JAG_TYPE, "N_A");
    }

    /**
     * ID-JAG, step 2 (RFC 7523 §2.1): present the grant at the upstream's authorization server for an access token.
     * The assertion was minted for the caller a moment ago, so its refusals are the caller's problem too.
     */
    static GrantRequest jwtBearer(String assertion, String resource, String scope) {
        Map<String, String> p = new LinkedHashMap<>();
        p.put("grant_type", JWT_BEARER);
        p.put("assertion", assertion);
        putIfPresent(p, "resource", resource);
        putIfPresent(p, "scope", scope);
        return new GrantRequest("jwt-bearer", p, true, false);
    }

    /**
     * RFC 8693 §2.1: exchange the caller's access token for one issued for the upstream.
     * {@code actor_token_type} is sent if and only if {@code actorToken} is (EXCHANGE-03).
     */
    static GrantRequest tokenExchange(String subjectToken, String audience, String resource, String scope, String actorToken) {
        Map<String, String> p = new LinkedHashMap<>();
        p.put("grant_type", TOKEN_EXCHANGE);
        p.put("subject_token", subjectToken);
        p.put("subject_token_type", ACCESS_TOKEN_TYPE);
        p.put("requested_token_type", ACCESS_TOKEN_TYPE);
        putIfPresent(p, "audience", audience);
        putIfPresent(p, "resource", resource);
        putIfPresent(p, "scope", scope);
        if (actorToken != null) {
            p.put("actor_token", actorToken);
            p.put("actor_token_type", ACCESS_TOKEN_TYPE);
        }
        return new GrantRequest("token-exchange", p, true, true);
    }

    /**
     * Microsoft Entra on-behalf-of: a JWT-bearer grant with the caller's token as {@code assertion}.
     * Entra answers without {@code issued_token_type}, so it is not required.
     */
    static GrantRequest entraOnBehalfOf(String subjectToken, String scope) {
        Map<String, String> p = new LinkedHashMap<>();
        p.put("grant_type", JWT_BEARER);
        p.put("assertion", subjectToken);
        p.put("requested_token_use", "on_behalf_of");
        putIfPresent(p, "scope", scope);
        return new GrantRequest("entra-obo", p, true, false);
    }

    /** RFC 6749 §4.4: the gateway's own token. {@code audience} is not in RFC 6749 but some IdPs need it. */
    static GrantRequest clientCredentials(String audience, String resource, String scope) {
        Map<String, String> p = new LinkedHashMap<>();
        p.put("grant_type", "client_credentials");
        putIfPresent(p, "audience", audience);
        putIfPresent(p, "resource", resource);
        putIfPresent(p, "scope", scope);
        return new GrantRequest("client-credentials", p, false, false);
    }

    private static void putIfPresent(Map<String, String> params, String name, String value) {
        if (value != null && !value.isEmpty()) {
            params.put(name, value);
        }
    }

    @Override
    public String toString() {
        return "GrantRequest[" + name + "]";
    }
}
