package dev.portcullis.config;

import com.nimbusds.jose.jwk.AsymmetricJWK;
import com.nimbusds.jose.jwk.JWK;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.interfaces.ECPrivateKey;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Base64;

/**
 * A private key for {@code private_key_jwt} client authentication (RFC 7523), read from a PKCS#8
 * PEM file ({@code -----BEGIN PRIVATE KEY-----}) or a JWK (JSON with the private part), RSA or EC.
 * Its {@link #toString()} never shows key material, and no error message contains any.
 */
public final class PrivateKeyFile {
    private final PrivateKey key;
    private final String keyId;

    private PrivateKeyFile(PrivateKey key, String keyId) {
        this.key = key;
        this.keyId = keyId;
    }

    /** Reads and parses {@code path}; a problem is a {@link ConfigException} for {@code field}. */
    public static PrivateKeyFile read(String field, Path path) {
        String text;
        try {
            text = Files.readString(path, StandardCharsets.UTF_8).strip();
        } catch (IOException | RuntimeException e) {
            throw ConfigException.expected(field, path.toString(), "a readable PKCS#8 PEM or JWK private key file");
        }
        try {
            if (text.startsWith("{")) {
                JWK jwk = JWK.parse(text);
                if (!(jwk instanceof AsymmetricJWK asymmetric) || !jwk.isPrivate()) {
                    throw new GeneralSecurityException("not a private RSA or EC key");
                }
                return new PrivateKeyFile(asymmetric.toPrivateKey(), jwk.getKeyID());
            }
            if (text.contains("-----BEGIN RSA PRIVATE KEY-----") || text.contains("-----BEGIN EC PRIVATE KEY-----")
                    || text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----")) {
                throw ConfigException.expected(field, path.toString(), "an unencrypted PKCS#8 key (-----BEGIN PRIVATE KEY-----);"
                        + " convert with: openssl pkcs8 -topk8 -nocrypt -in KEY -out KEY.pk8");
            }
            String begin = "-----BEGIN PRIVATE KEY-----";
            String end = "-----END PRIVATE KEY-----";
            int from = text.indexOf(begin);
            int to = text.indexOf(end);
            if (from < 0 || to < from) {
                throw new GeneralSecurityException("no PEM private key");
            }
            byte[] der = Base64.getMimeDecoder().decode(text.substring(from + begin.length(), to));
            for (String algorithm : new String[] {"RSA", "EC"}) {
                try {
                    return new PrivateKeyFile(KeyFactory.getInstance(algorithm).generatePrivate(new PKCS8EncodedKeySpec(der)), null);
                } catch (GeneralSecurityException e) {
                    // try the next algorithm
                }
            }
            throw new GeneralSecurityException("neither an RSA nor an EC key");
        } catch (GeneralSecurityException | java.text.ParseException | com.nimbusds.jose.JOSEException
                 | IllegalArgumentException e) {
            throw ConfigException.expected(field, path.toString(), "a PKCS#8 PEM or JWK file with an RSA or EC private key");
        }
    }

    public PrivateKey key() {
        return key;
    }

    /** The JWK's {@code kid}, or null (PEM files carry none). */
    public String keyId() {
        return keyId;
    }

    /** "RSA" or "EC". */
    public String kind() {
        return key.getAlgorithm();
    }

    /** RS256 for RSA; the ES algorithm of the curve for EC. */
    public String defaultAlgorithm() {
        return key instanceof ECPrivateKey ec ? ecAlgorithm(ec) : "RS256";
    }

    /** Whether {@code algorithm} can be used with this key. */
    public boolean fits(String algorithm) {
        return key instanceof ECPrivateKey ec ? algorithm.equals(ecAlgorithm(ec))
                : algorithm.startsWith("RS") || algorithm.startsWith("PS");
    }

    private static String ecAlgorithm(ECPrivateKey key) {
        int bits = key.getParams().getCurve().getField().getFieldSize();
        return bits <= 256 ? "ES256" : bits <= 384 ? "ES384" : "ES512";
    }

    @Override
    public String toString() {
        return "PrivateKeyFile[" + kind() + ", kid=" + keyId + "]";
    }
}
