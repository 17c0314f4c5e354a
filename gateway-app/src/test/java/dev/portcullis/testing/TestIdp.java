package dev.portcullis.testing;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.JWSObject;
import com.nimbusds.jose.Payload;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKSelector;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.jwk.gen.RSAKeyGenerator;
import com.nimbusds.jose.proc.SecurityContext;
import com.nimbusds.jwt.SignedJWT;
import com.nimbusds.oauth2.sdk.TokenRequest;
import com.nimbusds.oauth2.sdk.tokenexchange.TokenExchangeGrant;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.BindException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.URLDecoder;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import no.nav.security.mock.oauth2.MockOAuth2Server;
import no.nav.security.mock.oauth2.OAuth2Config;
import no.nav.security.mock.oauth2.http.MockWebServerWrapper;
import no.nav.security.mock.oauth2.token.KeyProvider;
import no.nav.security.mock.oauth2.token.OAuth2TokenCallback;
import no.nav.security.mock.oauth2.token.OAuth2TokenProvider;
import okhttp3.mockwebserver.MockWebServer;
import okhttp3.mockwebserver.RecordedRequest;

/**
 * A real, in-process OAuth 2.0 / OIDC authorization server (navikt mock-oauth2-server) on
 * 127.0.0.1 with issuer id {@value #ISSUER_ID}, plus helpers to mint arbitrary access tokens
 * signed with the server's own current key, rotate that key, and see which requests it got.
 *
 * <p>All tokens (minted here or fetched from {@link #tokenEndpoint()}) are RS256-signed with the
 * current key, whose public half is the only key in {@link #jwksUri()}.
 */
public final class TestIdp implements AutoCloseable {

    public static final String ISSUER_ID = "default";
    public static final String SUBJECT = "user-123";
    public static final String CLIENT_ID = "test-agent";
    /** {@code aud} of {@link #accessToken(Map)} unless overridden. */
    public static final String DEFAULT_AUDIENCE = "default";
    /** {@code scope} of {@link #accessToken(Map)} unless overridden. */
    public static final String DEFAULT_SCOPE = "mcp:tools";

    private static final InetAddress LOOPBACK = loopback();

    private final RotatingKeyProvider keys = new RotatingKeyProvider();
    private final MockOAuth2Server server;
    private final MockWebServer http;
    private final int port;
    private final List<Recorded> log = new ArrayList<>();
    private boolean stopped;

    private record Recorded(String method, String path, String body) {}

    private enum Mode { DEFAULT, RESOURCE_AUDIENCE, TOKEN_EXCHANGE, INTERACTIVE }

    private TestIdp(int port, Mode mode) {
        Set<OAuth2TokenCallback> callbacks = switch (mode) {
            case DEFAULT, INTERACTIVE -> Set.of();
            case RESOURCE_AUDIENCE -> Set.of(new ResourceAudienceCallback());
            case TOKEN_EXCHANGE -> Set.of(new TokenExchangeCallback());
        };
        var httpServer = new MockWebServerWrapper();
        this.server = new MockOAuth2Server(new OAuth2Config(
                mode == Mode.INTERACTIVE, null, null, false, new OAuth2TokenProvider(keys), callbacks, httpServer));
        this.http = httpServer.getMockWebServer();
        server.start(LOOPBACK, port);
        this.port = server.baseUrl().port();
    }

    /** Starts on a free port. */
    public static TestIdp start() {
        return startOnFreePort(Mode.DEFAULT);
    }

    /**
     * Issue 17: starts on a free port with mock-oauth2-server's interactive login: its authorization endpoint shows a
     * sign-in form (fields {@code username}, the {@code sub}, and {@code claims}, a JSON object added to the tokens),
     * as a browser-driven OpenID Connect login needs.
     */
    public static TestIdp startInteractive() {
        return startOnFreePort(Mode.INTERACTIVE);
    }

    /** Starts on the given port, e.g. to bring an IdP back on the port of a stopped one (it has a new key). */
    public static TestIdp start(int port) {
        return new TestIdp(port, Mode.DEFAULT);
    }

    /**
     * Starts on a free port; tokens from the token endpoint then carry {@code aud} = the RFC 8707
     * {@code resource} parameter(s) (or {@value #DEFAULT_AUDIENCE} without one), {@code sub} =
     * {@code client_id} = {@code azp} = the requesting client, and {@code scope} if requested.
     */
    public static TestIdp startWithResourceAudience() {
        return startOnFreePort(Mode.RESOURCE_AUDIENCE);
    }

    /**
     * Starts on a free port as an RFC 8693 token exchange server, the way a real IdP would answer a
     * gateway. mock-oauth2-server builds an exchanged token from the subject token's claims (so
     * {@code sub} stays the caller's) and overrides {@code iss}, {@code exp}, {@code iat}, {@code nbf},
     * {@code jti} and {@code aud}; this callback sets:
     * <ul>
     *   <li>{@code aud} = the {@code audience} parameter(s), else the {@code resource} parameter(s), else
     *       {@value #DEFAULT_AUDIENCE};</li>
     *   <li>{@code scope} = the requested scope, or "" when none was requested (never the subject's);</li>
     *   <li>{@code client_id} = {@code azp} = the exchanging client;</li>
     *   <li>{@code act: {sub: <the actor token's sub>}} when an {@code actor_token} is sent.</li>
     * </ul>
     * Client-credentials tokens get {@code sub} = {@code client_id} = {@code azp} = the client,
     * {@code aud} from {@code audience}/{@code resource} and {@code scope} if requested. Exchanged and
     * client-credentials tokens live {@value #EXCHANGED_TOKEN_LIFETIME} s.
     */
    public static TestIdp startWithTokenExchange() {
        return startOnFreePort(Mode.TOKEN_EXCHANGE);
    }

    /** Lifetime of tokens issued by {@link #startWithTokenExchange()}'s token endpoint, in seconds. */
    public static final long EXCHANGED_TOKEN_LIFETIME = 3600;

    /**
     * Picks the port itself rather than binding port 0: MockWebServer sets SO_REUSEADDR only for an
     * explicit port, and without it a later start(port) on the same port fails while old
     * connections sit in TIME_WAIT.
     */
    private static TestIdp startOnFreePort(Mode mode) {
        for (int attempt = 1; ; attempt++) {
            try {
                return new TestIdp(freePort(), mode);
            } catch (Exception e) { // the Kotlin code throws BindException without declaring it
                if (!(e instanceof BindException) || attempt == 5) {
                    throw e;
                }
            }
        }
    }

    private static int freePort() {
        try (ServerSocket socket = new ServerSocket(0, 1, LOOPBACK)) {
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public int port() {
        return port;
    }

    /** {@code http://127.0.0.1:PORT/default}, exactly the {@code iss} of its tokens. */
    public String issuer() {
        return "http://127.0.0.1:" + port + "/" + ISSUER_ID;
    }

    public String jwksUri() {
        return issuer() + "/jwks";
    }

    public String tokenEndpoint() {
        return issuer() + "/token";
    }

    /** OIDC discovery, path-appended: {@code <issuer>/.well-known/openid-configuration}. */
    public String discoveryUrl() {
        return issuer() + "/.well-known/openid-configuration";
    }

    /** RFC 8414 metadata, path-appended (the path-inserted form answers 405 on this server). */
    public String authorizationServerMetadataUrl() {
        return issuer() + "/.well-known/oauth-authorization-server";
    }

    /** The kid of the current signing key. */
    public String kid() {
        return keys.current().getKeyID();
    }

    /** The current signing key (private part included), to craft unusual tokens by hand. */
    public RSAKey signingKey() {
        return keys.current();
    }

    /**
     * Signs new tokens with a fresh RSA key under a fresh kid, at once and without a restart; the
     * JWKS then serves only the new key (tokens issued before keep the old kid, now unknown to it).
     */
    public void rotateKey() {
        keys.rotate();
    }

    /** A token with iss, sub, aud, scope, client_id, azp, iat, exp (now + 1 h) and jti. */
    public String accessToken(String audience, String scope) {
        return accessToken(audience, scope, Map.of());
    }

    /** Like {@link #accessToken(String, String, Map)} with {@value #DEFAULT_AUDIENCE} and {@value #DEFAULT_SCOPE}. */
    public String accessToken(Map<String, Object> claimOverrides) {
        return accessToken(DEFAULT_AUDIENCE, DEFAULT_SCOPE, claimOverrides);
    }

    /**
     * The default claims with {@code claimOverrides} applied: a null value removes the claim, any
     * other value replaces it verbatim (a String exp stays a String), except that {@link Instant}
     * and {@link Date} values become NumericDate seconds. Use a List for a multi-valued aud.
     */
    public String accessToken(String audience, String scope, Map<String, Object> claimOverrides) {
        long now = Instant.now().getEpochSecond();
        Map<String, Object> claims = new LinkedHashMap<>();
        claims.put("iss", issuer());
        claims.put("sub", SUBJECT);
        claims.put("aud", audience);
        claims.put("scope", scope);
        claims.put("client_id", CLIENT_ID);
        claims.put("azp", CLIENT_ID);
        claims.put("iat", now);
        claims.put("exp", now + 3600);
        claims.put("jti", UUID.randomUUID().toString());
        claimOverrides.forEach((name, value) -> {
            if (value == null) {
                claims.remove(name);
            } else if (value instanceof Instant instant) {
                claims.put(name, instant.getEpochSecond());
            } else if (value instanceof Date date) {
                claims.put(name, date.toInstant().getEpochSecond());
            } else {
                claims.put(name, value);
            }
        });
        claims.values().removeIf(Objects::isNull);
        return sign(claims);
    }

    private String sign(Map<String, Object> claims) {
        RSAKey key = keys.current();
        JWSObject jws = new JWSObject(
                new JWSHeader.Builder(JWSAlgorithm.RS256).keyID(key.getKeyID()).type(JOSEObjectType.JWT).build(),
                new Payload(claims));
        try {
            jws.sign(new RSASSASigner(key));
        } catch (JOSEException e) {
            throw new IllegalStateException(e);
        }
        return jws.serialize();
    }

    /** Paths (without query) of every HTTP request the IdP received, in order. */
    public synchronized List<String> requestedPaths() {
        drain();
        return log.stream().map(Recorded::path).toList();
    }

    public int requestCount(String pathSuffix) {
        return (int) requestedPaths().stream().filter(p -> p.endsWith(pathSuffix)).count();
    }

    public int jwksFetches() {
        return requestCount("/" + ISSUER_ID + "/jwks");
    }

    /** Form parameters of every POST to the token endpoint (client auth sent as Basic is not included). */
    public synchronized List<Map<String, String>> tokenRequests() {
        drain();
        return log.stream()
                .filter(r -> r.method().equals("POST") && r.path().equals("/" + ISSUER_ID + "/token"))
                .map(r -> parseForm(r.body()))
                .toList();
    }

    /** Shuts the HTTP server down ("IdP down"); issuer() etc. keep working. Idempotent. */
    public synchronized void stop() {
        if (!stopped) {
            drain();
            stopped = true;
            server.shutdown();
        }
    }

    @Override
    public void close() {
        stop();
    }

    /** MockWebServer queues every request before dispatching it; move them into our own log. */
    private synchronized void drain() {
        try {
            RecordedRequest r;
            while ((r = http.takeRequest(0, TimeUnit.MILLISECONDS)) != null) {
                String path = r.getRequestUrl() != null ? r.getRequestUrl().encodedPath() : r.getPath();
                log.add(new Recorded(r.getMethod(), path, r.getBody().copy().readUtf8()));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static Map<String, String> parseForm(String body) {
        Map<String, String> params = new LinkedHashMap<>();
        for (String pair : body.split("&")) {
            if (pair.isEmpty()) {
                continue;
            }
            int eq = pair.indexOf('=');
            String name = eq < 0 ? pair : pair.substring(0, eq);
            String value = eq < 0 ? "" : pair.substring(eq + 1);
            params.put(URLDecoder.decode(name, StandardCharsets.UTF_8), URLDecoder.decode(value, StandardCharsets.UTF_8));
        }
        return params;
    }

    private static InetAddress loopback() {
        try {
            // with an explicit host name, so the server never reverse-resolves it to "localhost"
            return InetAddress.getByAddress("127.0.0.1", new byte[] {127, 0, 0, 1});
        } catch (UnknownHostException e) {
            throw new IllegalStateException(e);
        }
    }

    /** mock-oauth2-server's KeyProvider keys its signing key by issuer id (kid = "default"); this one rotates. */
    private static final class RotatingKeyProvider extends KeyProvider {
        private volatile RSAKey current;

        RotatingKeyProvider() {
            super(List.of(), JWSAlgorithm.RS256.getName());
            rotate();
        }

        RSAKey current() {
            return current;
        }

        void rotate() {
            try {
                current = new RSAKeyGenerator(2048).keyID("k-" + UUID.randomUUID().toString().substring(0, 8)).generate();
            } catch (JOSEException e) {
                throw new IllegalStateException(e);
            }
        }

        @Override
        public JWK signingKey(String issuerId) {
            return current;
        }

        @Override
        public List<JWK> get(JWKSelector selector, SecurityContext context) {
            return selector == null ? List.of() : selector.select(new JWKSet(current).toPublicJWKSet());
        }
    }

    /** Token-endpoint callback: aud from RFC 8707 {@code resource}, sub/client_id/azp from the client. */
    private static final class ResourceAudienceCallback implements OAuth2TokenCallback {
        @Override
        public String issuerId() {
            return ISSUER_ID;
        }

        @Override
        public String subject(TokenRequest request) {
            return clientId(request);
        }

        @Override
        public String typeHeader(TokenRequest request) {
            return JOSEObjectType.JWT.getType();
        }

        @Override
        public List<String> audience(TokenRequest request) {
            List<URI> resources = request.getResources();
            return resources == null || resources.isEmpty()
                    ? List.of(DEFAULT_AUDIENCE)
                    : resources.stream().map(URI::toString).toList();
        }

        @Override
        public Map<String, Object> addClaims(TokenRequest request) {
            Map<String, Object> claims = new LinkedHashMap<>();
            String clientId = clientId(request);
            if (clientId != null) {
                claims.put("client_id", clientId);
                claims.put("azp", clientId);
            }
            if (request.getScope() != null) {
                claims.put("scope", request.getScope().toString());
            }
            return claims;
        }

        @Override
        public long tokenExpiry() {
            return 3600;
        }

        static String clientId(TokenRequest request) {
            if (request.getClientAuthentication() != null) {
                return request.getClientAuthentication().getClientID().getValue();
            }
            return request.getClientID() == null ? null : request.getClientID().getValue();
        }
    }

    /** Token-endpoint callback for {@link #startWithTokenExchange()}. */
    private static final class TokenExchangeCallback implements OAuth2TokenCallback {
        @Override
        public String issuerId() {
            return ISSUER_ID;
        }

        @Override
        public String subject(TokenRequest request) {
            // Not consulted for token exchange (the subject token's sub is kept); the client otherwise.
            return ResourceAudienceCallback.clientId(request);
        }

        @Override
        public String typeHeader(TokenRequest request) {
            return JOSEObjectType.JWT.getType();
        }

        @Override
        public List<String> audience(TokenRequest request) {
            List<String> audiences = new ArrayList<>();
            if (request.getAuthorizationGrant() instanceof TokenExchangeGrant exchange && exchange.getAudience() != null) {
                exchange.getAudience().forEach(a -> audiences.add(a.getValue()));
            }
            List<String> custom = request.getCustomParameter("audience");
            if (custom != null) {
                audiences.addAll(custom);
            }
            if (audiences.isEmpty() && request.getResources() != null) {
                request.getResources().forEach(r -> audiences.add(r.toString()));
            }
            return audiences.isEmpty() ? List.of(DEFAULT_AUDIENCE) : audiences;
        }

        @Override
        public Map<String, Object> addClaims(TokenRequest request) {
            Map<String, Object> claims = new LinkedHashMap<>();
            String clientId = ResourceAudienceCallback.clientId(request);
            if (clientId != null) {
                claims.put("client_id", clientId);
                claims.put("azp", clientId);
            }
            boolean exchange = request.getAuthorizationGrant() instanceof TokenExchangeGrant;
            if (request.getScope() != null) {
                claims.put("scope", request.getScope().toString());
            } else if (exchange) {
                claims.put("scope", "");
            }
            if (request.getAuthorizationGrant() instanceof TokenExchangeGrant grant && grant.getActorToken() != null) {
                claims.put("act", Map.of("sub", subjectOf(grant.getActorToken().getValue())));
            }
            return claims;
        }

        @Override
        public long tokenExpiry() {
            return EXCHANGED_TOKEN_LIFETIME;
        }

        private static String subjectOf(String jwt) {
            try {
                return SignedJWT.parse(jwt).getJWTClaimsSet().getSubject();
            } catch (java.text.ParseException e) {
                return "unparseable-actor-token";
            }
        }
    }
}
