package dev.portcullis.authn;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.nimbusds.jose.EncryptionMethod;
import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWEAlgorithm;
import com.nimbusds.jose.JWEHeader;
import com.nimbusds.jose.JWEObject;
import com.nimbusds.jose.Payload;
import com.nimbusds.jose.crypto.DirectDecrypter;
import com.nimbusds.jose.crypto.DirectEncrypter;
import dev.portcullis.failure.GatewayFailure;
import dev.portcullis.failure.Reason;
import java.security.SecureRandom;
import java.text.ParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import javax.crypto.SecretKey;
import javax.crypto.spec.SecretKeySpec;

/**
 * Binds MCP sessions to the principal that created them (SESSION-01/02, SECURITY-06).
 *
 * <p>The upstream's {@code Mcp-Session-Id} never reaches the client. The client gets a gateway id
 * instead: the upstream id, the route and a fingerprint of the principal (issuer, subject, agent),
 * encrypted and authenticated with AES-256-GCM (compact JWE, {@code dir}), so it is unguessable,
 * visible ASCII, and cannot be forged or moved to another caller. When a request carries it, it is
 * opened and checked: another principal's session, another route's session or an id this gateway
 * did not make is answered {@code 404} like an unknown session, and the upstream is not contacted.
 * A session id is never a credential: the bearer token is checked first, on every request.
 *
 * <p>Stateless: any replica sharing the key ({@code sessions.key-file}) can serve any request of the
 * session; without a configured key each process makes its own, so sessions then need sticky routing.
 * Rotation: ids are sealed with the current key and opened with it or any previous key
 * ({@code sessions.previous-key-files}), so replicas can move to a new key one by one.
 */
public final class SessionBinding {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final JWEHeader HEADER = new JWEHeader(JWEAlgorithm.DIR, EncryptionMethod.A256GCM);
    /**
     * Longer than any id this gateway seals (an upstream session id or a legacy endpoint of reasonable
     * length); anything longer is refused before it is parsed.
     */
    static final int MAX_ID_LENGTH = 4096;

    private final DirectEncrypter encrypter;
    /** The current key first, then the previous ones. */
    private final List<DirectDecrypter> decrypters = new ArrayList<>();

    public SessionBinding(byte[] key) {
        this(key, List.of());
    }

    public SessionBinding(byte[] key, List<byte[]> previousKeys) {
        try {
            this.encrypter = new DirectEncrypter(secret(key));
            // Issue 17 (found by ApprovalBlockHoundTest's sibling hunt): the IV of every sealed value came from the
            // default SecureRandom, which reads /dev/urandom on each call, on the event loop. A DRBG seeded once does not.
            this.encrypter.getJCAContext().setSecureRandom(dev.portcullis.approval.ApprovalBinding.nonBlockingRandom());
            decrypters.add(new DirectDecrypter(secret(key)));
            for (byte[] previous : previousKeys) {
                decrypters.add(new DirectDecrypter(secret(previous)));
            }
        } catch (JOSEException e) {
            throw new IllegalStateException(e);
        }
    }

    private static SecretKey secret(byte[] key) {
        if (key.length != 32) {
            throw new IllegalArgumentException("a session key is 32 bytes (AES-256)");
        }
        return new SecretKeySpec(key, "AES");
    }

    /** A binding with a fresh random key (one process; sessions need sticky routing across replicas). */
    public static SessionBinding withRandomKey() {
        byte[] key = new byte[32];
        new SecureRandom().nextBytes(key);
        return new SessionBinding(key);
    }

    /** The gateway session id the client gets for the upstream's {@code upstreamId}. */
    public String seal(String upstreamId, Principal principal, String route) {
        try {
            byte[] claims = JSON.writeValueAsBytes(Map.of("u", upstreamId, "p", fingerprint(principal), "r", route));
            JWEObject jwe = new JWEObject(HEADER, new Payload(claims));
            jwe.encrypt(encrypter);
            return jwe.serialize();
        } catch (JOSEException | com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException("cannot seal a session id", e);
        }
    }

    /** The upstream session id behind {@code gatewayId}, if it belongs to this principal and route; else 404. */
    public String open(String gatewayId, Principal principal, String route) {
        if (gatewayId == null || gatewayId.isEmpty() || gatewayId.length() > MAX_ID_LENGTH) {
            throw notFound("not a gateway session id");
        }
        try {
            JWEObject jwe = JWEObject.parse(gatewayId);
            if (!JWEAlgorithm.DIR.equals(jwe.getHeader().getAlgorithm())
                    || !EncryptionMethod.A256GCM.equals(jwe.getHeader().getEncryptionMethod())) {
                throw notFound("not a gateway session id");
            }
            decrypt(jwe);
            JsonNode claims = JSON.readTree(jwe.getPayload().toBytes());
            if (!fingerprint(principal).equals(claims.path("p").asText()) || !route.equals(claims.path("r").asText())) {
                throw notFound("session belongs to another principal or route");
            }
            String upstream = claims.path("u").asText("");
            if (upstream.isEmpty()) {
                throw notFound("no upstream session");
            }
            return upstream;
        } catch (GatewayFailure failure) {
            throw failure;
        } catch (ParseException | JOSEException | java.io.IOException | RuntimeException e) {
            // Issue 12: whatever the parser makes of a crafted id (a header without "enc" threw an unchecked
            // exception), it is an unknown session: 404, and no stack trace in the log.
            throw notFound("not a gateway session id (" + e.getClass().getSimpleName() + ")");
        }
    }

    /**
     * Issue 17: seals {@code claims} (a small JSON object) exactly as session ids are sealed: only a replica holding
     * the key can read or make it. Claims sealed here carry {@code t} (their type) and never {@code u}, so a sealed
     * value of one kind is never accepted as the other.
     */
    public String sealClaims(String type, Map<String, Object> claims) {
        try {
            Map<String, Object> all = new java.util.LinkedHashMap<>(claims);
            all.remove("u");
            all.put("t", type);
            JWEObject jwe = new JWEObject(HEADER, new Payload(JSON.writeValueAsBytes(all)));
            jwe.encrypt(encrypter);
            return jwe.serialize();
        } catch (JOSEException | com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException("cannot seal", e);
        }
    }

    /** Issue 17: the claims {@link #sealClaims} sealed with {@code type}, or empty for anything else (never throws). */
    public java.util.Optional<JsonNode> openClaims(String type, String sealed) {
        if (sealed == null || sealed.isEmpty() || sealed.length() > MAX_ID_LENGTH) {
            return java.util.Optional.empty();
        }
        try {
            JWEObject jwe = JWEObject.parse(sealed);
            if (!JWEAlgorithm.DIR.equals(jwe.getHeader().getAlgorithm())
                    || !EncryptionMethod.A256GCM.equals(jwe.getHeader().getEncryptionMethod())) {
                return java.util.Optional.empty();
            }
            decrypt(jwe);
            JsonNode claims = JSON.readTree(jwe.getPayload().toBytes());
            if (claims == null || !claims.isObject() || !type.equals(claims.path("t").asText(null)) || claims.has("u")) {
                return java.util.Optional.empty();
            }
            return java.util.Optional.of(claims);
        } catch (ParseException | JOSEException | java.io.IOException | RuntimeException e) {
            return java.util.Optional.empty();
        }
    }

    /** Issue 17: the principal's fingerprint (issuer, subject, agent), as sealed session ids carry it. */
    public static String principalFingerprint(Principal principal) {
        return fingerprint(principal);
    }

    /** Opens with the current key, else with a previous one (a failed attempt leaves the object encrypted). */
    private void decrypt(JWEObject jwe) throws JOSEException {
        JOSEException last = null;
        for (DirectDecrypter decrypter : decrypters) {
            try {
                jwe.decrypt(decrypter);
                return;
            } catch (JOSEException e) {
                last = e;
            }
        }
        throw last;
    }

    private static GatewayFailure notFound(String detail) {
        return GatewayFailure.of(Reason.SESSION_NOT_FOUND, "Session not found", detail);
    }

    /** Issuer, subject and agent: the same user through another agent is another principal. */
    static String fingerprint(Principal principal) {
        return dev.portcullis.Sha256.hex(principal.issuer() + "\n" + principal.subject() + "\n" + principal.agent()).substring(0, 32);
    }

}
