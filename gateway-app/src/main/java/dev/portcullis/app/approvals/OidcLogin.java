package dev.portcullis.app.approvals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import dev.portcullis.authn.JwsSignatures;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import dev.portcullis.approval.ApprovalRequest;
import dev.portcullis.authn.JwksCache;
import dev.portcullis.config.ApprovalsConfig;
import dev.portcullis.config.IssuerConfig;
import dev.portcullis.http.OutboundHttp;
import java.net.URI;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Date;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;
import reactor.core.publisher.Mono;

/**
 * Issue 17: OpenID Connect authorization code flow with PKCE (S256) against {@code approvals.issuer}. Discovery,
 * the token request and the keys go through the gateway's own outbound client and the issuer's key cache: nothing
 * blocks an event loop. The ID token is verified like an access token is (key from the issuer's JWKS by kid and
 * algorithm, only the issuer's configured algorithms) plus the OIDC checks: {@code aud} holds the client id,
 * {@code azp} is the client when present, {@code nonce} is the one this login sent. The code, the tokens and the
 * client secret are never logged.
 */
public final class OidcLogin implements ApproverLogin {
    private static final Duration TOKEN_TIMEOUT = Duration.ofSeconds(15);

    private final ApprovalsConfig config;
    private final java.util.function.Supplier<JwksCache> keysOf;
    private final java.util.function.Supplier<OutboundHttp> httpOf;
    private final ObjectMapper json;
    private final Clock clock;
    private final JwsSignatures signatures = new JwsSignatures();
    private final AtomicReference<Endpoints> endpoints = new AtomicReference<>();

    private record Endpoints(URI authorization, URI token) {}

    /**
     * @param keys the approvals issuer's key cache, and {@code http} the outbound client for token requests, of the
     *             config in force (a reload replaces both; they are looked up on each use)
     */
    public OidcLogin(ApprovalsConfig config, java.util.function.Supplier<JwksCache> keys,
                     java.util.function.Supplier<OutboundHttp> http, ObjectMapper json, Clock clock) {
        this.config = config;
        this.keysOf = keys;
        this.httpOf = http;
        this.json = json;
        this.clock = clock;
    }

    /** The provider's endpoints, from its discovery document (whose {@code issuer} must be the configured one). */
    private Mono<Endpoints> endpoints() {
        Endpoints known = endpoints.get();
        if (known != null) {
            return Mono.just(known);
        }
        String base = config.issuer().endsWith("/") ? config.issuer().substring(0, config.issuer().length() - 1) : config.issuer();
        return httpOf.get().get(URI.create(base + "/.well-known/openid-configuration")).map(bytes -> {
            try {
                JsonNode doc = json.readTree(bytes);
                if (!config.issuer().equals(doc.path("issuer").asText())) {
                    throw new IllegalStateException("the discovery document names another issuer");
                }
                Endpoints found = new Endpoints(endpoint(doc, "authorization_endpoint"), endpoint(doc, "token_endpoint"));
                endpoints.compareAndSet(null, found);
                return found;
            } catch (java.io.IOException e) {
                throw new IllegalStateException("the discovery document is not JSON");
            }
        });
    }

    private URI endpoint(JsonNode doc, String name) {
        URI uri = URI.create(doc.path(name).asText());
        String scheme = uri.getScheme() == null ? "" : uri.getScheme();
        boolean insecureOk = Boolean.TRUE.equals(keysOf.get().config().allowInsecureHttp()) || isLoopback(uri.getHost());
        if (!(scheme.equals("https") || (scheme.equals("http") && insecureOk)) || uri.getHost() == null) {
            throw new IllegalStateException(name + " is not an https URL");
        }
        return uri;
    }

    private static boolean isLoopback(String host) {
        return host != null && (host.equals("127.0.0.1") || host.equals("localhost") || host.equals("[::1]"));
    }

    @Override
    public CompletableFuture<URI> authorizationUrl(String state, String nonce, String codeChallenge) {
        return endpoints().map(e -> {
            Map<String, String> query = new LinkedHashMap<>();
            query.put("response_type", "code");
            query.put("client_id", config.clientId());
            query.put("redirect_uri", config.redirectUri());
            query.put("scope", "openid profile");
            query.put("state", state);
            query.put("nonce", nonce);
            query.put("code_challenge", codeChallenge);
            query.put("code_challenge_method", "S256");
            String sep = e.authorization().getRawQuery() == null ? "?" : "&";
            return URI.create(e.authorization() + sep + form(query));
        }).toFuture();
    }

    @Override
    public CompletableFuture<Approver> redeem(String code, String codeVerifier, String nonce) {
        // The client secret is read from its file on each use (rotation): off the event loop.
        Mono<java.util.Optional<String>> secretOf = Mono.fromCallable(() -> java.util.Optional.ofNullable(config.clientSecret()))
                .subscribeOn(reactor.core.scheduler.Schedulers.boundedElastic());
        return endpoints().zipWith(secretOf).flatMap(pair -> {
            Endpoints e = pair.getT1();
            Map<String, String> form = new LinkedHashMap<>();
            form.put("grant_type", "authorization_code");
            form.put("code", code);
            form.put("redirect_uri", config.redirectUri());
            form.put("code_verifier", codeVerifier);
            Map<String, String> headers = new LinkedHashMap<>();
            String secret = pair.getT2().orElse(null);
            if (secret == null) {
                form.put("client_id", config.clientId());
            } else {
                // RFC 6749 §2.3.1: client_secret_basic, each part form-encoded first.
                String user = URLEncoder.encode(config.clientId(), StandardCharsets.UTF_8) + ":"
                        + URLEncoder.encode(secret, StandardCharsets.UTF_8);
                headers.put("Authorization", "Basic " + Base64.getEncoder().encodeToString(user.getBytes(StandardCharsets.UTF_8)));
            }
            headers.put("Accept", "application/json");
            return httpOf.get().postForm(e.token(), form(form), headers, TOKEN_TIMEOUT);
        }).flatMap(response -> {
            if (response.status() != 200) {
                return Mono.error(new IllegalStateException("the token endpoint answered " + response.status()));
            }
            String idToken;
            try {
                idToken = json.readTree(response.body()).path("id_token").asText("");
            } catch (java.io.IOException ex) {
                return Mono.error(new IllegalStateException("the token response is not JSON"));
            }
            if (idToken.isEmpty()) {
                return Mono.error(new IllegalStateException("the token response has no id_token"));
            }
            return verify(idToken, nonce);
        }).toFuture();
    }

    private Mono<Approver> verify(String idToken, String nonce) {
        SignedJWT jwt;
        try {
            jwt = SignedJWT.parse(idToken);
        } catch (java.text.ParseException e) {
            return Mono.error(new IllegalStateException("the id_token is not a signed JWT"));
        }
        JwksCache keys = keysOf.get();
        IssuerConfig issuer = keys.config();
        JWSHeader header = jwt.getHeader();
        JWSAlgorithm alg = header.getAlgorithm();
        if (alg == null || !issuer.algorithms().contains(alg.getName())) {
            return Mono.error(new IllegalStateException("the id_token's algorithm is not accepted for this issuer"));
        }
        return keys.keys().flatMap(set -> JwsSignatures.candidates(set, header).isEmpty() ? keys.refreshForUnknownKey() : Mono.just(set))
                .map(set -> {
                    List<JWK> candidates = JwsSignatures.candidates(set, header);
                    if (candidates.isEmpty() || !signatures.verifies(jwt, candidates.get(0))) {
                        throw new IllegalStateException("the id_token's signature does not verify");
                    }
                    JWTClaimsSet claims;
                    try {
                        // Read as strictly as an access token's claims (a member named twice at any depth refused), by
                        // the one reader of claims, from the payload decoded strictly.
                        claims = dev.portcullis.authn.ClaimsMapping.parseClaims(jwt.getPayload().toBase64URL());
                    } catch (IllegalArgumentException e) {
                        throw new IllegalStateException("the id_token's claims cannot be read");
                    }
                    return approver(claims, nonce, issuer);
                });
    }

    private Approver approver(JWTClaimsSet claims, String nonce, IssuerConfig issuer) {
        Instant now = clock.instant();
        Duration skew = issuer.clockSkew();
        if (!config.issuer().equals(claims.getIssuer())) {
            throw new IllegalStateException("the id_token names another issuer");
        }
        if (claims.getAudience() == null || !claims.getAudience().contains(config.clientId())) {
            throw new IllegalStateException("the id_token is not for this client");
        }
        Object azp = claims.getClaim("azp");
        if ((claims.getAudience().size() > 1 || azp != null) && !config.clientId().equals(azp)) {
            throw new IllegalStateException("the id_token's azp is not this client");
        }
        Date exp = claims.getExpirationTime();
        if (exp == null || !now.isBefore(exp.toInstant().plus(skew))) {
            throw new IllegalStateException("the id_token is expired");
        }
        Date iat = claims.getIssueTime();
        if (iat != null && now.plus(skew).isBefore(iat.toInstant())) {
            throw new IllegalStateException("the id_token is issued in the future");
        }
        Date nbf = claims.getNotBeforeTime();
        if (nbf != null && now.plus(skew).isBefore(nbf.toInstant())) {
            throw new IllegalStateException("the id_token is not yet valid");
        }
        if (!nonce.equals(claims.getClaim("nonce"))) {
            throw new IllegalStateException("the id_token's nonce is not this login's");
        }
        String subject = claims.getSubject();
        if (subject == null || subject.isEmpty()) {
            throw new IllegalStateException("the id_token has no sub");
        }
        String name = firstText(claims, "preferred_username", "name", "email");
        JsonNode all = json.valueToTree(claims.toJSONObject());
        return new Approver(new ApprovalRequest.Party(claims.getIssuer(), subject, "", name), all, exp.getTime());
    }

    private static String firstText(JWTClaimsSet claims, String... names) {
        for (String name : names) {
            if (claims.getClaim(name) instanceof String s && !s.isBlank()) {
                return s;
            }
        }
        return null;
    }

    static String form(Map<String, String> values) {
        return values.entrySet().stream()
                .map(e -> URLEncoder.encode(e.getKey(), StandardCharsets.UTF_8) + "=" + URLEncoder.encode(e.getValue(), StandardCharsets.UTF_8))
                .collect(Collectors.joining("&"));
    }
}
