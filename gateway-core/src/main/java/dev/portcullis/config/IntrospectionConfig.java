package dev.portcullis.config;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;

/**
 * Token introspection (RFC 7662) at one issuer ({@code issuers[].introspection}, issue 16, docs/introspection.md): how
 * the gateway judges the issuer's opaque tokens, and optionally its JWTs too (to see a revoked one).
 *
 * <p>The gateway authenticates at the introspection endpoint as it does at a token endpoint: the client fields are
 * validated exactly as {@code upstream-auth}'s ({@link #asClient}), the secret is read once and never shown.
 *
 * @param endpoint         the introspection endpoint; https (plain http only for loopback hosts, as for a token
 *                         endpoint: the gateway's credentials and the caller's token travel there). When absent, the
 *                         {@code introspection_endpoint} of the issuer's discovered metadata, accepted under the rules
 *                         the metadata's {@code jwks_uri} is (SECURITY-03)
 * @param clientId         the gateway's client id at the issuer (Keycloak answers {@code active: true} only to a
 *                         client in the token's {@code aud})
 * @param clientAuth       {@code client_secret_basic} (default), {@code client_secret_post} or {@code private_key_jwt}
 *                         (default with a {@code private-key-file})
 * @param clientSecret     the client secret (write {@code ${ENV}}); after loading, also the contents of the file
 * @param clientSecretFile a file holding the client secret
 * @param privateKeyFile   for {@code private_key_jwt}: a PKCS#8 PEM private key or a JWK, RSA or EC
 * @param keyId            {@code kid} of the client assertion
 * @param algorithm        JWS algorithm of the client assertion
 * @param tokens           which tokens are introspected: {@code opaque} (default: tokens that are not a JWS; JWTs of
 *                         the issuer are verified locally), {@code all} (opaque tokens and the issuer's JWTs: a JWT is
 *                         verified locally <em>and</em> must be active) or {@code jwt} (only the issuer's JWTs, for
 *                         revocation; no opaque tokens)
 * @param cacheMax         a positive answer is reused at most this long, and never past the token's {@code exp}
 *                         (default 60s; 0s: only concurrent requests share an answer); the longest a revoked token
 *                         is still accepted
 * @param negativeCache    an {@code active: false} answer is reused this long (default 10s, at most 5m)
 * @param timeout          one introspection request (connect, send, answer) must finish within it (default 2s);
 *                         exceeded → 503
 */
public record IntrospectionConfig(String endpoint, String clientId, String clientAuth, String clientSecret,
                                  Path clientSecretFile, Path privateKeyFile, String keyId, String algorithm,
                                  String tokens, Duration cacheMax, Duration negativeCache, Duration timeout) {

    /** What a configured issuer introspects. */
    public enum Tokens {
        /** Tokens that are not a JWS; the issuer's JWTs are verified locally only. */
        OPAQUE,
        /** Opaque tokens and the issuer's JWTs. */
        ALL,
        /** The issuer's JWTs only (revocation). */
        JWT;

        public boolean opaque() {
            return this != JWT;
        }

        public boolean jwt() {
            return this != OPAQUE;
        }
    }

    public IntrospectionConfig {
        if (endpoint != null) {
            URI uri = Checks.httpUrl("endpoint", endpoint, true);
            if (uri.getScheme().equalsIgnoreCase("http") && !Checks.isLoopback(uri.getHost())) {
                throw ConfigException.expected("endpoint", endpoint, "https (plain http only for loopback hosts: the "
                        + "gateway's credentials and the caller's token are sent there)");
            }
        }
        Checks.required("client-id", clientId);
        if (clientId.isBlank()) {
            throw ConfigException.expected("client-id", clientId, "the gateway's client id at the issuer");
        }
        if (clientAuth == null) {
            clientAuth = privateKeyFile != null ? "private_key_jwt" : "client_secret_basic";
        }
        // The same checks as a token endpoint client's (the method, one secret or a usable key): one validation.
        UpstreamAuthConfig checked = new UpstreamAuthConfig("client-credentials", null, "https://introspection.invalid/",
                clientId, clientAuth, clientSecret, clientSecretFile, privateKeyFile, keyId, algorithm, null, null, null,
                null, null, null, null);
        clientAuth = checked.clientAuth();
        clientSecret = checked.clientSecret();
        clientSecretFile = null;
        tokens = tokens == null ? "opaque" : tokens;
        try {
            Tokens.valueOf(tokens.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw ConfigException.expected("tokens", tokens, "opaque, all or jwt");
        }
        cacheMax = cacheMax == null ? Duration.ofSeconds(60) : cacheMax;
        negativeCache = negativeCache == null ? Duration.ofSeconds(10) : negativeCache;
        timeout = timeout == null ? Duration.ofSeconds(2) : timeout;
        if (cacheMax.isNegative() || cacheMax.compareTo(Duration.ofHours(1)) > 0) {
            throw ConfigException.expected("cache-max", DurationText.format(cacheMax), "0s..1h");
        }
        if (negativeCache.isNegative() || negativeCache.compareTo(Duration.ofMinutes(5)) > 0) {
            throw ConfigException.expected("negative-cache", DurationText.format(negativeCache), "0s..5m");
        }
        if (timeout.isZero() || timeout.isNegative() || timeout.compareTo(Duration.ofSeconds(60)) > 0) {
            throw ConfigException.expected("timeout", DurationText.format(timeout), "1ms..60s");
        }
    }

    public Tokens parsedTokens() {
        return Tokens.valueOf(tokens.toUpperCase(Locale.ROOT));
    }

    /**
     * These client settings as a client-credentials {@code upstream-auth}: what the token endpoint client
     * authentication ({@code dev.portcullis.exchange.ClientAuthentication}) is built from. Its endpoint is a
     * placeholder: the client authentication is told the introspection endpoint on each request.
     */
    public UpstreamAuthConfig asClient() {
        return new UpstreamAuthConfig("client-credentials", null, "https://introspection.invalid/", clientId, clientAuth, clientSecret, null,
                privateKeyFile, keyId, algorithm, null, null, null, null, timeout, null, null);
    }

    @Override
    public String toString() {
        return "IntrospectionConfig[endpoint=" + endpoint + ", clientId=" + clientId + ", clientAuth=" + clientAuth
                + ", clientSecret=" + (clientSecret == null ? "<none>" : "<redacted>") + ", privateKeyFile=" + privateKeyFile
                + ", tokens=" + tokens + ", cacheMax=" + cacheMax + ", negativeCache=" + negativeCache + ", timeout="
                + timeout + "]";
    }
}
