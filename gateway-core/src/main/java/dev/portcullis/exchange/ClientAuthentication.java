package dev.portcullis.exchange;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.JWSSigner;
import com.nimbusds.jose.crypto.ECDSASigner;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import dev.portcullis.config.PrivateKeyFile;
import dev.portcullis.config.UpstreamAuthConfig;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.security.interfaces.ECPrivateKey;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Date;
import java.util.Map;
import java.util.UUID;

/**
 * How the gateway authenticates itself at the token endpoint (RFC 6749 §2.3, RFC 7523 §2.2):
 * {@code client_secret_basic}, {@code client_secret_post} or {@code private_key_jwt}. Holds the
 * secret or key; {@link #toString()} shows neither.
 */
public final class ClientAuthentication {
    static final String JWT_BEARER_ASSERTION = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
    /** Lifetime of a client assertion: long enough for clock differences, short enough to be useless if leaked. */
    static final Duration ASSERTION_LIFETIME = Duration.ofSeconds(60);

    private final UpstreamAuthConfig.ClientAuth method;
    private final String clientId;
    private final String secret;
    private final JWSSigner signer;
    private final JWSHeader header;
    private final Clock clock;

    private ClientAuthentication(UpstreamAuthConfig.ClientAuth method, String clientId, String secret, JWSSigner signer,
                                 JWSHeader header, Clock clock) {
        this.method = method;
        this.clientId = clientId;
        this.secret = secret;
        this.signer = signer;
        this.header = header;
        this.clock = clock;
    }

    /** From a validated {@code upstream-auth} of type token-exchange or client-credentials. */
    public static ClientAuthentication from(UpstreamAuthConfig config, Clock clock) {
        return from(config, config.parsedClientAuth(), clock);
    }

    /** With the method chosen from a discovered {@code token_endpoint_auth_methods_supported}. */
    static ClientAuthentication from(UpstreamAuthConfig config, UpstreamAuthConfig.ClientAuth method, Clock clock) {
        if (method != UpstreamAuthConfig.ClientAuth.PRIVATE_KEY_JWT) {
            return new ClientAuthentication(method, config.clientId(), config.clientSecret(), null, null, clock);
        }
        PrivateKeyFile key = PrivateKeyFile.read("private-key-file", config.privateKeyFile());
        String algorithm = config.algorithm() != null ? config.algorithm() : key.defaultAlgorithm();
        String keyId = config.keyId() != null ? config.keyId() : key.keyId();
        JWSSigner signer;
        try {
            signer = key.key() instanceof ECPrivateKey ec ? new ECDSASigner(ec) : new RSASSASigner(key.key());
        } catch (JOSEException e) {
            throw new IllegalStateException("private-key-file: the key cannot sign " + algorithm, e);
        }
        JWSHeader header = new JWSHeader.Builder(JWSAlgorithm.parse(algorithm)).keyID(keyId).build();
        return new ClientAuthentication(method, config.clientId(), null, signer, header, clock);
    }

    public String clientId() {
        return clientId;
    }

    /**
     * Adds this client's credentials to a token request.
     *
     * @param form          the form parameters (client_id, client_secret or client_assertion are added)
     * @param headers       request headers ({@code Authorization: Basic} is added)
     * @param tokenEndpoint the audience of a client assertion (RFC 7523 §3)
     */
    public void apply(Map<String, String> form, Map<String, String> headers, String tokenEndpoint) {
        switch (method) {
            case CLIENT_SECRET_BASIC -> {
                // RFC 6749 §2.3.1: both parts form-encoded before Base64.
                String pair = formEncode(clientId) + ":" + formEncode(secret);
                headers.put("Authorization", "Basic " + Base64.getEncoder().encodeToString(pair.getBytes(StandardCharsets.UTF_8)));
            }
            case CLIENT_SECRET_POST -> {
                form.put("client_id", clientId);
                form.put("client_secret", secret);
            }
            case PRIVATE_KEY_JWT -> {
                form.put("client_id", clientId);
                form.put("client_assertion_type", JWT_BEARER_ASSERTION);
                form.put("client_assertion", assertion(tokenEndpoint));
            }
        }
    }

    /** RFC 7523 §3: iss = sub = client id, aud = the token endpoint, a fresh jti, a short exp. */
    private String assertion(String tokenEndpoint) {
        Instant now = clock.instant();
        JWTClaimsSet claims = new JWTClaimsSet.Builder()
                .issuer(clientId)
                .subject(clientId)
                .audience(tokenEndpoint)
                .jwtID(UUID.randomUUID().toString())
                .issueTime(Date.from(now))
                .expirationTime(Date.from(now.plus(ASSERTION_LIFETIME)))
                .build();
        SignedJWT jwt = new SignedJWT(header, claims);
        try {
            jwt.sign(signer);
        } catch (JOSEException e) {
            throw new IllegalStateException("signing the client assertion failed", e);
        }
        return jwt.serialize();
    }

    static String formEncode(String value) {
        return URLEncoder.encode(value, StandardCharsets.UTF_8);
    }

    @Override
    public String toString() {
        return "ClientAuthentication[" + method.name().toLowerCase(java.util.Locale.ROOT) + ", client_id=" + clientId + "]";
    }
}
