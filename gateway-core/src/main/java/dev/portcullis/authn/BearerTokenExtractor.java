package dev.portcullis.authn;

import dev.portcullis.failure.GatewayFailure;
import dev.portcullis.failure.Reason;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.QueryStringDecoder;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Takes the bearer token from the {@code Authorization} header and nowhere else (AUTHN-02).
 *
 * <ul>
 *   <li>no header → {@link Reason#NO_CREDENTIALS} (401 without {@code error}), even when the query
 *       carries {@code access_token}: a query token is never accepted;</li>
 *   <li>two Authorization headers, or a header plus a query token → 400 {@code invalid_request} (AUTHN-03);</li>
 *   <li>a Bearer header whose value is not an RFC 6750 b64token → 400 {@code invalid_request};</li>
 *   <li>another scheme (Basic, DPoP...) → treated as no bearer credentials;</li>
 *   <li>where DPoP is accepted ({@link #extract(HttpHeaders, String, boolean)}): {@code DPoP <token68>} too
 *       (RFC 9449 §7.1), with the same syntax rules.</li>
 * </ul>
 * The scheme name is case-insensitive.
 */
public final class BearerTokenExtractor {

    /** The access token and the scheme it came under ({@code DPoP}: a proof must come with it). */
    public record Presented(BearerToken token, boolean dpop) {}

    public BearerToken extract(HttpHeaders headers, String uri) {
        return extract(headers, uri, false).token();
    }

    /** @param dpopAccepted whether the {@code DPoP} scheme is accepted here (else it counts as no credentials) */
    public Presented extract(HttpHeaders headers, String uri, boolean dpopAccepted) {
        List<String> values = headers.getAll("Authorization");
        boolean queryToken = uri.indexOf('?') >= 0 && queryHasAccessToken(uri);
        if (values.size() > 1) {
            throw GatewayFailure.of(Reason.INVALID_CREDENTIALS_REQUEST, "More than one Authorization header");
        }
        if (values.isEmpty()) {
            throw GatewayFailure.of(Reason.NO_CREDENTIALS, "No bearer token");
        }
        if (queryToken) {
            throw GatewayFailure.of(Reason.INVALID_CREDENTIALS_REQUEST, "Credentials presented more than one way");
        }
        String header = values.get(0).strip();
        int space = header.indexOf(' ');
        String scheme = space < 0 ? header : header.substring(0, space);
        boolean dpop = dpopAccepted && scheme.equalsIgnoreCase("DPoP");
        if (!dpop && !scheme.equalsIgnoreCase("Bearer")) {
            throw GatewayFailure.of(Reason.NO_CREDENTIALS, "No bearer token");
        }
        String token = space < 0 ? "" : header.substring(space + 1).strip();
        // A character beyond Latin-1 becomes '?', which no b64token has; the checked bytes are the token's ASCII (its
        // UTF-8 too), hashed as they are for the cache key.
        byte[] bytes = token.getBytes(StandardCharsets.ISO_8859_1);
        if (!isB64Token(bytes)) {
            throw GatewayFailure.of(Reason.INVALID_CREDENTIALS_REQUEST, "Malformed Authorization header");
        }
        return new Presented(new BearerToken(token, bytes), dpop);
    }

    /**
     * Whether the query names {@code access_token} (however encoded). A query whose percent-encoding is
     * malformed cannot be read, so whether it carries a token cannot be told: 400 (issue 12), not a 500.
     */
    private static boolean queryHasAccessToken(String uri) {
        try {
            return new QueryStringDecoder(uri).parameters().containsKey("access_token");
        } catch (IllegalArgumentException malformed) {
            throw GatewayFailure.of(Reason.INVALID_CREDENTIALS_REQUEST, "Malformed request query",
                    "query with malformed percent-encoding");
        }
    }

    /**
     * RFC 6750 §2.1 {@code b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="}, over the token's
     * Latin-1 bytes. A loop, not a regular expression: this runs on every request (the regex cost ~5% of a proxied
     * call); array reads and a table, no call per character. The check is inlined into the request's dispatch, whose
     * size had left {@code String.charAt} and the table lookup as two calls per character there (~2% of a proxied call
     * in the profile of issue 13, for an 800-character token).
     */
    static boolean isB64Token(byte[] token) {
        int n = token.length;
        int i = 0;
        while (i < n && TOKEN68[token[i] & 0xFF]) {
            i++;
        }
        if (i == 0) {
            return false;
        }
        while (i < n && token[i] == '=') {
            i++;
        }
        return i == n;
    }

    /** Indexed by a byte's unsigned value: true for the b64token characters, false for every byte from 0x80 on. */
    private static final boolean[] TOKEN68 = new boolean[256];

    static {
        for (char c = 0; c < 128; c++) {
            TOKEN68[c] = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
                    || c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/';
        }
    }
}
