package dev.portcullis.failure;

/**
 * Every way a request can fail at the gateway. {@link FailureResponses} maps each one to exactly
 * one response shape with an exhaustive switch, so a new reason nobody mapped fails to compile.
 * The lower-case name is used as the metric tag and the audit field.
 */
public enum Reason {
    /** No route for the path (404). */
    NO_ROUTE,
    /** {@code Host} is not one of this gateway's names: DNS rebinding defence (421: PROXY-04). */
    MISDIRECTED_HOST,
    /** A browser {@code Origin} that is not allowed (403, JSON-RPC error without id: PROXY-05, E5g). */
    ORIGIN_NOT_ALLOWED,
    /** HTTP method the endpoint does not serve (405 with Allow). */
    METHOD_NOT_ALLOWED,
    /** No bearer token in the Authorization header (401 without {@code error}: CHALLENGE-01). */
    NO_CREDENTIALS,
    /** Credentials presented more than one way, or a malformed Authorization header (400 invalid_request: AUTHN-03). */
    INVALID_CREDENTIALS_REQUEST,
    /** Token present but not acceptable: bad signature, expired, wrong audience... (401 invalid_token: CHALLENGE-02). */
    INVALID_TOKEN,
    /** A DPoP proof (RFC 9449 §4.3) that fails a check, or is missing or repeated (401 {@code DPoP error="invalid_dpop_proof"}). */
    INVALID_DPOP_PROOF,
    /**
     * A token presented with the DPoP scheme (or where DPoP is required) that is not acceptable: expired, wrong
     * audience, not DPoP-bound, bound to another key (401 {@code DPoP error="invalid_token"}: RFC 9449 §7.1, §7.2).
     */
    INVALID_DPOP_TOKEN,
    /** The route demands a server-provided nonce the proof lacks (401 {@code DPoP error="use_dpop_nonce"} + {@code DPoP-Nonce}: RFC 9449 §9). */
    DPOP_NONCE_REQUIRED,
    /** A DPoP proof's {@code jti} could not be checked against the replay record (full, or its store down): 503, retryable. */
    REPLAY_CHECK_UNAVAILABLE,
    /** The issuer's signing keys could not be loaded, so no token can be judged (503, retryable). */
    KEYS_UNAVAILABLE,
    /**
     * The issuer's introspection endpoint (RFC 7662) could not judge the token: unreachable, slow past its timeout,
     * refusing the gateway's client, or answering something that is not an introspection response (503 + Retry-After,
     * as for unavailable keys: issue 16, docs/introspection.md).
     */
    INTROSPECTION_UNAVAILABLE,
    /** A valid token lacking scopes the operation needs (403 insufficient_scope: CHALLENGE-04). */
    INSUFFICIENT_SCOPE,
    /** Policy forbids the operation and no token could change that (200 + JSON-RPC error -31403: JSONRPC-08b). */
    POLICY_DENIED,
    /** Policy hides the tool or prompt from this caller: answered exactly like an unknown one (200, -32602). */
    UNKNOWN_TOOL,
    /** Policy hides the resource from this caller: answered like a missing one (200, -32002). */
    RESOURCE_NOT_FOUND,
    /** Policy hides the method from this caller, or no rule knows it (200, -32601: POLICY-04). */
    METHOD_NOT_FOUND,
    /** A notification policy refuses: never a JSON-RPC response (JSONRPC-06), only 403 (TRANSPORT-03). */
    NOTIFICATION_DENIED,
    /** A batch with a denied element: refused whole, an error per request element (POLICY-07). */
    BATCH_DENIED,
    /** A session id this gateway did not issue to this principal on this route (404, like an unknown one: SESSION-01/03). */
    SESSION_NOT_FOUND,
    /** The request body did not arrive within {@code listen.request-timeout} (408). */
    REQUEST_TIMEOUT,
    /** Request body over the configured limit (413). */
    BODY_TOO_LARGE,
    /** POST without a JSON content type (415). */
    UNSUPPORTED_MEDIA_TYPE,
    /** The body is not JSON (400, -32700). */
    PARSE_ERROR,
    /** JSON, but not a valid JSON-RPC message (400, -32600: JSONRPC-01). */
    INVALID_JSONRPC,
    /** 2026-07-28: MCP headers missing or disagreeing with the body (400, -32020: V26-3, V26-8). */
    HEADER_MISMATCH,
    /** A protocol version this route cannot serve (400; -32022 with data.supported for modern requests: V26-2, TRANSPORT-09). */
    UNSUPPORTED_VERSION,
    /** A revision the route's upstream does not speak (mirror mode: 400 with a non-modern error, V26-7, V26-45). */
    ERA_NOT_SERVED,
    /** A malformed modern envelope (400, -32602: V26-4). */
    INVALID_PARAMS,
    /**
     * The message names its target in a form the gateway does not decide on: a resource URI or template
     * not in normal form, a {@code completion/complete} without a usable {@code ref} (200, -32602: issue 12).
     * Purely syntactic, so answering it reveals nothing about what policy hides.
     */
    INVALID_TARGET,
    /** A modern request for a method that does not exist (404, -32601: V26-25, V26-27). */
    MODERN_METHOD_NOT_FOUND,
    /** The upstream could not be reached, or the exchange broke before any response (502). */
    UPSTREAM_UNAVAILABLE,
    /** The upstream did not answer in time (504). */
    UPSTREAM_TIMEOUT,
    /** The upstream refused the gateway's credentials with 401/403; never relayed (502: CHALLENGE-07). */
    UPSTREAM_REJECTED_CREDENTIALS,
    /** The token endpoint could not be reached, timed out, or answered 5xx/429 (503 + Retry-After: EXCHANGE-05). */
    EXCHANGE_UNAVAILABLE,
    /** The IdP refused the caller's token as a subject ({@code invalid_request}, {@code invalid_grant}): 401 invalid_token, so the client re-authenticates (EXCHANGE-05). */
    EXCHANGE_SUBJECT_REJECTED,
    /** The IdP will not issue a token for this upstream or scope ({@code invalid_target}, {@code invalid_scope}, {@code unauthorized_client}): a policy denial, not a 401 (EXCHANGE-05, JSONRPC-08b). */
    EXCHANGE_DENIED,
    /** The IdP refused the gateway's own client credentials ({@code invalid_client}, or any error in client-credentials mode): 502 and an ERROR log (EXCHANGE-05). */
    EXCHANGE_CLIENT_REJECTED,
    /** The token endpoint's answer was not a valid token response (EXCHANGE-04), or an error the gateway cannot map: 502. */
    EXCHANGE_INVALID_RESPONSE,
    /**
     * Issue 18: a rate or concurrency limit refuses the call (429 + {@code Retry-After} for a single request;
     * a JSON-RPC error {@code -31429} with {@code data.retryAfter} for a batch element or on a stream).
     */
    RATE_LIMITED,
    /** Issue 18: the shared limit store is down and the route's limits fail closed (503 + {@code Retry-After}). */
    LIMITS_UNAVAILABLE,
    /**
     * Issue 17: the call is held for human approval; a 2026-07-28 client gets an {@code input_required} result with
     * a URL-mode elicitation of the approval page and a sealed {@code requestState} (200, a result, not an error).
     */
    APPROVAL_INPUT_REQUIRED,
    /** Issue 17: held for approval; a 2025-11-25 client gets the URL elicitation required error (200, -32042). */
    APPROVAL_URL_REQUIRED,
    /** Issue 17: held for approval; an older client gets an error whose message carries the URL (200, -31428). */
    APPROVAL_REQUIRED,
    /** Issue 17: the approval store cannot be reached, so no held call can be decided (503, retryable). */
    APPROVALS_UNAVAILABLE,
    /** The client went away before its answer was complete (499 in the audit and metrics; nothing is sent). */
    CLIENT_CLOSED_REQUEST,
    /** A bug or an unexpected condition (500); details only in the log. */
    INTERNAL
}
