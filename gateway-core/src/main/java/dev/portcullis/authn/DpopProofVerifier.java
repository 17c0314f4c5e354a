package dev.portcullis.authn;

import dev.portcullis.Caches;
import com.github.benmanes.caffeine.cache.Cache;
import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.JWSVerifier;
import com.nimbusds.jose.crypto.factories.DefaultJWSVerifierFactory;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.util.Base64URL;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.portcullis.Step;
import dev.portcullis.failure.GatewayFailure;
import dev.portcullis.failure.Reason;
import dev.portcullis.route.RouteDpop;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.security.Key;
import java.security.MessageDigest;
import java.text.ParseException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Checks a DPoP proof (RFC 9449 §4.3) presented with a DPoP-bound access token, on every request: a token whose
 * signature is cached still needs a fresh proof each time, at the cost of one signature check (the proof's).
 *
 * <p>Built on nimbus-jose-jwt's primitives rather than the OAuth 2.0 SDK's {@code DPoPProtectedResourceRequestVerifier}:
 * that one is non-blocking too, but it checks {@code ath} and {@code cnf.jkt} only when the proof carries
 * {@code ath} after consuming the {@code jti}, verifies with the JDK's provider (not {@link SignatureProvider}'s), keeps
 * used {@code jti}s in an unbounded map purged by a timer thread, compares {@code htu} after its own normalisation
 * of the configured URI only, accepts duplicated JSON members, and reports one exception type for every failure
 * (the gateway names each). The checks, in this order (all cheap ones before the signature, the replay record last
 * so that only a valid proof is remembered; what depends on the header alone is checked once per header text and kept):
 * <ol>
 *   <li>size, three parts; the {@code jwk} header holds no private member ({@code d}, {@code p}, ... , {@code k});</li>
 *   <li>a well-formed JWS whose header and claims name no member twice;</li>
 *   <li>{@code typ} is {@code dpop+jwt}; {@code alg} is one the token's issuer accepts (asymmetric only: no
 *       {@code none}, no HMAC); {@code jwk} is a public key of the kind and curve {@code alg} needs (RSA: 2048 bits or more);</li>
 *   <li>{@code jti}, {@code htm}, {@code htu}, {@code iat} and {@code ath} present, of their types;</li>
 *   <li>{@code htm} is the request method; {@code htu} is the request's public URL ({@code Route#publicUrl}), both
 *       compared after RFC 3986 syntax- and scheme-based normalisation, query and fragment ignored;</li>
 *   <li>{@code iat} within the route's window of now, either way;</li>
 *   <li>{@code ath} is base64url(SHA-256(access token)); the {@code jwk}'s RFC 7638 thumbprint is the token's {@code cnf.jkt};</li>
 *   <li>with {@code dpop-nonce}: {@code nonce} is one this gateway issued for the route, recently;</li>
 *   <li>the signature verifies with the {@code jwk};</li>
 *   <li>{@code jti} (scoped by key and URL, as a digest) not seen within the window ({@link ReplayGuard}).</li>
 * </ol>
 */
public final class DpopProofVerifier {
    /** Far above any honest proof (an RSA-4096 key and all claims fit in 2 KiB), well below the header limit. */
    static final int MAX_PROOF_LENGTH = 8 * 1024;
    static final int MAX_JTI_LENGTH = 256;
    private static final Set<String> PRIVATE_MEMBERS = Set.of("d", "p", "q", "dp", "dq", "qi", "oth", "k");
    private static final JOSEObjectType DPOP_JWT = new JOSEObjectType("dpop+jwt");
    /** RFC 9449 §4.2: an asymmetric signature algorithm (the issuer's list narrows it further). */
    private static final Set<JWSAlgorithm> ASYMMETRIC = Set.of(JWSAlgorithm.RS256, JWSAlgorithm.RS384, JWSAlgorithm.RS512,
            JWSAlgorithm.PS256, JWSAlgorithm.PS384, JWSAlgorithm.PS512, JWSAlgorithm.ES256, JWSAlgorithm.ES384, JWSAlgorithm.ES512);

    private final Clock clock;
    private final ReplayGuard replay;
    private final DpopNonces nonces;
    /** Claims: a member written twice is an error (RFC 7519 §4), nesting bounded. */
    private static final ObjectMapper CLAIMS = JsonMapper.builder(JsonFactory.builder()
                    .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
                    .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(16).build()).build())
            .build();

    private final DefaultJWSVerifierFactory verifiers = new DefaultJWSVerifierFactory();
    /** Proof headers seen lately, by their base64url text (bounded: a client keeps one header for all its proofs). */
    private final Cache<String, ProofHeader> headers = Caches.onCallingThread()
            .maximumSize(4096).expireAfterAccess(Duration.ofMinutes(10)).build();

    public DpopProofVerifier(Clock clock, ReplayGuard replay, DpopNonces nonces) {
        this.clock = clock;
        this.replay = replay;
        this.nonces = nonces;
    }

    /** What the proof must match: this request, its access token, the token's binding and issuer. */
    public record Expected(String method, String publicUrl, String route, String accessToken, String jkt,
                           List<String> algorithms, RouteDpop rules) {}

    /**
     * Checks {@code proof}: true now or later when every check passes.
     *
     * @throws GatewayFailure {@link Reason#INVALID_DPOP_PROOF}, {@link Reason#INVALID_DPOP_TOKEN} (the proof's key is
     *         not the token's), {@link Reason#DPOP_NONCE_REQUIRED}, {@link Reason#REPLAY_CHECK_UNAVAILABLE}
     */
    public Step<Boolean> verify(String proof, Expected expected) {
        if (proof.length() > MAX_PROOF_LENGTH) {
            throw invalid("proof_size", "The DPoP proof is too large");
        }
        int first = proof.indexOf('.');
        int second = first < 0 ? -1 : proof.indexOf('.', first + 1);
        if (first <= 0 || second < 0 || proof.indexOf('.', second + 1) >= 0) {
            throw invalid("proof_malformed", "The DPoP proof is malformed");
        }
        // A client's proofs share one header (typ, alg, jwk): its parse, the key checks, the thumbprint and the verifier
        // are made once per header and kept, so a request pays for its claims and the signature check only.
        String headerSegment = proof.substring(0, first);
        ProofHeader parsed = headers.getIfPresent(headerSegment);
        if (parsed == null) {
            parsed = parseHeader(headerSegment);
            if (SignatureProvider.decided()) {
                // Kept once the signature provider is chosen: a verifier made before uses the JDK's provider, and an
                // active client's header would keep it for good.
                headers.put(headerSegment, parsed);
            }
        }
        if (!expected.algorithms().contains(parsed.header().getAlgorithm().getName())) {
            throw invalid("proof_algorithm", "The DPoP proof is signed with an unacceptable algorithm");
        }
        // One strict pass over the claims (a member written twice is refused), reading only what §4.2 names.
        JsonNode claims;
        try {
            claims = CLAIMS.readTree(java.util.Base64.getUrlDecoder().decode(proof.substring(first + 1, second)));
        } catch (java.io.IOException | IllegalArgumentException e) {
            throw invalid("proof_malformed", "The DPoP proof is malformed");
        }
        if (claims == null || !claims.isObject()) {
            throw invalid("proof_malformed", "The DPoP proof is malformed");
        }
        String jti = text(claims, "jti");
        String htm = text(claims, "htm");
        String htu = text(claims, "htu");
        String ath = text(claims, "ath");
        String nonce = text(claims, "nonce");
        JsonNode iatNode = claims.get("iat");
        // A number a clock can show (a huge or non-integral-range one would overflow Instant: never a 500).
        if (iatNode != null && (!iatNode.isNumber() || !iatNode.canConvertToLong() || Math.abs(iatNode.asLong()) > 100_000_000_000L)) {
            throw invalid("proof_claims", "The DPoP proof has a malformed claim");
        }
        Instant iat = iatNode == null ? null : Instant.ofEpochSecond(iatNode.asLong());
        if (jti == null || jti.isEmpty() || jti.length() > MAX_JTI_LENGTH || htm == null || htu == null || iat == null) {
            throw invalid("proof_claims", "The DPoP proof lacks required claims");
        }
        if (!htm.equals(expected.method())) {
            throw invalid("proof_htm", "The DPoP proof is for another HTTP method");
        }
        String target = expected.publicUrl();
        if (!htu.equals(target)) { // a client writes it as the gateway does, mostly: normalised only when it differs
            String normalized = normalizeHtu(target);
            if (normalized == null || !normalized.equals(normalizeHtu(htu))) {
                throw invalid("proof_htu", "The DPoP proof is for another URL");
            }
        }
        Instant now = clock.instant();
        Duration window = expected.rules().window();
        if (iat.isBefore(now.minus(window))) {
            throw invalid("proof_stale", "The DPoP proof is too old");
        }
        if (iat.isAfter(now.plus(window))) {
            throw invalid("proof_future", "The DPoP proof is issued in the future");
        }
        if (ath == null) {
            throw invalid("proof_ath", "The DPoP proof is not bound to the access token");
        }
        if (!MessageDigest.isEqual(ath.getBytes(StandardCharsets.US_ASCII),
                accessTokenHash(expected.accessToken()).getBytes(StandardCharsets.US_ASCII))) {
            throw invalid("proof_ath", "The DPoP proof is not bound to the access token");
        }
        String thumbprint = parsed.thumbprint();
        if (!thumbprint.equals(expected.jkt())) {
            // RFC 9449 §7.1, Figure 16: the binding of the token fails, so invalid_token.
            throw GatewayFailure.of(Reason.INVALID_DPOP_TOKEN, "The DPoP proof's key is not the key the access token is bound to",
                    "cnf.jkt does not match the proof key's thumbprint").withCode("key_mismatch");
        }
        if (expected.rules().nonce()) {
            if (nonce == null) {
                throw GatewayFailure.of(Reason.DPOP_NONCE_REQUIRED, "Resource server requires nonce in DPoP proof",
                        "proof without nonce").withCode("nonce_missing");
            }
            if (nonces == null || !nonces.valid(expected.route(), nonce, window)) {
                throw GatewayFailure.of(Reason.DPOP_NONCE_REQUIRED, "The DPoP nonce is not valid: use the new one",
                        "unknown or expired nonce").withCode("nonce_invalid");
            }
        }
        if (!parsed.signatureValid(proof.substring(0, second), proof.substring(second + 1))) {
            throw invalid("proof_signature", "The DPoP proof signature is invalid");
        }
        // Kept as long as the proof would be accepted: until iat + window (RFC 9449 §11.1).
        Duration ttl = Duration.between(now, iat.plus(window)).plusSeconds(1);
        Step<Boolean> firstUse = replay.firstUse(replayKey(thumbprint, target, jti), ttl);
        if (firstUse.ready()) {
            return Step.now(notReplayed(firstUse.value()));
        }
        return Step.later(firstUse.future().thenApply(DpopProofVerifier::notReplayed));
    }

    /** A string claim, null when absent; another type is a malformed proof. */
    private static String text(JsonNode claims, String name) {
        JsonNode value = claims.get(name);
        if (value == null) {
            return null;
        }
        if (!value.isTextual()) {
            throw invalid("proof_claims", "The DPoP proof has a malformed claim");
        }
        return value.textValue();
    }

    private static Boolean notReplayed(Boolean firstUse) {
        if (!firstUse) {
            throw invalid("proof_replay", "The DPoP proof was used before");
        }
        return Boolean.TRUE;
    }

    private static boolean isDpopType(JOSEObjectType type) {
        if (type == null) {
            return false;
        }
        // RFC 7515 §4.1.9: compared case-insensitively, an "application/" prefix meaning the same.
        String t = type.getType().toLowerCase(Locale.ROOT);
        return t.equals(DPOP_JWT.getType()) || t.equals("application/" + DPOP_JWT.getType());
    }

    /** The key type (and curve) the algorithm signs with; RSA keys of 2048 bits or more. */
    private static boolean fits(JWK jwk, JWSAlgorithm alg) {
        if (JWSAlgorithm.Family.RSA.contains(alg)) {
            return jwk instanceof RSAKey rsa && rsa.size() >= 2048;
        }
        if (jwk instanceof ECKey ec) {
            Curve curve = ec.getCurve();
            return (alg.equals(JWSAlgorithm.ES256) && Curve.P_256.equals(curve))
                    || (alg.equals(JWSAlgorithm.ES384) && Curve.P_384.equals(curve))
                    || (alg.equals(JWSAlgorithm.ES512) && Curve.P_521.equals(curve));
        }
        return false;
    }

    /** A proof header that passed the checks that depend on it alone, with its key's thumbprint and verifier. */
    record ProofHeader(JWSHeader header, String thumbprint, JWSVerifier verifier) {
        boolean signatureValid(String signingInput, String signature) {
            try {
                // Decoded strictly, as an access token's signature is (JwsSignatures): Nimbus's decoder skips
                // characters outside the alphabet, so any number of them could be inserted into a valid proof.
                return verifier.verify(header, signingInput.getBytes(StandardCharsets.US_ASCII),
                        JwsSignatures.decoded(new Base64URL(signature)));
            } catch (JOSEException | IllegalStateException | IllegalArgumentException e) {
                return false;
            }
        }
    }

    /**
     * The header's checks (RFC 9449 §4.3 checks 4, 5 as far as the header alone tells, 6's key, 7): no private member in
     * {@code jwk}, a JWS header naming no member twice, {@code typ: dpop+jwt}, an asymmetric {@code alg}, a public
     * {@code jwk} of the kind and curve {@code alg} needs. Failures are thrown, never kept.
     */
    private ProofHeader parseHeader(String segment) {
        JWSHeader header;
        try {
            // The JDK's strict decoder (Nimbus's skips characters outside the alphabet): such a character fails.
            // Read once, strictly (a member named twice fails), by Jackson; Nimbus makes the header from the members.
            Base64URL part = new Base64URL(segment);
            Map<String, Object> members = StrictJson.object(part);
            if (members.get("jwk") instanceof Map<?, ?> jwk && jwk.keySet().stream().anyMatch(PRIVATE_MEMBERS::contains)) {
                throw invalid("proof_private_key", "The DPoP proof's key is not a public key");
            }
            header = JWSHeader.parse(members, part);
        } catch (ParseException | IllegalArgumentException | IllegalStateException e) {
            throw invalid("proof_malformed", "The DPoP proof is malformed");
        }
        if (!isDpopType(header.getType())) {
            throw invalid("proof_type", "The DPoP proof is not of type dpop+jwt");
        }
        JWSAlgorithm alg = header.getAlgorithm();
        if (alg == null || !ASYMMETRIC.contains(alg)) {
            throw invalid("proof_algorithm", "The DPoP proof is signed with an unacceptable algorithm");
        }
        JWK jwk = header.getJWK();
        if (jwk == null) {
            throw invalid("proof_key", "The DPoP proof carries no public key");
        }
        if (jwk.isPrivate()) {
            throw invalid("proof_private_key", "The DPoP proof's key is not a public key");
        }
        if (!fits(jwk, alg)) {
            throw invalid("proof_key", "The DPoP proof's key does not fit its algorithm");
        }
        try {
            Key key = jwk instanceof RSAKey rsa ? rsa.toRSAPublicKey() : ((ECKey) jwk).toECPublicKey();
            JWSVerifier verifier = SignatureProvider.apply(verifiers.createJWSVerifier(header, key), header.getAlgorithm());
            return new ProofHeader(header, jwk.computeThumbprint().toString(), verifier);
        } catch (JOSEException | IllegalStateException | ClassCastException e) {
            throw invalid("proof_key", "The DPoP proof's key does not fit its algorithm");
        }
    }

    /** RFC 9449 §4.2: base64url of the SHA-256 of the ASCII access token. */
    static String accessTokenHash(String accessToken) {
        return Base64URL.encode(sha256(accessToken.getBytes(StandardCharsets.US_ASCII))).toString();
    }

    /** The replay record's key: a digest of key thumbprint, URL and jti (fixed size, whatever the jti: §11.1). */
    static String replayKey(String thumbprint, String htu, String jti) {
        byte[] digest = sha256((thumbprint + '\n' + htu + '\n' + jti).getBytes(StandardCharsets.UTF_8));
        return Base64URL.encode(java.util.Arrays.copyOf(digest, 16)).toString();
    }

    private static byte[] sha256(byte[] value) {
        return dev.portcullis.Sha256.of(value);
    }

    /**
     * An {@code htu} (or the request's public URL) in the form the comparison uses (RFC 9449 §4.3, RFC 3986 §6.2.2
     * and §6.2.3): scheme and host in lower case, the scheme's default port dropped, an empty path as {@code /},
     * percent-encodings in upper case and of unreserved characters decoded, dot segments removed; no query, no
     * fragment. Null for anything but an absolute http(s) URL without user info.
     */
    static String normalizeHtu(String uri) {
        if (uri == null || uri.length() > 4096) {
            return null;
        }
        URI u;
        try {
            u = new URI(uri);
        } catch (URISyntaxException e) {
            return null;
        }
        if (!u.isAbsolute() || u.isOpaque() || u.getRawUserInfo() != null || u.getHost() == null) {
            return null;
        }
        String scheme = u.getScheme().toLowerCase(Locale.ROOT);
        if (!scheme.equals("https") && !scheme.equals("http")) {
            return null;
        }
        int port = u.getPort();
        if ((scheme.equals("https") && port == 443) || (scheme.equals("http") && port == 80)) {
            port = -1;
        }
        String path = u.getRawPath() == null || u.getRawPath().isEmpty() ? "/" : u.getRawPath();
        String normalized = percentNormalized(path);
        if (normalized == null) {
            return null;
        }
        return scheme + "://" + u.getHost().toLowerCase(Locale.ROOT) + (port < 0 ? "" : ":" + port)
                + removeDotSegments(normalized);
    }

    private static String percentNormalized(String path) {
        StringBuilder out = new StringBuilder(path.length());
        for (int i = 0; i < path.length(); i++) {
            char c = path.charAt(i);
            if (c != '%') {
                out.append(c);
                continue;
            }
            if (i + 2 >= path.length()) {
                return null;
            }
            int hi = Character.digit(path.charAt(i + 1), 16);
            int lo = Character.digit(path.charAt(i + 2), 16);
            if (hi < 0 || lo < 0) {
                return null;
            }
            char decoded = (char) (hi * 16 + lo);
            boolean unreserved = (decoded >= 'A' && decoded <= 'Z') || (decoded >= 'a' && decoded <= 'z')
                    || (decoded >= '0' && decoded <= '9') || decoded == '-' || decoded == '.' || decoded == '_' || decoded == '~';
            if (unreserved) {
                out.append(decoded);
            } else {
                out.append('%').append(Character.toUpperCase(path.charAt(i + 1))).append(Character.toUpperCase(path.charAt(i + 2)));
            }
            i += 2;
        }
        return out.toString();
    }

    /** RFC 3986 §5.2.4 for an absolute path. */
    static String removeDotSegments(String path) {
        String[] parts = path.split("/", -1);
        ArrayDeque<String> out = new ArrayDeque<>();
        for (int i = 1; i < parts.length; i++) {
            String segment = parts[i];
            boolean last = i == parts.length - 1;
            if (segment.equals(".")) {
                if (last) out.addLast("");
            } else if (segment.equals("..")) {
                if (!out.isEmpty()) out.removeLast();
                if (last) out.addLast("");
            } else {
                out.addLast(segment);
            }
        }
        return "/" + String.join("/", out);
    }

    private static GatewayFailure invalid(String code, String description) {
        return GatewayFailure.of(Reason.INVALID_DPOP_PROOF, description, code).withCode(code);
    }
}
