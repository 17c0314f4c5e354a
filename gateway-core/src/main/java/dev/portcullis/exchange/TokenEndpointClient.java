package dev.portcullis.exchange;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.portcullis.failure.GatewayFailure;
import dev.portcullis.failure.Reason;
import dev.portcullis.http.BoundedBody;
import dev.portcullis.http.OutboundHttp;
import java.io.IOException;
import java.net.URI;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Mono;

/**
 * Sends token requests to one token endpoint and turns every answer into an {@link IssuedToken}
 * or a {@link GatewayFailure} (EXCHANGE-04/05). Fails closed: anything not clearly a valid token
 * response is a failure. IdP error bodies never reach the client; operators see the error code
 * and a redacted {@code error_description} in the log. Form bodies and tokens are never logged.
 *
 * <table>
 *   <caption>How answers map</caption>
 *   <tr><th>token endpoint</th><th>client sees</th></tr>
 *   <tr><td>connect failure, timeout, 5xx, 429</td><td>503 + Retry-After ({@link Reason#EXCHANGE_UNAVAILABLE})</td></tr>
 *   <tr><td>{@code invalid_request}, {@code invalid_grant}, {@code interaction_required} for a caller's token</td><td>401 invalid_token ({@link Reason#EXCHANGE_SUBJECT_REJECTED})</td></tr>
 *   <tr><td>{@code invalid_target}, {@code invalid_scope}, {@code unauthorized_client} for a caller's token</td><td>200 + -31403 ({@link Reason#EXCHANGE_DENIED})</td></tr>
 *   <tr><td>{@code invalid_client}; any error for the gateway's own token</td><td>502, ERROR log ({@link Reason#EXCHANGE_CLIENT_REJECTED})</td></tr>
 *   <tr><td>200 that is not a valid token response; other errors</td><td>502 ({@link Reason#EXCHANGE_INVALID_RESPONSE})</td></tr>
 * </table>
 */
public final class TokenEndpointClient {
    private static final Logger log = LoggerFactory.getLogger(TokenEndpointClient.class);
    /** Used when a token response has no {@code expires_in} (EXCHANGE-04): short, so a guess costs little. */
    static final Duration DEFAULT_LIFETIME = Duration.ofSeconds(60);
    /** RFC 6750 §2.1 b64token: what may follow "Bearer " in a header. */
    private static final Pattern B64TOKEN = Pattern.compile("[A-Za-z0-9\\-._~+/]+=*");
    /** Long runs of token-like characters in an error description are cut out before logging. */
    private static final Pattern TOKEN_LIKE = Pattern.compile("[A-Za-z0-9_\\-.+/=]{40,}");

    /** Where token requests go and how the gateway authenticates there: configured, or discovered once. */
    record Target(URI endpoint, ClientAuthentication clientAuth) {}

    private final String clientId;
    private final java.util.function.Supplier<Mono<Target>> discovery;
    private final OutboundHttp http;
    private final ObjectMapper json;
    private final Duration timeout;
    private final Clock clock;
    private volatile Target target;

    public TokenEndpointClient(URI endpoint, ClientAuthentication clientAuth, OutboundHttp http, ObjectMapper json,
                               Duration timeout, Clock clock) {
        this(clientAuth.clientId(), new Target(endpoint, clientAuth), null, http, json, timeout, clock);
    }

    private TokenEndpointClient(String clientId, Target target, java.util.function.Supplier<Mono<Target>> discovery,
                                OutboundHttp http, ObjectMapper json, Duration timeout, Clock clock) {
        this.clientId = clientId;
        this.target = target;
        this.discovery = discovery;
        this.http = http;
        this.json = json;
        this.timeout = timeout;
        this.clock = clock;
    }

    /**
     * A client whose token endpoint, and client authentication method when not configured, come from the
     * issuer's discovered metadata ({@code token_endpoint}, {@code token_endpoint_auth_methods_supported}).
     * Discovery runs on the first request, without blocking; once it succeeds its answer is kept. While it
     * fails, requests fail closed with 503 (the metadata is unreachable) or 502 (it names no usable endpoint).
     */
    public static TokenEndpointClient discovered(String issuer,
                                                 java.util.function.Supplier<Mono<dev.portcullis.authn.IssuerMetadata>> metadata,
                                                 dev.portcullis.config.UpstreamAuthConfig config, OutboundHttp http,
                                                 ObjectMapper json, Clock clock) {
        java.util.function.Supplier<Mono<Target>> discovery = () -> metadata.get()
                .onErrorMap(e -> {
                    log.warn("issuer {}: token endpoint not discovered: {}", issuer, e.toString());
                    return GatewayFailure.of(Reason.EXCHANGE_UNAVAILABLE, "Upstream authorization is temporarily unavailable",
                            "issuer metadata unavailable: " + e.getClass().getSimpleName());
                })
                .map(doc -> {
                    if (doc.tokenEndpoint() == null) {
                        log.error("issuer {}: its metadata names no usable token_endpoint (https, no user info); set "
                                + "upstream-auth.token-endpoint", issuer);
                        throw GatewayFailure.of(Reason.EXCHANGE_INVALID_RESPONSE, "Upstream authorization failed",
                                "issuer metadata has no usable token_endpoint");
                    }
                    dev.portcullis.config.UpstreamAuthConfig.ClientAuth method = config.clientAuthFor(doc.tokenEndpointAuthMethods());
                    if (method == null) {
                        log.error("issuer {}: token_endpoint_auth_methods_supported {} lists neither client_secret_basic nor "
                                + "client_secret_post; set upstream-auth.client-auth (or use private_key_jwt)", issuer,
                                doc.tokenEndpointAuthMethods());
                        throw GatewayFailure.of(Reason.EXCHANGE_CLIENT_REJECTED, "Upstream authorization failed",
                                "no supported client authentication method");
                    }
                    if (!doc.tokenEndpointAuthMethods().contains(method.name().toLowerCase(java.util.Locale.ROOT))) {
                        log.warn("issuer {}: client-auth {} is not in its token_endpoint_auth_methods_supported {}", issuer,
                                method.name().toLowerCase(java.util.Locale.ROOT), doc.tokenEndpointAuthMethods());
                    }
                    log.info("issuer {}: token endpoint {} (discovered), client authentication {}", issuer, doc.tokenEndpoint(),
                            method.name().toLowerCase(java.util.Locale.ROOT));
                    return new Target(doc.tokenEndpoint(), ClientAuthentication.from(config, method, clock));
                });
        return new TokenEndpointClient(config.clientId(), null, discovery, http, json, config.timeout(), clock);
    }

    public String clientId() {
        return clientId;
    }

    /** The endpoint for log lines: configured or discovered, or a placeholder before discovery. */
    private Object endpoint() {
        Target current = target;
        return current == null ? "(not yet discovered)" : current.endpoint();
    }

    private Mono<Target> target() {
        Target current = target;
        if (current != null) {
            return Mono.just(current);
        }
        return Mono.defer(discovery).doOnNext(found -> target = found);
    }

    /** POSTs the grant with client authentication; never logs the form. */
    Mono<IssuedToken> request(GrantRequest grant) {
        return target().flatMap(to -> Mono.defer(() -> {
            Map<String, String> form = new LinkedHashMap<>(grant.params());
            Map<String, String> headers = new LinkedHashMap<>();
            to.clientAuth().apply(form, headers, to.endpoint().toString());
            String body = form.entrySet().stream()
                    .map(e -> ClientAuthentication.formEncode(e.getKey()) + "=" + ClientAuthentication.formEncode(e.getValue()))
                    .collect(Collectors.joining("&"));
            return http.postForm(to.endpoint(), body, headers, timeout).onErrorMap(this::transportFailure);
        })).flatMap(response -> Mono.fromCallable(() -> read(grant, response)));
    }

    private GatewayFailure transportFailure(Throwable e) {
        if (e instanceof BoundedBody.TooLarge) {
            return invalidResponse("token endpoint answer larger than " + OutboundHttp.MAX_RESPONSE_BYTES + " bytes");
        }
        String what = e instanceof java.util.concurrent.TimeoutException ? "no answer within " + timeout.toMillis() + "ms"
                : e.getClass().getSimpleName();
        log.warn("token endpoint {} unavailable: {}", endpoint(), what);
        return GatewayFailure.of(Reason.EXCHANGE_UNAVAILABLE, "Upstream authorization is temporarily unavailable",
                "token endpoint unavailable: " + what);
    }

    private IssuedToken read(GrantRequest grant, OutboundHttp.Response response) {
        int status = response.status();
        if (status >= 500 || status == 429) {
            log.warn("token endpoint {} answered {} ({})", endpoint(), status, grant.name());
            throw GatewayFailure.of(Reason.EXCHANGE_UNAVAILABLE, "Upstream authorization is temporarily unavailable",
                    "token endpoint answered " + status);
        }
        JsonNode body = parse(response.body());
        if (status != 200) {
            throw error(grant, status, body);
        }
        if (body == null || !body.isObject()) {
            throw invalidResponse("token endpoint answer is not a JSON object");
        }
        String accessToken = text(body, "access_token");
        if (accessToken == null || !B64TOKEN.matcher(accessToken).matches()) {
            throw invalidResponse("token response without a usable access_token");
        }
        String tokenType = text(body, "token_type");
        if (tokenType == null || !tokenType.equalsIgnoreCase(grant.tokenType())) {
            throw invalidResponse("token response token_type is " + (tokenType == null ? "missing" : "\"" + safe(tokenType) + "\"")
                    + " (expected: " + grant.tokenType() + ")");
        }
        String issuedType = text(body, "issued_token_type");
        if (grant.requiresIssuedTokenType() && !grant.issuedTokenType().equals(issuedType)) {
            throw invalidResponse("token response issued_token_type is " + (issuedType == null ? "missing" : "\"" + safe(issuedType) + "\"")
                    + " (expected: " + grant.issuedTokenType() + ")");
        }
        Duration lifetime = lifetime(body.get("expires_in"));
        String scope = text(body, "scope");
        return new IssuedToken(accessToken, clock.instant().plus(lifetime), scope == null ? "" : scope);
    }

    /** {@code expires_in} as a positive number (some IdPs send it as a string); absent → the default. */
    private Duration lifetime(JsonNode expiresIn) {
        if (expiresIn == null || expiresIn.isNull()) {
            return DEFAULT_LIFETIME;
        }
        long seconds;
        if (expiresIn.isIntegralNumber()) {
            seconds = expiresIn.asLong();
        } else if (expiresIn.isTextual() && expiresIn.asText().matches("\\d{1,10}")) {
            seconds = Long.parseLong(expiresIn.asText());
        } else {
            throw invalidResponse("token response expires_in is not a number of seconds");
        }
        if (seconds <= 0) {
            throw invalidResponse("token response expires_in is not positive");
        }
        return Duration.ofSeconds(seconds);
    }

    /** RFC 6749 §5.2 error answers, mapped per EXCHANGE-05. */
    private GatewayFailure error(GrantRequest grant, int status, JsonNode body) {
        String code = body != null && body.isObject() ? text(body, "error") : null;
        String description = body != null && body.isObject() ? text(body, "error_description") : null;
        String detail = "token endpoint answered " + status + " " + (code == null ? "without an error code" : safe(code))
                + (description == null ? "" : ": " + redact(description));
        if (code == null) {
            code = status == 401 ? "invalid_client" : "";
        }
        if (code.equals("invalid_client") || !grant.onBehalfOfSubject()) {
            log.error("token endpoint {} refused the gateway's client \"{}\" ({}): {}. Check client-id, the client "
                    + "secret or key, and the client's grants at the IdP", endpoint(), clientId, grant.name(), detail);
            return GatewayFailure.of(Reason.EXCHANGE_CLIENT_REJECTED, "Upstream authorization failed", detail);
        }
        return switch (code) {
            // interaction_required: Entra on-behalf-of when Conditional Access (MFA...) applies to the upstream
            // (AADSTS50076/50079 with a claims challenge): the caller must sign in again, like a rejected token.
            case "invalid_request", "invalid_grant", "interaction_required" -> {
                log.info("token endpoint {} refused the caller's token ({}): {}", endpoint(), grant.name(), detail);
                yield GatewayFailure.of(Reason.EXCHANGE_SUBJECT_REJECTED, "The access token is not accepted for the upstream", detail);
            }
            case "invalid_target", "invalid_scope", "unauthorized_client" -> {
                log.info("token endpoint {} will not issue the upstream token ({}): {}", endpoint(), grant.name(), detail);
                yield GatewayFailure.of(Reason.EXCHANGE_DENIED, "Denied by gateway policy", detail);
            }
            default -> {
                log.warn("token endpoint {} answered an unexpected error ({}): {}", endpoint(), grant.name(), detail);
                yield invalidResponse(detail);
            }
        };
    }

    private GatewayFailure invalidResponse(String detail) {
        log.warn("token endpoint {}: {}", endpoint(), detail);
        return GatewayFailure.of(Reason.EXCHANGE_INVALID_RESPONSE, "Upstream authorization failed", detail);
    }

    private JsonNode parse(byte[] body) {
        try {
            return body.length == 0 ? null : json.readTree(body);
        } catch (IOException e) {
            return null;
        }
    }

    private static String text(JsonNode body, String field) {
        JsonNode value = body.get(field);
        return value != null && value.isTextual() ? value.asText() : null;
    }

    /** An IdP's free text for the log: printable ASCII, token-like runs cut out, at most 200 characters. */
    static String redact(String text) {
        String cleaned = TOKEN_LIKE.matcher(safe(text)).replaceAll("<redacted>");
        return cleaned.length() > 200 ? cleaned.substring(0, 200) + "..." : cleaned;
    }

    private static String safe(String text) {
        StringBuilder out = new StringBuilder(Math.min(text.length(), 400));
        for (int i = 0; i < text.length() && i < 400; i++) {
            char c = text.charAt(i);
            out.append(c >= 0x20 && c <= 0x7E ? c : ' ');
        }
        return out.toString();
    }
}
