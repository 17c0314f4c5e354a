package dev.portcullis.authn;

import com.nimbusds.jose.crypto.impl.ECDSA;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.util.Base64URL;
import com.nimbusds.jose.util.JSONObjectUtils;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.Signature;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.UUID;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * DPoP proofs written by hand (header and claims as maps, signed with JCA), so a test can make every malformed one a
 * client or an attacker could send: private members in {@code jwk}, HMAC, duplicated members, claims of the wrong type.
 */
public final class DpopProofs {
    private DpopProofs() {}

    /** A proof in the making: a valid one until the test changes it. */
    public static final class Proof {
        public final Map<String, Object> header = new LinkedHashMap<>();
        public final Map<String, Object> claims = new LinkedHashMap<>();
        private JWK signingKey;
        private byte[] hmacKey;
        private String rawHeader;
        private String rawClaims;

        private Proof(JWK key, String alg, String method, String url, Instant iat, String accessToken) {
            this.signingKey = key;
            header.put("typ", "dpop+jwt");
            header.put("alg", alg);
            header.put("jwk", key.toPublicJWK().toJSONObject());
            claims.put("jti", UUID.randomUUID().toString());
            claims.put("htm", method);
            claims.put("htu", url);
            claims.put("iat", iat.getEpochSecond());
            if (accessToken != null) {
                claims.put("ath", ath(accessToken));
            }
        }

        public Proof header(String name, Object value) {
            if (value == null) header.remove(name); else header.put(name, value);
            return this;
        }

        public Proof claim(String name, Object value) {
            if (value == null) claims.remove(name); else claims.put(name, value);
            return this;
        }

        /** Signs with another key than the one in {@code jwk}. */
        public Proof signedBy(JWK key) {
            this.signingKey = key;
            return this;
        }

        /** HMAC-signed with {@code key} ({@code alg} should then be HS*). */
        public Proof hmac(byte[] key) {
            this.hmacKey = key;
            return this;
        }

        /** The header's JSON exactly as given (e.g. with a member twice). */
        public Proof rawHeader(String json) {
            this.rawHeader = json;
            return this;
        }

        /** The claims' JSON exactly as given. */
        public Proof rawClaims(String json) {
            this.rawClaims = json;
            return this;
        }

        public String sign() {
            try {
                String input = b64(rawHeader != null ? rawHeader : JSONObjectUtils.toJSONString(header)) + "."
                        + b64(rawClaims != null ? rawClaims : JSONObjectUtils.toJSONString(claims));
                byte[] data = input.getBytes(StandardCharsets.US_ASCII);
                byte[] signature;
                String alg = String.valueOf(header.get("alg"));
                if (hmacKey != null) {
                    Mac mac = Mac.getInstance("HmacSHA256");
                    mac.init(new SecretKeySpec(hmacKey, "HmacSHA256"));
                    signature = mac.doFinal(data);
                } else if (signingKey instanceof ECKey ec) {
                    Signature s = Signature.getInstance("SHA" + ec.getCurve().getName().substring(2).replace("521", "512") + "withECDSA");
                    s.initSign(ec.toPrivateKey());
                    s.update(data);
                    int length = ec.getCurve().getName().equals("P-256") ? 64 : ec.getCurve().getName().equals("P-384") ? 96 : 132;
                    signature = ECDSA.transcodeSignatureToConcat(s.sign(), length);
                } else {
                    RSAKey rsa = (RSAKey) signingKey;
                    Signature s = Signature.getInstance(alg.startsWith("PS") ? "RSASSA-PSS" : "SHA256withRSA");
                    if (alg.startsWith("PS")) {
                        s.setParameter(new java.security.spec.PSSParameterSpec("SHA-256", "MGF1",
                                java.security.spec.MGF1ParameterSpec.SHA256, 32, 1));
                    }
                    s.initSign(rsa.toPrivateKey());
                    s.update(data);
                    signature = s.sign();
                }
                return input + "." + Base64URL.encode(signature);
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }
    }

    /** A valid proof by {@code key} ({@code alg}) for the request, bound to {@code accessToken} (null: no ath). */
    public static Proof proof(JWK key, String alg, String method, String url, Instant iat, String accessToken) {
        return new Proof(key, alg, method, url, iat, accessToken);
    }

    /** base64url(SHA-256(token)), as RFC 9449 §4.2 defines {@code ath}. */
    public static String ath(String accessToken) {
        try {
            return Base64URL.encode(MessageDigest.getInstance("SHA-256")
                    .digest(accessToken.getBytes(StandardCharsets.US_ASCII))).toString();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private static String b64(String json) {
        return Base64URL.encode(json.getBytes(StandardCharsets.UTF_8)).toString();
    }
}
