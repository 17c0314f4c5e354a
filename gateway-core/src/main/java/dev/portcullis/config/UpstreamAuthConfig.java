package dev.portcullis.config;

import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * How the gateway authenticates to the upstream. The caller's token is never forwarded: there
 * is no passthrough mode (EXCHANGE-10).
 *
 * <p>Secrets ({@code client-secret}, the contents of {@code client-secret-file}) are read once at
 * load, are never part of an error message, and never appear in {@link #toString()}.
 *
 * @param type             {@code none} (no credentials upstream, the default), {@code token-exchange} (a token
 *                         minted for the upstream on the caller's behalf) or {@code client-credentials} (the
 *                         gateway's own token)
 * @param flavor           for {@code token-exchange}: {@code rfc8693} (default) or {@code entra-obo} (Microsoft
 *                         Entra on-behalf-of, a JWT-bearer grant)
 * @param tokenEndpoint    the IdP's token endpoint; https (plain http only on loopback). When absent, the
 *                         {@code token_endpoint} of {@link #issuer}'s discovered metadata (RFC 8414 / OpenID)
 * @param clientId         the gateway's client id at the IdP
 * @param clientAuth       {@code client_secret_basic}, {@code client_secret_post} or {@code private_key_jwt}; default
 *                         {@code private_key_jwt} with a {@code private-key-file}, else {@code client_secret_basic} — or,
 *                         when the token endpoint is discovered, the first of basic/post that the metadata's
 *                         {@code token_endpoint_auth_methods_supported} lists
 * @param clientSecret     the client secret (write {@code ${ENV}}); after loading, also holds the contents of
 *                         {@code client-secret-file}
 * @param clientSecretFile a file holding the client secret (trailing whitespace is dropped)
 * @param privateKeyFile   for {@code private_key_jwt}: a PKCS#8 PEM private key or a JWK (JSON), RSA or EC
 * @param keyId            {@code kid} of the client assertion (default: the JWK's {@code kid}, else none)
 * @param algorithm        JWS algorithm of the client assertion (default RS256 for RSA keys, ES256/384/512 for EC)
 * @param audience         RFC 8693 {@code audience}: the upstream's logical name at the IdP
 * @param resource         RFC 8707 {@code resource}: the upstream's URI
 * @param scopes           scopes requested for the upstream when policy names none (EXCHANGE-07)
 * @param actorToken       send the gateway's own client-credentials token as {@code actor_token} (EXCHANGE-03)
 * @param timeout          time allowed for one token request (default 5s); exceeded → 503
 * @param safetyMargin     a cached token is dropped this long before it expires (default 30s)
 * @param negativeCache    a failed token request is remembered this long per cache key (default 5s)
 * @param issuer           which configured issuer's metadata names the token endpoint (only without
 *                         {@code token-endpoint}; default: the only configured issuer)
 * @param authorizationServer for flavor {@code id-jag} (issue 16, enterprise-managed authorization): the upstream's own
 *                         authorization server, where the Identity Assertion JWT Authorization Grant the enterprise
 *                         IdP issued is redeemed (RFC 7523 JWT bearer grant) for the upstream's access token
 */
public record UpstreamAuthConfig(String type, String flavor, String tokenEndpoint, String clientId, String clientAuth,
                                 String clientSecret, Path clientSecretFile, Path privateKeyFile, String keyId,
                                 String algorithm, String audience, String resource, List<String> scopes,
                                 Boolean actorToken, Duration timeout, Duration safetyMargin, Duration negativeCache,
                                 String issuer, AuthorizationServer authorizationServer) {

    /**
     * The upstream's authorization server (flavor {@code id-jag}): its token endpoint and the gateway's client there.
     * Validated as a client-credentials client of its own ({@link #asClient}): secrets read once, never shown.
     */
    public record AuthorizationServer(String tokenEndpoint, String clientId, String clientAuth, String clientSecret,
                                      Path clientSecretFile, Path privateKeyFile, String keyId, String algorithm) {
        public AuthorizationServer {
            Checks.required("token-endpoint", tokenEndpoint);
            UpstreamAuthConfig checked = new UpstreamAuthConfig("client-credentials", null, tokenEndpoint, clientId, clientAuth,
                    clientSecret, clientSecretFile, privateKeyFile, keyId, algorithm, null, null, null, null, null, null, null);
            clientAuth = checked.clientAuth();
            clientSecret = checked.clientSecret();
        }

        /** This client as the token-endpoint settings of a client-credentials client (what builds its client). */
        public UpstreamAuthConfig asClient(Duration timeout) {
            return new UpstreamAuthConfig("client-credentials", null, tokenEndpoint, clientId, clientAuth, clientSecret, null,
                    privateKeyFile, keyId, algorithm, null, null, null, null, timeout, null, null);
        }

        @Override
        public String toString() {
            return "AuthorizationServer[tokenEndpoint=" + tokenEndpoint + ", clientId=" + clientId + "]";
        }
    }

    /** Without an upstream authorization server (every flavor but id-jag). */
    public UpstreamAuthConfig(String type, String flavor, String tokenEndpoint, String clientId, String clientAuth,
                              String clientSecret, Path clientSecretFile, Path privateKeyFile, String keyId,
                              String algorithm, String audience, String resource, List<String> scopes,
                              Boolean actorToken, Duration timeout, Duration safetyMargin, Duration negativeCache,
                              String issuer) {
        this(type, flavor, tokenEndpoint, clientId, clientAuth, clientSecret, clientSecretFile, privateKeyFile, keyId,
                algorithm, audience, resource, scopes, actorToken, timeout, safetyMargin, negativeCache, issuer, null);
    }

    /** With the token endpoint given (tests). */
    public UpstreamAuthConfig(String type, String flavor, String tokenEndpoint, String clientId, String clientAuth,
                              String clientSecret, Path clientSecretFile, Path privateKeyFile, String keyId,
                              String algorithm, String audience, String resource, List<String> scopes,
                              Boolean actorToken, Duration timeout, Duration safetyMargin, Duration negativeCache) {
        this(type, flavor, tokenEndpoint, clientId, clientAuth, clientSecret, clientSecretFile, privateKeyFile, keyId,
                algorithm, audience, resource, scopes, actorToken, timeout, safetyMargin, negativeCache, null, null);
    }

    public enum Type { NONE, TOKEN_EXCHANGE, CLIENT_CREDENTIALS }

    public enum Flavor { RFC8693, ENTRA_OBO, ID_JAG }

    public enum ClientAuth { CLIENT_SECRET_BASIC, CLIENT_SECRET_POST, PRIVATE_KEY_JWT }

    /** Client assertion algorithms (private_key_jwt); asymmetric only. */
    public static final Set<String> ASSERTION_ALGORITHMS = Set.of(
            "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512");

    public UpstreamAuthConfig {
        type = type == null ? "none" : type;
        Type parsedType = parse(Type.class, "type", type, "none, token-exchange or client-credentials (there is no passthrough mode)");
        scopes = scopes == null ? List.of() : List.copyOf(scopes);
        if (parsedType == Type.NONE) {
            onlyWithCredentials("flavor", flavor);
            onlyWithCredentials("token-endpoint", tokenEndpoint);
            onlyWithCredentials("client-id", clientId);
            onlyWithCredentials("client-auth", clientAuth);
            onlyWithCredentials("client-secret", clientSecret == null ? null : "<secret>");
            onlyWithCredentials("client-secret-file", clientSecretFile);
            onlyWithCredentials("private-key-file", privateKeyFile);
            onlyWithCredentials("key-id", keyId);
            onlyWithCredentials("algorithm", algorithm);
            onlyWithCredentials("audience", audience);
            onlyWithCredentials("resource", resource);
            onlyWithCredentials("scopes", scopes.isEmpty() ? null : scopes);
            onlyWithCredentials("actor-token", actorToken);
            onlyWithCredentials("timeout", timeout);
            onlyWithCredentials("safety-margin", safetyMargin);
            onlyWithCredentials("negative-cache", negativeCache);
            onlyWithCredentials("issuer", issuer);
            onlyWithCredentials("authorization-server", authorizationServer);
        } else {
            Flavor parsedFlavor = null;
            if (parsedType == Type.TOKEN_EXCHANGE) {
                flavor = flavor == null ? "rfc8693" : flavor;
                parsedFlavor = parse(Flavor.class, "flavor", flavor, "rfc8693, entra-obo or id-jag");
            } else if (flavor != null) {
                throw ConfigException.expected("flavor", flavor, "only with type token-exchange");
            }
            if (tokenEndpoint != null) {
                URI endpoint = Checks.httpUrl("token-endpoint", tokenEndpoint, true);
                if (endpoint.getScheme().equalsIgnoreCase("http") && !Checks.isLoopback(endpoint.getHost())) {
                    throw ConfigException.expected("token-endpoint", tokenEndpoint, "https (plain http only for loopback hosts: EXCHANGE-09)");
                }
                if (issuer != null) {
                    throw new ConfigException("issuer", "is set together with token-endpoint (expected: one of them; "
                            + "issuer names whose discovered metadata gives the token endpoint)");
                }
            }
            // Whether GatewayConfig can resolve the endpoint (issuer known, has metadata) is checked there.
            Checks.required("client-id", clientId);
            if (clientId.isBlank()) {
                throw ConfigException.expected("client-id", clientId, "the gateway's client id at the IdP");
            }
            if (clientAuth == null && privateKeyFile != null) {
                clientAuth = "private_key_jwt";
            } else if (clientAuth == null && tokenEndpoint != null) {
                clientAuth = "client_secret_basic";
            }
            // Still null: a client secret, method chosen from the discovered token_endpoint_auth_methods_supported.
            ClientAuth parsedAuth = clientAuth == null ? ClientAuth.CLIENT_SECRET_BASIC : parse(ClientAuth.class, "client-auth",
                    clientAuth, "client_secret_basic, client_secret_post or private_key_jwt");
            if (parsedAuth == ClientAuth.PRIVATE_KEY_JWT) {
                if (clientSecret != null || clientSecretFile != null) {
                    throw new ConfigException(clientSecret != null ? "client-secret" : "client-secret-file",
                            "is set (expected: no client secret with client-auth private_key_jwt)");
                }
                Checks.required("private-key-file", privateKeyFile);
                PrivateKeyFile key = PrivateKeyFile.read("private-key-file", privateKeyFile);
                String effective = algorithm != null ? algorithm : key.defaultAlgorithm();
                if (!ASSERTION_ALGORITHMS.contains(effective) || !key.fits(effective)) {
                    throw ConfigException.expected("algorithm", effective, key.kind() + " algorithms: one of "
                            + ASSERTION_ALGORITHMS.stream().filter(key::fits).sorted().toList());
                }
            } else {
                notWith("private-key-file", privateKeyFile, clientAuth);
                notWith("key-id", keyId, clientAuth);
                notWith("algorithm", algorithm, clientAuth);
                clientSecret = secret(clientSecret, clientSecretFile);
            }
            if (parsedFlavor == Flavor.ENTRA_OBO) {
                notWith("audience", audience, "flavor entra-obo (name the upstream in scopes, e.g. api://todo/.default)");
                notWith("resource", resource, "flavor entra-obo (name the upstream in scopes, e.g. api://todo/.default)");
                notWith("actor-token", actorToken, "flavor entra-obo");
                if (scopes.isEmpty()) {
                    throw new ConfigException("scopes", "is required with flavor entra-obo (expected: e.g. [api://todo/.default])");
                }
            }
            if (parsedFlavor == Flavor.ID_JAG) {
                // The grant is addressed to the upstream's authorization server (its issuer is the audience), and
                // redeemed there: both are needed (issue 16).
                if (audience == null) {
                    throw new ConfigException("audience", "is required with flavor id-jag (expected: the issuer of the"
                            + " upstream's authorization server, to which the grant is addressed)");
                }
                Checks.required("authorization-server", authorizationServer);
                notWith("actor-token", actorToken, "flavor id-jag");
            } else if (authorizationServer != null) {
                throw new ConfigException("authorization-server", "is set (expected: only with flavor id-jag)");
            }
            if (parsedFlavor == Flavor.RFC8693 && audience == null && resource == null) {
                throw new ConfigException("audience", "is required (expected: audience and/or resource naming the upstream: EXCHANGE-02)");
            }
            if (parsedType == Type.CLIENT_CREDENTIALS) {
                notWith("actor-token", actorToken, "type client-credentials (the gateway's own token is the credential)");
            }
            if (audience != null && audience.isBlank()) {
                throw ConfigException.expected("audience", audience, "the upstream's name at the IdP");
            }
            if (resource != null) {
                absoluteUri("resource", resource);
            }
            for (String scope : scopes) {
                if (scope.isEmpty() || !scope.matches("[\\x21\\x23-\\x5B\\x5D-\\x7E]+")) {
                    throw ConfigException.expected("scopes", scope, "RFC 6749 scope tokens (no spaces, quotes or backslashes)");
                }
            }
            actorToken = actorToken != null && actorToken;
            timeout = timeout == null ? Duration.ofSeconds(5) : timeout;
            safetyMargin = safetyMargin == null ? Duration.ofSeconds(30) : safetyMargin;
            negativeCache = negativeCache == null ? Duration.ofSeconds(5) : negativeCache;
            if (timeout.isZero() || timeout.compareTo(Duration.ofSeconds(60)) > 0) {
                throw ConfigException.expected("timeout", DurationText.format(timeout), "1ms..60s");
            }
            if (safetyMargin.compareTo(Duration.ofMinutes(10)) > 0) {
                throw ConfigException.expected("safety-margin", DurationText.format(safetyMargin), "0s..10m");
            }
            if (negativeCache.compareTo(Duration.ofMinutes(5)) > 0) {
                throw ConfigException.expected("negative-cache", DurationText.format(negativeCache), "0s..5m");
            }
        }
    }

    public static UpstreamAuthConfig none() {
        return new UpstreamAuthConfig(null, null, null, null, null, null, null, null, null, null, null, null, null,
                null, null, null, null, null, null);
    }

    public Type parsedType() {
        return Type.valueOf(enumName(type));
    }

    /** The token-exchange flavor; {@code null} for other types. */
    public Flavor parsedFlavor() {
        return flavor == null ? null : Flavor.valueOf(enumName(flavor));
    }

    /** Whether the token endpoint comes from the issuer's discovered metadata (no {@code token-endpoint}). */
    public boolean discoversTokenEndpoint() {
        return parsedType() != Type.NONE && tokenEndpoint == null;
    }

    /**
     * The client authentication method; {@code null} for type none, and when it is to be chosen from the
     * discovered metadata ({@link #clientAuthFor}).
     */
    public ClientAuth parsedClientAuth() {
        return clientAuth == null ? null : ClientAuth.valueOf(enumName(clientAuth));
    }

    /**
     * The method to use at a discovered token endpoint: the configured one, else the first of
     * {@code client_secret_basic}, {@code client_secret_post} that {@code supported} lists; null when the IdP
     * lists neither (the gateway cannot authenticate with a secret there).
     */
    public ClientAuth clientAuthFor(List<String> supported) {
        ClientAuth configured = parsedClientAuth();
        if (configured != null) {
            return configured;
        }
        for (ClientAuth method : List.of(ClientAuth.CLIENT_SECRET_BASIC, ClientAuth.CLIENT_SECRET_POST)) {
            if (supported.contains(method.name().toLowerCase(Locale.ROOT))) {
                return method;
            }
        }
        return null;
    }

    @Override
    public String toString() {
        return "UpstreamAuthConfig[type=" + type + ", flavor=" + flavor + ", tokenEndpoint=" + tokenEndpoint
                + ", clientId=" + clientId + ", clientAuth=" + clientAuth
                + ", clientSecret=" + (clientSecret == null ? "<none>" : "<redacted>")
                + ", clientSecretFile=" + clientSecretFile + ", privateKeyFile=" + privateKeyFile + ", keyId=" + keyId
                + ", algorithm=" + algorithm + ", audience=" + audience + ", resource=" + resource + ", scopes=" + scopes
                + ", actorToken=" + actorToken + ", timeout=" + timeout + ", safetyMargin=" + safetyMargin
                + ", negativeCache=" + negativeCache + ", issuer=" + issuer + "]";
    }

    /** Exactly one of {@code client-secret} and {@code client-secret-file}; the file is read now. */
    private static String secret(String inline, Path file) {
        if (inline != null && file != null) {
            throw new ConfigException("client-secret-file", "is set together with client-secret (expected: one of them)");
        }
        if (file != null) {
            String text;
            try {
                text = Files.readString(file, StandardCharsets.UTF_8).strip();
            } catch (IOException | RuntimeException e) {
                throw ConfigException.expected("client-secret-file", file.toString(), "a readable file holding the client secret");
            }
            if (text.isEmpty()) {
                throw ConfigException.expected("client-secret-file", file.toString(), "a file holding the client secret (it is empty)");
            }
            return text;
        }
        if (inline == null || inline.isEmpty()) {
            throw new ConfigException("client-secret", "is required (expected: client-secret: ${ENV_VARIABLE} or client-secret-file)");
        }
        return inline;
    }

    /** An RFC 8707 resource indicator: an absolute URI without fragment. */
    private static void absoluteUri(String field, String value) {
        try {
            URI uri = new URI(value);
            if (uri.isAbsolute() && uri.getFragment() == null) {
                return;
            }
        } catch (URISyntaxException e) {
            // reported below
        }
        throw ConfigException.expected(field, value, "an absolute URI without fragment (RFC 8707)");
    }

    private static <E extends Enum<E>> E parse(Class<E> type, String field, String value, String expectation) {
        try {
            return Enum.valueOf(type, enumName(value));
        } catch (IllegalArgumentException e) {
            throw ConfigException.expected(field, value, expectation);
        }
    }

    private static String enumName(String value) {
        return value.toUpperCase(Locale.ROOT).replace('-', '_');
    }

    private static void onlyWithCredentials(String field, Object value) {
        if (value != null) {
            throw new ConfigException(field, "is set (expected: only with type token-exchange or client-credentials)");
        }
    }

    private static void notWith(String field, Object value, String what) {
        if (value != null) {
            throw new ConfigException(field, "is set (expected: not used with " + what + ")");
        }
    }
}
