package dev.portcullis.inspect;

import dev.portcullis.failure.GatewayFailure;
import dev.portcullis.failure.Reason;
import io.netty.handler.codec.http.HttpHeaders;
import java.util.List;
import java.util.Locale;

/**
 * The body the gateway inspects is the body the upstream reads, byte for byte and character for
 * character (issue 12, item 6). JSON exchanged between systems is UTF-8 (RFC 8259 §8.1), and the
 * gateway parses POST bodies as strict UTF-8, so a POST is accepted only as:
 *
 * <ul>
 *   <li>exactly one {@code Content-Type}, whose media type is {@code application/json} (case-insensitive,
 *       RFC 9110 §8.3.1), with a {@code charset} parameter, if any, of {@code utf-8} (case-insensitive,
 *       quoted or not), given at most once; other parameters are ignored, and the upstream is always sent
 *       {@code Content-Type: application/json} (the media type the body was inspected as, nothing else);</li>
 *   <li>no {@code Content-Encoding} other than {@code identity}: the gateway would inspect the encoded
 *       bytes while the upstream decodes them.</li>
 * </ul>
 * Anything else is 415 with a message naming what to send; the upstream is not contacted.
 */
public final class JsonContentType {
    /** What the upstream is told the forwarded body is. */
    public static final String FORWARDED = "application/json";

    private JsonContentType() {}

    /** @throws GatewayFailure 415 for anything but a single UTF-8 {@code application/json} body without content coding */
    public static void require(HttpHeaders headers) {
        List<String> types = headers.getAll("Content-Type");
        if (types.size() != 1) {
            throw unsupported(types.isEmpty() ? "Content-Type must be application/json"
                    : "Content-Type must be given once", types.size() + " Content-Type headers");
        }
        check(types.get(0));
        for (String coding : headers.getAll("Content-Encoding")) {
            for (String token : coding.split(",", -1)) {
                if (!token.strip().equalsIgnoreCase("identity")) {
                    throw unsupported("Content-Encoding is not supported: send the JSON body unencoded",
                            "Content-Encoding " + printable(coding));
                }
            }
        }
    }

    /** As {@link #require(HttpHeaders)}, for one {@code Content-Type} value. */
    static void check(String value) {
        String[] parts = value.split(";", -1);
        if (!parts[0].strip().toLowerCase(Locale.ROOT).equals("application/json")) {
            throw unsupported("Content-Type must be application/json", "Content-Type " + printable(value));
        }
        boolean charset = false;
        for (int i = 1; i < parts.length; i++) {
            String parameter = parts[i].strip();
            if (parameter.isEmpty()) {
                continue; // "application/json;" - an empty parameter, as RFC 9110 allows
            }
            int eq = parameter.indexOf('=');
            String name = (eq < 0 ? parameter : parameter.substring(0, eq)).strip().toLowerCase(Locale.ROOT);
            String raw = eq < 0 ? "" : parameter.substring(eq + 1).strip();
            if (!name.startsWith("charset")) {
                continue;
            }
            // charset, and RFC 2231's charset* / charset*0: only a plain charset=utf-8, once.
            String unquoted = raw.length() >= 2 && raw.startsWith("\"") && raw.endsWith("\"")
                    ? raw.substring(1, raw.length() - 1) : raw;
            if (!name.equals("charset") || charset || !unquoted.equalsIgnoreCase("utf-8")) {
                throw unsupported("Content-Type must be application/json; no charset other than utf-8 (JSON is UTF-8: RFC 8259)",
                        "Content-Type " + printable(value));
            }
            charset = true;
        }
    }

    private static GatewayFailure unsupported(String description, String detail) {
        return GatewayFailure.of(Reason.UNSUPPORTED_MEDIA_TYPE, description, detail);
    }

    /** For the operator's log: a bounded, printable copy of a header value. */
    private static String printable(String value) {
        StringBuilder out = new StringBuilder(Math.min(value.length(), 80));
        for (int i = 0; i < value.length() && i < 80; i++) {
            char c = value.charAt(i);
            out.append(c >= 0x20 && c < 0x7F && c != '"' ? c : '?');
        }
        return out.toString();
    }
}
