package dev.portcullis.authn;

import dev.portcullis.Caches;
import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Expiry;
import com.github.benmanes.caffeine.cache.Ticker;
import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.util.Base64URL;
import com.nimbusds.jwt.JWTClaimsSet;
import dev.portcullis.config.IssuerConfig;
import dev.portcullis.failure.GatewayFailure;
import dev.portcullis.failure.Reason;
import java.text.ParseException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;
import java.util.stream.Collectors;
import reactor.core.publisher.Mono;

/**
 * Verifies JWT access tokens with Nimbus against the issuers' cached keys.
 *
 * <p>Answered now or later ({@link dev.portcullis.Step}): a cached token, and a never-seen token whose issuer's key
 * is already in the JWKS cache, are answered at once on the calling thread (parse, checks, signature: no future, no
 * operator chain). Only a JWKS miss waits: no key set loaded yet, or a {@code kid} the set lacks (a re-fetch, at most
 * once per {@code jwks-min-refresh-interval}: SECURITY-04).
 *
 * <p>A verified token is cached under its SHA-256 until it expires (bounded size) from its second sight on: its
 * first verification only remembers 64 bits of its hash in a fixed-size {@link Doorkeeper}, so one-shot tokens (a
 * token spray) do not fill the cache and get promoted by the garbage collector, and a reused token pays one more
 * signature check, then none (issue 13). The doorkeeper is consulted after the signature check, so it decides
 * caching, never acceptance. The claim checks that depend on the route or on time ({@code aud}, {@code exp},
 * {@code nbf}, {@code iat}) run on every request, so a cached token is still refused at the wrong endpoint (PRM-08)
 * or once it expires; a JWT of an issuer that introspects its JWTs is asked about on every request as well.
 *
 * <p>Order of checks: parse (JWS only: {@code alg: none} and JWE fail here) → issuer by exact
 * {@code iss} (AUTHN-06) → {@code alg} in the issuer's allow-list, {@code typ} (AUTHN-04, -09) →
 * key chosen from the issuer's JWKS by {@code kid}, key type and algorithm, never from the token
 * (AUTHN-05) → signature → claims.
 */
public final class TokenVerifier {
    private static final JOSEObjectType AT_JWT = new JOSEObjectType("at+jwt");
    private static final JOSEObjectType APPLICATION_AT_JWT = new JOSEObjectType("application/at+jwt");

    private final Map<String, JwksCache> issuers;
    /** Multi-tenant issuers ({@code {tenantid}} templates), tried when no issuer matches {@code iss} exactly. */
    private final List<JwksCache> templates;
    private final Clock clock;
    private final Cache<String, VerifiedToken> verified;
    private final JwsSignatures signatures = new JwsSignatures();
    /** Verified tokens seen once: a token is cached at its second sight (issue 13). */
    private final Doorkeeper doorkeeper;

    /**
     * A token whose signature was verified, kept per token hash. The time- and route-dependent checks
     * run on every request ({@link #toPrincipal}); the mapping of its claims to a {@link Principal}
     * does not change, so it is made once (a benign race: two threads may both make it).
     */
    static final class VerifiedToken {
        private final JwksCache issuer;
        private final JWTClaimsSet claims;
        /** {@code cnf}, read with the signature: a cached DPoP-bound token still needs a proof on every request. */
        private final Confirmation confirmation;
        private volatile Principal principal;

        VerifiedToken(JwksCache issuer, JWTClaimsSet claims) {
            this.issuer = issuer;
            this.claims = claims;
            this.confirmation = Confirmation.of(claims);
        }

        JwksCache issuer() {
            return issuer;
        }

        JWTClaimsSet claims() {
            return claims;
        }

        Principal principal(BearerToken token) {
            Principal mapped = principal;
            if (mapped == null) {
                mapped = ClaimsMapping.principal(issuer.config(), claims, token);
                principal = mapped;
            }
            return mapped;
        }
    }

    /** Introspection (RFC 7662) of the issuers that introspect their JWTs too ({@code tokens: all | jwt}), by issuer. */
    private final Map<String, Introspection> jwtIntrospection;
    /** The issuer that introspects opaque tokens ({@code tokens: opaque | all}); null: an opaque token is malformed. */
    private final Introspection opaqueIntrospection;

    public TokenVerifier(List<JwksCache> issuers, Clock clock, Ticker ticker, long maxCachedTokens) {
        this(issuers, List.of(), clock, ticker, maxCachedTokens);
    }

    /**
     * @param introspection the issuers' token introspection (issue 16): at most one of them introspects opaque tokens
     *                      (GatewayConfig makes sure)
     */
    public TokenVerifier(List<JwksCache> issuers, List<Introspection> introspection, Clock clock, Ticker ticker,
                         long maxCachedTokens) {
        this(issuers, introspection, clock, ticker, maxCachedTokens, Doorkeeper.DEFAULT_SLOTS);
    }

    /** @param doorkeeperSlots the doorkeeper's size, a power of two (tests make collisions with a small one) */
    TokenVerifier(List<JwksCache> issuers, List<Introspection> introspection, Clock clock, Ticker ticker,
                  long maxCachedTokens, int doorkeeperSlots) {
        this.doorkeeper = new Doorkeeper(doorkeeperSlots);
        this.jwtIntrospection = introspection.stream().filter(i -> i.config().parsedTokens().jwt())
                .collect(Collectors.toUnmodifiableMap(i -> i.issuer().issuer(), Function.identity()));
        List<Introspection> opaque = introspection.stream().filter(i -> i.config().parsedTokens().opaque()).toList();
        if (opaque.size() > 1) {
            throw new IllegalArgumentException("more than one issuer introspects opaque tokens");
        }
        this.opaqueIntrospection = opaque.isEmpty() ? null : opaque.get(0);
        this.issuers = issuers.stream().filter(i -> !i.config().isTemplate())
                .collect(Collectors.toUnmodifiableMap(i -> i.config().issuer(), Function.identity()));
        this.templates = issuers.stream().filter(i -> i.config().isTemplate()).toList();
        this.clock = clock;
        this.verified = Caches.onCallingThread()
                .ticker(ticker)
                .maximumSize(maxCachedTokens)
                .expireAfter(Expiry.<String, VerifiedToken>creating((key, token) -> untilExpiry(token.claims())))
                .build();
    }

    /**
     * Validates a token for a route whose resource identifiers are {@code audiences}.
     * Fails with {@link Reason#INVALID_TOKEN} or {@link Reason#KEYS_UNAVAILABLE}.
     */
    public Mono<Principal> verify(BearerToken token, Set<String> audiences) {
        return Mono.defer(() -> Mono.fromFuture(checkConfirmed(token, audiences).future(), true)).map(Checked::principal);
    }

    /**
     * A token that passed every check, with what the DPoP check (RFC 9449) needs besides its principal: its issuer's
     * config ({@code dpop} mode, the algorithms a proof may use) and its confirmation ({@code cnf}). Made per request:
     * the proof is checked on every request, cached token or not.
     */
    public record Checked(Principal principal, IssuerConfig issuer, Confirmation confirmation) {}

    /**
     * As {@link #check}, with the token's issuer and confirmation. A token that is not a JWS goes to the issuer that
     * introspects opaque tokens, if one does; a JWT of an issuer that introspects JWTs too must also be active there
     * (issue 16, RFC 7662).
     */
    public dev.portcullis.Step<Checked> checkConfirmed(BearerToken token, Set<String> audiences) {
        VerifiedToken cached = verified.getIfPresent(token.sha256());
        if (cached == null) {
            if (opaqueIntrospection != null && !isJws(token)) {
                return introspected(opaqueIntrospection, token, audiences);
            }
            dev.portcullis.Step<VerifiedToken> signed = verifySignature(token);
            if (signed.ready()) {
                // Issue 13: the issuer's key was in the JWKS cache, so the answer is known now: no future, no chain.
                Checked checked = admitted(signed.value(), token, audiences);
                return jwtIntrospection.isEmpty() ? dev.portcullis.Step.now(checked) : stillActive(checked, token, audiences);
            }
            CompletableFuture<Checked> checked = signed.future().thenApply(v -> admitted(v, token, audiences));
            return jwtIntrospection.isEmpty() ? dev.portcullis.Step.later(checked)
                    : dev.portcullis.Step.later(checked.thenCompose(c -> stillActive(c, token, audiences).future()));
        }
        Checked checked = new Checked(principalOf(cached, token, audiences), cached.issuer().config(), cached.confirmation);
        return jwtIntrospection.isEmpty() ? dev.portcullis.Step.now(checked) : stillActive(checked, token, audiences);
    }

    /**
     * A token whose signature was just checked: cached if the doorkeeper saw it before (its second sight), else only
     * remembered there; then the per-request checks. Never called for a token whose signature failed, so a forged
     * token is neither cached nor remembered.
     */
    private Checked admitted(VerifiedToken v, BearerToken token, Set<String> audiences) {
        if (doorkeeper.seenBefore(Doorkeeper.fingerprint(token.sha256()))) {
            verified.put(token.sha256(), v);
        }
        return new Checked(principalOf(v, token, audiences), v.issuer().config(), v.confirmation);
    }

    /** Whether {@code token}'s verification is cached (for tests; does not count as a read of the cache). */
    boolean cached(BearerToken token) {
        return verified.policy().getIfPresentQuietly(token.sha256()) != null;
    }

    /** A verified JWT of an issuer that introspects JWTs ({@code tokens: all | jwt}): accepted only while active there. */
    private dev.portcullis.Step<Checked> stillActive(Checked checked, BearerToken token, Set<String> audiences) {
        Introspection introspection = jwtIntrospection.get(checked.issuer().issuer());
        if (introspection == null) {
            return dev.portcullis.Step.now(checked);
        }
        dev.portcullis.Step<Introspection.Answer> answer = introspection.answer(token);
        if (answer.ready()) {
            judged(introspection, answer.value(), audiences);
            return dev.portcullis.Step.now(checked);
        }
        return dev.portcullis.Step.later(answer.future().thenApply(a -> {
            judged(introspection, a, audiences);
            return checked;
        }));
    }

    /** An opaque token: its introspection answer, judged as a JWT's claims are, becomes the principal. */
    private dev.portcullis.Step<Checked> introspected(Introspection introspection, BearerToken token, Set<String> audiences) {
        dev.portcullis.Step<Introspection.Answer> answer = introspection.answer(token);
        if (answer.ready()) {
            return dev.portcullis.Step.now(fromAnswer(introspection, answer.value(), token, audiences));
        }
        return dev.portcullis.Step.later(answer.future().thenApply(a -> fromAnswer(introspection, a, token, audiences)));
    }

    private Checked fromAnswer(Introspection introspection, Introspection.Answer answer, BearerToken token,
                               Set<String> audiences) {
        judged(introspection, answer, audiences);
        Principal principal = answer.principal;
        if (principal == null) {
            principal = ClaimsMapping.principal(introspection.issuer(), answer.claims, token,
                    introspection.issuer().scopeClaim() != null ? introspection.issuer().scopeClaim() : "scope");
            answer.principal = principal;
        }
        return new Checked(principal, introspection.issuer(), answer.confirmation);
    }

    /**
     * The checks an introspection answer passes on every request, cached or not: active, {@code iss} (when the answer
     * has one) the issuer's, an access token's {@code token_type}, then exactly the claim checks of a JWT
     * ({@code exp}, {@code nbf}, {@code iat}, lifetime, {@code aud} = this route's resource, {@code sub}).
     */
    private void judged(Introspection introspection, Introspection.Answer answer, Set<String> audiences) {
        if (!answer.active) {
            throw invalid("inactive", "The access token is not active", "introspection: active false");
        }
        if (answer.unreadable) {
            throw invalid("claim_type", "The access token has a malformed claim", "introspection answer claim of the wrong type");
        }
        JWTClaimsSet claims = answer.claims;
        IssuerConfig config = introspection.issuer();
        try {
            if (!config.issuer().equals(claims.getIssuer())) {
                throw invalid("untrusted_issuer", "The access token was not issued by a trusted issuer",
                        "introspection answer names another iss");
            }
            Object type = claims.getClaim("token_type");
            if (type != null && !(type instanceof String t && (t.equalsIgnoreCase("Bearer") || t.equalsIgnoreCase("DPoP")))) {
                throw invalid("token_type", "The token is not an access token", "introspection token_type is not Bearer or DPoP");
            }
            checkClaims(config, claims, audiences, () -> { });
        } catch (GatewayFailure failure) {
            throw failure;
        } catch (RuntimeException wrongType) {
            throw invalid("claim_type", "The access token has a malformed claim", wrongType.getClass().getSimpleName());
        }
    }

    /**
     * Whether the token takes the JWT path: a JOSE object in compact form that is a JWS, or an unsecured JWT
     * ({@code alg: none}, refused there as malformed: AUTHN-04, never sent to an introspection endpoint). A JWE is
     * opaque to the gateway (only its issuer can read it) and, like any other token, goes to introspection.
     */
    private static boolean isJws(BearerToken token) {
        if (secondDot(token.value()) < 0) {
            // Not three parts: neither a JWS nor an unsecured JWT (JOSEObject.parse accepts those only with three; a JWE
            // has five). Decided from the dots alone, as the parse would decide it: a cached JWE's requests would
            // otherwise decode and parse its header each time (issue 16, IntrospectionBenchmark.opaqueJweCachedAnswer).
            return false;
        }
        try {
            return !(com.nimbusds.jose.JOSEObject.parse(token.value()) instanceof com.nimbusds.jose.JWEObject);
        } catch (ParseException | RuntimeException e) {
            return false;
        }
    }

    /** Where the second of exactly two dots is in {@code value} (a compact JWS or unsecured JWT: three parts), or -1. */
    private static int secondDot(String value) {
        int first = value.indexOf('.');
        int second = first < 0 ? -1 : value.indexOf('.', first + 1);
        return second < 0 || value.indexOf('.', second + 1) >= 0 ? -1 : second;
    }

    /** {@link #toPrincipal}, with a claim of an unexpected type refused as {@code claim_type} (never a 500). */
    private Principal principalOf(VerifiedToken v, BearerToken token, Set<String> audiences) {
        try {
            return toPrincipal(v, token, audiences);
        } catch (GatewayFailure failure) {
            throw failure;
        } catch (RuntimeException wrongType) {
            throw invalid("claim_type", "The access token has a malformed claim", wrongType.getClass().getSimpleName());
        }
    }

    /**
     * As {@link #verify}, answered at once when the token is cached or its key is in the JWKS cache (the fast path:
     * no future); otherwise a future completed when the keys have been fetched. A failure known at once (claims,
     * signature, a malformed token) is thrown.
     */
    public dev.portcullis.Step<Principal> check(BearerToken token, Set<String> audiences) {
        dev.portcullis.Step<Checked> checked = checkConfirmed(token, audiences);
        return checked.ready() ? dev.portcullis.Step.now(checked.value().principal())
                : dev.portcullis.Step.later(checked.future().thenApply(Checked::principal));
    }

    /**
     * A token read as a compact JWS of a trusted issuer, with an acceptable {@code alg} and {@code typ}; signature not
     * checked yet: its header, the bytes its signature covers, the signature, its claims.
     */
    private record Parsed(JWSHeader header, byte[] signingInput, Base64URL signature, JWTClaimsSet claims,
                          JwksCache issuer) {}

    /**
     * The token's signature checked against its issuer's keys: now when the keys it names are in the JWKS cache (the
     * common case: no future, no operator chain), later when they must be fetched (none loaded yet, or an unknown
     * {@code kid}, which re-fetches at most once per {@code jwks-min-refresh-interval}). A failure known at once (a
     * malformed token, an untrusted issuer, a refused {@code alg} or {@code typ}, an unknown key, a bad signature) is
     * thrown.
     */
    private dev.portcullis.Step<VerifiedToken> verifySignature(BearerToken token) {
        Parsed parsed = parsed(token);
        JWKSet known = parsed.issuer().keysNow();
        if (known != null) {
            return withKeys(parsed, known);
        }
        IssuerConfig config = parsed.issuer().config();
        return dev.portcullis.Step.later(parsed.issuer().keys()
                .onErrorMap(e -> GatewayFailure.of(Reason.KEYS_UNAVAILABLE, "Signing keys are unavailable",
                        "issuer " + config.issuer() + ": " + e, e).withCode("keys_unavailable"))
                .flatMap(keys -> {
                    dev.portcullis.Step<VerifiedToken> signed = withKeys(parsed, keys);
                    return signed.ready() ? Mono.just(signed.value()) : Mono.fromFuture(signed.future());
                })
                .toFuture());
    }

    /**
     * The signature checked against {@code keys}: now when they hold the key the token names (or it names none), else
     * after one re-fetch for its unknown {@code kid}.
     */
    private dev.portcullis.Step<VerifiedToken> withKeys(Parsed parsed, JWKSet keys) {
        JWSHeader header = parsed.header();
        List<JWK> candidates = JwsSignatures.candidates(keys, header);
        if (!candidates.isEmpty() || header.getKeyID() == null) {
            return dev.portcullis.Step.now(signed(parsed, candidates));
        }
        return dev.portcullis.Step.later(parsed.issuer().refreshForUnknownKey()
                .map(fresh -> signed(parsed, JwsSignatures.candidates(fresh, header)))
                .toFuture());
    }

    /**
     * Parse (JWS only), issuer by exact {@code iss} or template, {@code alg} and {@code typ}; throws what fails.
     *
     * <p>Issue 13: the header and the claims are each decoded once (the JDK's strict base64url decoder) and read once,
     * by Jackson, refusing a member named twice ({@link StrictJson}); Nimbus makes the header and the claims set from
     * those members. {@code SignedJWT.parse} read them with its own parser after the strict check had read them
     * already, and kept copies the check does not need (3.8 µs and 15 KB per never-seen token, one JVM).
     */
    private Parsed parsed(BearerToken token) {
        String value = token.value();
        int first = value.indexOf('.');
        int second = secondDot(value);
        if (second < 0 || second == value.length() - 1) { // not three parts, or no signature
            throw invalid("malformed", "The access token is malformed", "not a signed JWT");
        }
        JWSHeader header;
        JWTClaimsSet claims;
        try {
            Base64URL headerPart = new Base64URL(value.substring(0, first));
            // RFC 7519 §4: claim names are unique. Refuse duplicates rather than guess which one the issuer meant (the
            // same for header parameters). JWSHeader.parse refuses alg "none" and a JWE's alg (AUTHN-04): not a JWS.
            header = JWSHeader.parse(StrictJson.object(headerPart), headerPart);
            claims = JWTClaimsSet.parse(StrictJson.object(new Base64URL(value.substring(first + 1, second))));
        } catch (ParseException | IllegalArgumentException | IllegalStateException e) {
            throw invalid("malformed", "The access token is malformed", "not a signed JWT");
        }
        JwksCache exact = claims.getIssuer() == null ? null : issuers.get(claims.getIssuer());
        JwksCache issuer = exact == null && claims.getIssuer() != null ? templateIssuer(claims) : exact;
        if (issuer == null) {
            throw invalid("untrusted_issuer", "The access token was not issued by a trusted issuer", "unknown or missing iss");
        }
        IssuerConfig config = issuer.config();
        if (!config.algorithms().contains(header.getAlgorithm().getName())) {
            throw invalid("algorithm", "The access token is signed with an unacceptable algorithm",
                    "alg " + header.getAlgorithm() + " not in " + config.algorithms());
        }
        boolean atJwt = isAccessTokenType(header.getType());
        if (config.requireAccessTokenType() && !atJwt) {
            throw invalid("token_type", "The token is not an access token", "typ is not at+jwt");
        }
        // AUTHN-09 for IdPs that issue typ: JWT: an ID or refresh token of the same issuer (whose aud is a client
        // id, as aliases often are) is told apart by the claim only the IdP's access tokens carry.
        if (!atJwt && !config.preset().looksLikeAccessToken(claims.getClaims())) {
            throw invalid("token_type", "The token is not an access token",
                    "no " + config.preset().accessTokenMarker() + " and typ is not at+jwt");
        }
        // A bearer token is ASCII (BearerToken refuses anything else): the signing input is its bytes up to the second dot.
        return new Parsed(header, value.substring(0, second).getBytes(java.nio.charset.StandardCharsets.US_ASCII),
                new Base64URL(value.substring(second + 1)), claims, issuer);
    }

    /** The signature checked with the candidate keys (AUTHN-05: chosen from the issuer's JWKS); throws when none verifies. */
    private VerifiedToken signed(Parsed parsed, List<JWK> candidates) {
        if (candidates.isEmpty()) {
            throw invalid("unknown_key", "The access token is signed with an unknown key", "no matching key");
        }
        for (JWK key : candidates) {
            if (signatures.verifies(parsed.header(), parsed.signingInput(), parsed.signature(), key)) {
                return new VerifiedToken(parsed.issuer(), parsed.claims());
            }
        }
        throw invalid("signature", "The access token signature is invalid", "signature check failed");
    }

    /**
     * A multi-tenant issuer ({@code {tenantid}} template, enabled by {@code multi-tenant: true}) whose template
     * {@code iss} fills with an admitted tenant id, and only if the token's {@code tid} claim names that same
     * tenant (so one tenant cannot present itself under another's issuer); else null.
     */
    private JwksCache templateIssuer(JWTClaimsSet claims) {
        for (JwksCache candidate : templates) {
            String tenant = candidate.config().tenantOf(claims.getIssuer());
            if (tenant != null && claims.getClaim("tid") instanceof String tid && tid.equalsIgnoreCase(tenant)) {
                return candidate;
            }
        }
        return null;
    }

    private static boolean isAccessTokenType(JOSEObjectType type) {
        if (type == null) {
            return false;
        }
        String t = type.getType().toLowerCase(Locale.ROOT);
        return t.equals(AT_JWT.getType()) || t.equals(APPLICATION_AT_JWT.getType());
    }

    /** The checks that run on every request, cached signature or not. */
    private Principal toPrincipal(VerifiedToken v, BearerToken token, Set<String> audiences) {
        JWTClaimsSet claims = v.claims();
        IssuerConfig config = v.issuer().config();
        checkClaims(config, claims, audiences, () -> verified.invalidate(token.sha256()));
        if (config.requireAccessTokenType() && (claims.getJWTID() == null || claims.getIssueTime() == null
                || (claims.getClaim("client_id") == null))) {
            throw invalid("missing_claims", "The access token lacks required claims", "RFC 9068 requires client_id, iat and jti");
        }
        return v.principal(token);
    }

    /**
     * The claim checks every accepted token passes on every request, a JWT's (signature checked) or an introspection
     * answer's: {@code exp} present and not past, {@code nbf} and {@code iat} not in the future, the lifetime at most
     * {@code max-token-lifetime}, {@code aud} naming this route's resource (PRM-08), {@code sub} present. One method for
     * both, so neither can drift from the other.
     *
     * @param onExpired run before an expired token is refused (drops a cached verification)
     */
    private void checkClaims(IssuerConfig config, JWTClaimsSet claims, Set<String> audiences, Runnable onExpired) {
        Instant now = clock.instant();
        Duration skew = config.clockSkew();
        Date exp = claims.getExpirationTime();
        if (exp == null) {
            throw invalid("no_expiry", "The access token has no expiry", "exp missing");
        }
        if (!now.isBefore(exp.toInstant().plus(skew))) {
            onExpired.run();
            throw invalid("expired", "The access token is expired", "expired");
        }
        Date nbf = claims.getNotBeforeTime();
        if (nbf != null && now.plus(skew).isBefore(nbf.toInstant())) {
            throw invalid("not_yet_valid", "The access token is not yet valid", "nbf in the future");
        }
        Date iat = claims.getIssueTime();
        if (iat != null && now.plus(skew).isBefore(iat.toInstant())) {
            throw invalid("issued_in_future", "The access token is not yet valid", "iat in the future");
        }
        Date maxExpiry = Date.from((iat != null ? iat.toInstant() : now).plus(config.maxTokenLifetime()).plus(skew));
        if (exp.after(maxExpiry)) {
            throw invalid("lifetime", "The access token lifetime is too long", "exp beyond max-token-lifetime");
        }
        List<String> aud = claims.getAudience();
        if (aud == null || aud.stream().noneMatch(audiences::contains)) {
            // The operator's log line names both sides (never the token): a wrong aud is the commonest
            // onboarding mistake (a client id where a URL was expected, or the reverse).
            throw invalid("audience", "The access token is not intended for this resource",
                    "aud " + shownAudiences(aud) + " does not contain the resource (expected one of "
                            + shownAudiences(List.copyOf(new java.util.TreeSet<>(audiences))) + ")");
        }
        if (claims.getSubject() == null || claims.getSubject().isEmpty()) {
            throw invalid("no_subject", "The access token has no subject", "sub missing");
        }
    }

    /**
     * Audience values for a log line: each quoted, control characters and quotes escaped, at most 5
     * values of at most 100 characters (a token's aud is caller-controlled text until trusted).
     */
    static String shownAudiences(List<String> aud) {
        if (aud == null || aud.isEmpty()) {
            return "(none)";
        }
        StringBuilder out = new StringBuilder("[");
        for (int i = 0; i < aud.size() && i < 5; i++) {
            if (i > 0) out.append(", ");
            String value = String.valueOf(aud.get(i));
            out.append('"');
            for (int c = 0; c < value.length() && c < 100; c++) {
                char ch = value.charAt(c);
                if (ch < 0x20 || ch > 0x7e || ch == '"' || ch == '\\') {
                    out.append(String.format("\\u%04x", (int) ch));
                } else {
                    out.append(ch);
                }
            }
            out.append(value.length() > 100 ? "...\"" : "\"");
        }
        if (aud.size() > 5) out.append(", ... (").append(aud.size()).append(" values)");
        return out.append(']').toString();
    }

    private Duration untilExpiry(JWTClaimsSet claims) {
        Date exp = claims.getExpirationTime();
        if (exp == null) {
            return Duration.ZERO;
        }
        Duration left = Duration.between(clock.instant(), exp.toInstant());
        return left.isNegative() ? Duration.ZERO : left;
    }

    private static GatewayFailure invalid(String code, String description, String detail) {
        return GatewayFailure.of(Reason.INVALID_TOKEN, description, detail).withCode(code);
    }
}
