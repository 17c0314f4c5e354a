package dev.portcullis.authn;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.benmanes.caffeine.cache.AsyncCache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Expiry;
import com.github.benmanes.caffeine.cache.Ticker;
import com.nimbusds.jwt.JWTClaimsSet;
import dev.portcullis.Step;
import dev.portcullis.config.IntrospectionConfig;
import dev.portcullis.config.IssuerConfig;
import dev.portcullis.failure.GatewayFailure;
import dev.portcullis.failure.Reason;
import dev.portcullis.http.BoundedBody;
import dev.portcullis.http.OutboundHttp;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.Date;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Mono;

/**
 * One issuer's token introspection (RFC 7662; issue 16, docs/introspection.md): asks the issuer's introspection
 * endpoint whether a token is active and what it carries, and keeps the answers in a Caffeine async cache keyed by
 * the token's SHA-256.
 *
 * <ul>
 *   <li>Single-flight: concurrent requests with one token share one introspection call (the cache holds the call
 *       in flight).</li>
 *   <li>An {@code active: true} answer is reused until the token's {@code exp}, and at most {@code cache-max}; an
 *       {@code active: false} answer for {@code negative-cache}. A failed call is not kept: the next request asks
 *       again.</li>
 *   <li>The claims of an answer are judged by {@link TokenVerifier} on every request, cached or not, exactly as a
 *       JWT's are ({@code iss}, {@code aud}, {@code exp}, {@code nbf}): a lying endpoint's {@code active: true} for
 *       another audience, or for an expired token, is refused.</li>
 *   <li>The endpoint is configured or discovered ({@code introspection_endpoint}); the gateway authenticates there as
 *       at a token endpoint ({@link ClientCredentials}); the call goes through the SSRF-hardened outbound client
 *       (SECURITY-03). Neither the token nor the form nor the answer is logged (SECURITY-05).</li>
 *   <li>An endpoint that cannot judge the token (unreachable, too slow, refusing the gateway's client, an answer
 *       that is not an introspection response) fails the request with 503
 *       {@link Reason#INTROSPECTION_UNAVAILABLE}, as unavailable signing keys do.</li>
 * </ul>
 */
public final class Introspection {
    private static final Logger log = LoggerFactory.getLogger(Introspection.class);

    /** Sends a form POST: {@link OutboundHttp#postForm} in the gateway; a fake in unit tests. */
    @FunctionalInterface
    public interface Poster {
        Mono<OutboundHttp.Response> post(URI uri, String form, Map<String, String> headers, Duration timeout);
    }

    /**
     * Adds the gateway's client authentication to the request (the token endpoint's: {@code client_secret_basic},
     * {@code client_secret_post} or {@code private_key_jwt}, whose assertion is addressed to {@code endpoint}).
     */
    @FunctionalInterface
    public interface ClientCredentials {
        void apply(Map<String, String> form, Map<String, String> headers, String endpoint);
    }

    /**
     * One answer: inactive, or active with its claims ({@code iss} filled in with the issuer's when absent).
     * {@code unreadable}: active, but with a claim of the wrong type (refused per request as {@code claim_type}).
     */
    static final class Answer {
        static final Answer INACTIVE = new Answer(false, null, false);
        static final Answer UNREADABLE = new Answer(true, null, true);

        final boolean active;
        final JWTClaimsSet claims;
        final boolean unreadable;
        final Confirmation confirmation;
        volatile Principal principal;

        Answer(boolean active, JWTClaimsSet claims, boolean unreadable) {
            this.active = active;
            this.claims = claims;
            this.unreadable = unreadable;
            this.confirmation = claims == null ? Confirmation.NONE : Confirmation.of(claims);
        }
    }

    private final IssuerConfig issuer;
    private final IntrospectionConfig config;
    private final Supplier<Mono<IssuerMetadata>> metadata;
    private final Poster http;
    private final ClientCredentials client;
    private final ObjectMapper json;
    private final Clock clock;
    private final MeterRegistry metrics;
    private final AsyncCache<String, Answer> answers;
    private volatile URI endpoint;

    /**
     * @param metadata   the issuer's discovered metadata, asked only when {@code introspection.endpoint} is not configured
     * @param maxEntries answers kept at most (active and inactive together)
     * @param metrics    receives {@code portcullis_introspection_requests_total{issuer,outcome}}
     */
    public Introspection(IssuerConfig issuer, Supplier<Mono<IssuerMetadata>> metadata, Poster http,
                         ClientCredentials client, ObjectMapper json, Clock clock, Ticker ticker, long maxEntries,
                         MeterRegistry metrics) {
        this.issuer = issuer;
        this.config = java.util.Objects.requireNonNull(issuer.introspection(), "introspection");
        this.metadata = metadata;
        this.http = http;
        this.client = client;
        this.json = json;
        this.clock = clock;
        this.metrics = metrics == null ? new SimpleMeterRegistry() : metrics;
        this.endpoint = config.endpoint() == null ? null : URI.create(config.endpoint());
        this.answers = Caffeine.newBuilder()
                .ticker(ticker)
                .maximumSize(maxEntries)
                .expireAfter(Expiry.<String, Answer>creating((key, answer) -> keep(answer)))
                .buildAsync();
    }

    public IssuerConfig issuer() {
        return issuer;
    }

    public IntrospectionConfig config() {
        return config;
    }

    /**
     * The answer for {@code token}: at once when a finished answer is cached, else the introspection call (shared with
     * every concurrent request for the same token). Fails with {@link Reason#INTROSPECTION_UNAVAILABLE}.
     */
    Step<Answer> answer(BearerToken token) {
        CompletableFuture<Answer> cached = answers.getIfPresent(token.sha256());
        if (cached != null && cached.isDone() && !cached.isCompletedExceptionally()) {
            return Step.now(cached.getNow(null));
        }
        return Step.later(answers.get(token.sha256(), (key, executor) -> introspect(token).toFuture()));
    }

    /** How long an answer is kept: active until {@code exp} (at most cache-max), inactive for negative-cache. */
    private Duration keep(Answer answer) {
        if (!answer.active || answer.claims == null) {
            return config.negativeCache();
        }
        Date exp = answer.claims.getExpirationTime();
        if (exp == null) {
            return Duration.ZERO;
        }
        Duration left = Duration.between(clock.instant(), exp.toInstant());
        if (left.isNegative()) {
            return Duration.ZERO;
        }
        return left.compareTo(config.cacheMax()) < 0 ? left : config.cacheMax();
    }

    private Mono<URI> target() {
        URI known = endpoint;
        if (known != null) {
            return Mono.just(known);
        }
        return Mono.defer(metadata)
                .onErrorMap(e -> !(e instanceof GatewayFailure), e -> {
                    log.warn("issuer {}: introspection endpoint not discovered: {}", issuer.issuer(), e.toString());
                    return unavailable("issuer metadata unavailable: " + e.getClass().getSimpleName());
                })
                .map(doc -> {
                    if (doc.introspectionEndpoint() == null) {
                        log.error("issuer {}: its metadata names no usable introspection_endpoint (https, no user info); "
                                + "set issuers[].introspection.endpoint", issuer.issuer());
                        throw unavailable("issuer metadata has no usable introspection_endpoint");
                    }
                    log.info("issuer {}: introspection endpoint {} (discovered)", issuer.issuer(), doc.introspectionEndpoint());
                    endpoint = doc.introspectionEndpoint();
                    return doc.introspectionEndpoint();
                });
    }

    private Mono<Answer> introspect(BearerToken token) {
        return target().flatMap(uri -> Mono.defer(() -> {
            Map<String, String> form = new LinkedHashMap<>();
            form.put("token", token.value());
            form.put("token_type_hint", "access_token");
            Map<String, String> headers = new LinkedHashMap<>();
            client.apply(form, headers, uri.toString());
            String body = form.entrySet().stream()
                    .map(e -> encode(e.getKey()) + "=" + encode(e.getValue()))
                    .collect(Collectors.joining("&"));
            return http.post(uri, body, headers, config.timeout())
                    .onErrorMap(e -> !(e instanceof GatewayFailure), e -> transportFailure(uri, e))
                    .map(response -> read(uri, response));
        })).doOnNext(answer -> counted(answer.active ? "active" : "inactive"))
                .doOnError(e -> counted("failure"));
    }

    private GatewayFailure transportFailure(URI uri, Throwable e) {
        String what = e instanceof java.util.concurrent.TimeoutException ? "no answer within " + config.timeout().toMillis() + "ms"
                : e instanceof BoundedBody.TooLarge ? "answer larger than " + OutboundHttp.MAX_RESPONSE_BYTES + " bytes"
                : e.getClass().getSimpleName();
        log.warn("issuer {}: introspection endpoint {} unavailable: {}", issuer.issuer(), uri, what);
        return unavailable("introspection endpoint unavailable: " + what);
    }

    /** An answer that is a 200 JSON object with a boolean {@code active} (RFC 7662 §2.2); anything else: 503. */
    private Answer read(URI uri, OutboundHttp.Response response) {
        int status = response.status();
        if (status != 200) {
            if (status == 401 || status == 403) {
                log.error("issuer {}: introspection endpoint {} refused the gateway's client \"{}\" ({}). Check "
                        + "introspection.client-id, its secret or key, and the client at the IdP", issuer.issuer(), uri,
                        config.clientId(), status);
            } else {
                log.warn("issuer {}: introspection endpoint {} answered {}", issuer.issuer(), uri, status);
            }
            throw unavailable("introspection endpoint answered " + status);
        }
        JsonNode doc;
        try {
            doc = response.body().length == 0 ? null : json.readTree(response.body());
        } catch (IOException e) {
            doc = null;
        }
        if (doc == null || !doc.isObject()) {
            log.warn("issuer {}: introspection endpoint {} answered 200 without a JSON object", issuer.issuer(), uri);
            throw unavailable("introspection answer is not a JSON object");
        }
        JsonNode active = doc.get("active");
        if (active == null || !active.isBoolean()) {
            log.warn("issuer {}: introspection endpoint {} answered without a boolean \"active\" (RFC 7662 §2.2)",
                    issuer.issuer(), uri);
            throw unavailable("introspection answer has no boolean active");
        }
        if (!active.booleanValue()) {
            return Answer.INACTIVE;
        }
        JWTClaimsSet claims;
        try {
            claims = ClaimsMapping.parseClaims(new String(response.body(), StandardCharsets.UTF_8));
        } catch (IllegalArgumentException e) {
            return Answer.UNREADABLE;
        }
        if (claims.getIssuer() == null) {
            // RFC 7662: iss is optional; the endpoint speaks for its own issuer.
            claims = new JWTClaimsSet.Builder(claims).issuer(issuer.issuer()).build();
        }
        return new Answer(true, claims, false);
    }

    private GatewayFailure unavailable(String detail) {
        return GatewayFailure.of(Reason.INTROSPECTION_UNAVAILABLE, "The access token cannot be checked now",
                "issuer " + issuer.issuer() + ": " + detail).withCode("introspection_unavailable");
    }

    private void counted(String outcome) {
        Counter.builder("portcullis.introspection.requests").description("Token introspection requests by issuer and outcome")
                .tag("issuer", issuer.issuer()).tag("outcome", outcome).register(metrics).increment();
    }

    private static String encode(String value) {
        return URLEncoder.encode(value, StandardCharsets.UTF_8);
    }

    @Override
    public String toString() {
        return "Introspection[issuer=" + issuer.issuer() + ", endpoint=" + (endpoint == null ? "(discovered)" : endpoint)
                + ", tokens=" + config.tokens() + "]";
    }
}
