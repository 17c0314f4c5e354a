package dev.portcullis.failure;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.portcullis.route.Route;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.util.ArrayList;
import java.util.List;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpVersion;

/**
 * Renders every {@link GatewayFailure}: HTTP status, {@code WWW-Authenticate} challenge and the
 * JSON-RPC error body. The one place where failures become responses.
 *
 * <p>Challenges (CHALLENGE-01..06, PRM-05): one {@code Bearer} challenge per response, always with
 * {@code resource_metadata}; {@code error} only when a token was presented; quoted values; an
 * {@code error_description} limited to printable ASCII without {@code "} or {@code \}.
 */
public final class FailureResponses {
    /** JSONRPC-08b: outside -32768..-32000, so it cannot collide with spec-reserved codes. */
    public static final int POLICY_DENIED_CODE = -31403;
    /** Issue 18: a call refused by a rate or concurrency limit; outside -32768..-32000 like {@link #POLICY_DENIED_CODE}. */
    public static final int RATE_LIMITED_CODE = -31429;
    /**
     * Issue 17: a call held for approval, to a client older than 2025-11-25 (the message carries the URL); outside
     * -32768..-32000 like {@link #POLICY_DENIED_CODE}.
     */
    public static final int APPROVAL_REQUIRED_CODE = -31428;
    /** 2025-11-25: URL elicitation required (a client of that revision opens the URL, then retries). */
    public static final int URL_ELICITATION_REQUIRED_CODE = -32042;

    private final ObjectMapper json;
    /** A fresh DPoP nonce for a route (RFC 9449 §9), or null when no route demands one. */
    private final java.util.function.Function<Route, String> dpopNonce;

    public FailureResponses(ObjectMapper json) {
        this(json, null);
    }

    /** @param dpopNonce a fresh nonce for a route with {@code dpop-nonce: true}, sent as {@code DPoP-Nonce} with its challenges */
    public FailureResponses(ObjectMapper json, java.util.function.Function<Route, String> dpopNonce) {
        this.json = json;
        this.dpopNonce = dpopNonce;
    }

    /** Status, challenge and JSON-RPC code for one failure. */
    record Shape(int status, String challengeError, boolean challenge, Integer jsonRpcCode) {}

    static Shape shape(Reason reason) {
        return switch (reason) {
            case NO_ROUTE -> new Shape(404, null, false, null);
            case MISDIRECTED_HOST -> new Shape(421, null, false, -32600);
            case ORIGIN_NOT_ALLOWED -> new Shape(403, null, false, -32600);
            case METHOD_NOT_ALLOWED -> new Shape(405, null, false, null);
            case NO_CREDENTIALS -> new Shape(401, null, true, null);
            case INVALID_CREDENTIALS_REQUEST -> new Shape(400, "invalid_request", true, null);
            case INVALID_TOKEN -> new Shape(401, "invalid_token", true, null);
            case INVALID_DPOP_PROOF -> new Shape(401, "invalid_dpop_proof", true, null);
            case INVALID_DPOP_TOKEN -> new Shape(401, "invalid_token", true, null);
            case DPOP_NONCE_REQUIRED -> new Shape(401, "use_dpop_nonce", true, null);
            case REPLAY_CHECK_UNAVAILABLE -> new Shape(503, null, false, -32603);
            case INSUFFICIENT_SCOPE -> new Shape(403, "insufficient_scope", true, null);
            case KEYS_UNAVAILABLE, INTROSPECTION_UNAVAILABLE -> new Shape(503, null, false, -32603);
            case POLICY_DENIED -> new Shape(200, null, false, POLICY_DENIED_CODE);
            case UNKNOWN_TOOL -> new Shape(200, null, false, -32602);
            case RESOURCE_NOT_FOUND -> new Shape(200, null, false, -32002);
            case METHOD_NOT_FOUND -> new Shape(200, null, false, -32601);
            case NOTIFICATION_DENIED -> new Shape(403, null, false, -32600);
            case BATCH_DENIED -> new Shape(200, null, false, -32600);
            case SESSION_NOT_FOUND -> new Shape(404, null, false, -32001);
            case BODY_TOO_LARGE -> new Shape(413, null, false, -32600);
            case REQUEST_TIMEOUT -> new Shape(408, null, false, -32600);
            case UNSUPPORTED_MEDIA_TYPE -> new Shape(415, null, false, -32600);
            case PARSE_ERROR -> new Shape(400, null, false, -32700);
            case INVALID_JSONRPC -> new Shape(400, null, false, -32600);
            case HEADER_MISMATCH -> new Shape(400, null, false, -32020);
            case UNSUPPORTED_VERSION -> new Shape(400, null, false, -32022);
            case INVALID_PARAMS -> new Shape(400, null, false, -32602);
            case INVALID_TARGET -> new Shape(200, null, false, -32602);
            case ERA_NOT_SERVED -> new Shape(400, null, false, -32600);
            case MODERN_METHOD_NOT_FOUND -> new Shape(404, null, false, -32601);
            case UPSTREAM_UNAVAILABLE, UPSTREAM_REJECTED_CREDENTIALS -> new Shape(502, null, false, -32603);
            case UPSTREAM_TIMEOUT -> new Shape(504, null, false, -32603);
            case EXCHANGE_UNAVAILABLE -> new Shape(503, null, false, -32603);
            case EXCHANGE_SUBJECT_REJECTED -> new Shape(401, "invalid_token", true, -32603);
            case EXCHANGE_DENIED -> new Shape(200, null, false, POLICY_DENIED_CODE);
            case EXCHANGE_CLIENT_REJECTED, EXCHANGE_INVALID_RESPONSE -> new Shape(502, null, false, -32603);
            case RATE_LIMITED -> new Shape(429, null, false, RATE_LIMITED_CODE);
            case LIMITS_UNAVAILABLE -> new Shape(503, null, false, -32603);
            case APPROVAL_INPUT_REQUIRED -> new Shape(200, null, false, null);
            case APPROVAL_URL_REQUIRED -> new Shape(200, null, false, URL_ELICITATION_REQUIRED_CODE);
            case APPROVAL_REQUIRED -> new Shape(200, null, false, APPROVAL_REQUIRED_CODE);
            case APPROVALS_UNAVAILABLE -> new Shape(503, null, false, -32603);
            case CLIENT_CLOSED_REQUEST -> new Shape(499, null, false, null);
            case INTERNAL -> new Shape(500, null, false, -32603);
        };
    }

    /** The HTTP status a failure is answered with. */
    public static int status(Reason reason) {
        return shape(reason).status();
    }

    /** The JSON-RPC error a failure answers a request with, or null when it has none (no id, or no body). */
    public byte[] jsonRpcError(GatewayFailure failure) {
        Shape shape = shape(failure.reason());
        if (shape.jsonRpcCode() == null || failure.jsonRpcId() == null || failure.reason() == Reason.BATCH_DENIED) {
            return null;
        }
        return errorBody(failure.jsonRpcId(), shape.jsonRpcCode(), failure.description(), data(failure));
    }

    /**
     * The whole response for {@code failure} (head and body, written at once); {@code route} is null when
     * no route matched; {@code extra} are headers every answer on the route carries (CORS).
     */
    public FullHttpResponse render(Route route, GatewayFailure failure, HttpHeaders extra) {
        Shape shape = shape(failure.reason());
        byte[] body = failure.reason() == Reason.APPROVAL_INPUT_REQUIRED ? resultBody(failure)
                : shape.jsonRpcCode() == null ? null : failure.reason() == Reason.BATCH_DENIED ? batchBody(failure)
                : errorBody(failure.jsonRpcId(), shape.jsonRpcCode(), failure.description(), data(failure));
        FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.valueOf(shape.status()),
                body == null ? Unpooled.EMPTY_BUFFER : Unpooled.wrappedBuffer(body));
        HttpHeaders headers = response.headers();
        if (extra != null && !extra.isEmpty()) {
            headers.add(extra);
        }
        headers.set("Cache-Control", "no-store");
        if (shape.challenge() && route != null) {
            if (route.dpop().accepted()) {
                dpopChallenges(headers, route, shape.challengeError(), failure);
            } else {
                headers.set("WWW-Authenticate", challenge(route, shape.challengeError(), failure));
            }
        }
        if (failure.reason() == Reason.METHOD_NOT_ALLOWED) {
            headers.set("Allow", "GET, POST, DELETE, OPTIONS");
        }
        if (failure.reason() == Reason.KEYS_UNAVAILABLE || failure.reason() == Reason.INTROSPECTION_UNAVAILABLE
                || failure.reason() == Reason.EXCHANGE_UNAVAILABLE || failure.reason() == Reason.REPLAY_CHECK_UNAVAILABLE
                || failure.reason() == Reason.APPROVALS_UNAVAILABLE) {
            headers.set("Retry-After", "5");
        }
        if (failure.reason() == Reason.RATE_LIMITED || failure.reason() == Reason.LIMITS_UNAVAILABLE) {
            // Issue 18: whole seconds (RFC 9110 delay-seconds), from the limiter's hint.
            Object after = failure.data().get("retryAfter");
            headers.set("Retry-After", after instanceof Number n ? Long.toString(Math.max(1, n.longValue())) : "1");
        }
        if (body != null) {
            headers.set("Content-Type", "application/json");
        }
        headers.setInt("Content-Length", body == null ? 0 : body.length);
        return response;
    }

    /** The {@code WWW-Authenticate} value: a single Bearer challenge on one line. */
    static String challenge(Route route, String error, GatewayFailure failure) {
        List<String> params = new ArrayList<>();
        if (error != null) {
            params.add("error=\"" + error + "\"");
            params.add("error_description=\"" + safeDescription(failure.description()) + "\"");
        }
        String scope = scopeValue(error == null ? route.config().scopes()
                : error.equals("insufficient_scope") ? failure.scopes() : List.of());
        if (!scope.isEmpty()) {
            params.add("scope=\"" + scope + "\"");
        }
        String metadata = route.metadataUrl();
        if (isUriReference(metadata)) {
            params.add("resource_metadata=\"" + metadata + "\"");
        }
        return "Bearer " + String.join(", ", params);
    }

    /**
     * Where DPoP is accepted (RFC 9449 §7.1, §7.2): a {@code Bearer} challenge (when bearer tokens are still accepted
     * here) and a {@code DPoP} one with {@code algs}, each its own header field. The error goes on the challenge of
     * the scheme the client used: DPoP's for a DPoP failure, or for any when {@code Bearer} is not offered; both
     * carry it for an ambiguous presentation (Figure 19). A route that demands a nonce sends a fresh one with every
     * challenge ({@code DPoP-Nonce}, §8.2: saves the client a round trip).
     */
    private void dpopChallenges(HttpHeaders headers, Route route, String error, GatewayFailure failure) {
        var dpop = route.dpop();
        Reason reason = failure.reason();
        boolean dpopScheme = reason == Reason.INVALID_DPOP_PROOF || reason == Reason.INVALID_DPOP_TOKEN
                || reason == Reason.DPOP_NONCE_REQUIRED || !dpop.bearerAllowed();
        boolean both = reason == Reason.INVALID_CREDENTIALS_REQUEST;
        if (dpop.bearerAllowed()) {
            headers.add("WWW-Authenticate", challenge(route, dpopScheme && !both ? null : error, failure));
        }
        headers.add("WWW-Authenticate", dpopChallenge(route, dpopScheme || both ? error : null, failure));
        if (dpop.nonce() && dpopNonce != null) {
            headers.set("DPoP-Nonce", dpopNonce.apply(route));
        }
    }

    /** {@code DPoP [error, error_description,] algs, [scope,] resource_metadata} on one line. */
    static String dpopChallenge(Route route, String error, GatewayFailure failure) {
        List<String> params = new ArrayList<>();
        if (error != null) {
            params.add("error=\"" + error + "\"");
            params.add("error_description=\"" + safeDescription(failure.description()) + "\"");
        }
        String algs = route.dpop().algsValue();
        if (isScopeValue(algs)) {
            params.add("algs=\"" + algs + "\"");
        }
        // Scopes ride on the DPoP challenge only where no Bearer challenge carries them.
        if (!route.dpop().bearerAllowed() || "insufficient_scope".equals(error)) {
            String scope = scopeValue(error == null ? route.config().scopes()
                    : error.equals("insufficient_scope") ? failure.scopes() : List.of());
            if (!scope.isEmpty()) {
                params.add("scope=\"" + scope + "\"");
            }
        }
        String metadata = route.metadataUrl();
        if (isUriReference(metadata)) {
            params.add("resource_metadata=\"" + metadata + "\"");
        }
        return params.isEmpty() ? "DPoP" : "DPoP " + String.join(", ", params);
    }

    /** Space-separated tokens of visible ASCII without {@code "} or {@code \}: safe inside a quoted parameter. */
    private static boolean isScopeValue(String value) {
        if (value.isEmpty()) {
            return false;
        }
        for (String token : value.split(" ", -1)) {
            if (!isScopeToken(token)) {
                return false;
            }
        }
        return true;
    }

    /**
     * The {@code scope} of a challenge: the scope-tokens among {@code scopes}, space-separated (RFC 6750 §3,
     * RFC 6749 §3.3). A granted scope copied from a token can hold anything; one that is not a scope-token
     * ({@code "}, {@code \}, a space, CR/LF, a control or non-ASCII character) is dropped, never echoed: it
     * could end the quoted value and add parameters, or break the header (issue 12).
     */
    static String scopeValue(java.util.Collection<String> scopes) {
        StringBuilder out = new StringBuilder();
        for (String scope : scopes) {
            if (isScopeToken(scope)) {
                out.append(out.length() == 0 ? "" : " ").append(scope);
            }
        }
        return out.toString();
    }

    /** RFC 6749 §3.3 {@code scope-token = 1*( %x21 / %x23-5B / %x5D-7E )}. */
    static boolean isScopeToken(String scope) {
        if (scope == null || scope.isEmpty()) {
            return false;
        }
        for (int i = 0; i < scope.length(); i++) {
            char c = scope.charAt(i);
            if (c < 0x21 || c > 0x7E || c == '"' || c == '\\') {
                return false;
            }
        }
        return true;
    }

    /**
     * The metadata URL comes from configuration and is built by {@code java.net.URI}; checked here anyway,
     * as every value written into a quoted challenge parameter is: visible ASCII without {@code "} or {@code \}.
     */
    static boolean isUriReference(String url) {
        return isScopeToken(url);
    }

    /** CHALLENGE-06: printable ASCII without quote or backslash (anything else becomes a space). */
    static String safeDescription(String text) {
        StringBuilder out = new StringBuilder(text.length());
        for (char c : text.toCharArray()) {
            out.append(c >= 0x20 && c <= 0x7E && c != '"' && c != '\\' ? c : ' ');
        }
        return out.toString();
    }

    /** An array with one JSON-RPC error per request element of a refused batch. */
    private byte[] batchBody(GatewayFailure batch) {
        var array = json.createArrayNode();
        for (GatewayFailure element : batch.elements()) {
            array.add(errorNode(element.jsonRpcId(), shape(element.reason()).jsonRpcCode(), element.description(), data(element)));
        }
        try {
            return json.writeValueAsBytes(array);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** {@code data} of a policy denial: the deciding rule (JSONRPC-08b) and, for a step-up answered as an error, the scopes. */
    private ObjectNode data(GatewayFailure failure) {
        if (!failure.data().isEmpty()) {
            return json.valueToTree(failure.data());
        }
        if (failure.reason() != Reason.POLICY_DENIED || failure.decision() == null) {
            return null;
        }
        ObjectNode data = json.createObjectNode();
        data.put("rule", failure.decision().ruleId());
        if (!failure.scopes().isEmpty()) {
            var scopes = data.putArray("scope");
            failure.scopes().forEach(scopes::add);
        }
        return data;
    }

    /** Issue 17: a held call's {@code input_required} result (2026-07-28): the failure's data is the result. */
    private byte[] resultBody(GatewayFailure failure) {
        ObjectNode body = json.createObjectNode();
        body.put("jsonrpc", "2.0");
        if (failure.jsonRpcId() != null) {
            body.set("id", failure.jsonRpcId());
        }
        body.set("result", json.valueToTree(failure.data()));
        try {
            return json.writeValueAsBytes(body);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    byte[] errorBody(JsonNode id, int code, String message) {
        return errorBody(id, code, message, null);
    }

    /** A JSON-RPC error; the id is omitted when unknown (JSONRPC-03). */
    byte[] errorBody(JsonNode id, int code, String message, ObjectNode data) {
        try {
            return json.writeValueAsBytes(errorNode(id, code, message, data));
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    private ObjectNode errorNode(JsonNode id, int code, String message, ObjectNode data) {
        ObjectNode body = json.createObjectNode();
        body.put("jsonrpc", "2.0");
        if (id != null) {
            body.set("id", id);
        }
        ObjectNode error = body.putObject("error");
        error.put("code", code);
        error.put("message", message);
        if (data != null) {
            error.set("data", data);
        }
        return body;
    }
}
