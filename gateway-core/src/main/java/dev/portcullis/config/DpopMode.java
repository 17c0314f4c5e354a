package dev.portcullis.config;

import java.util.Locale;

/**
 * Whether DPoP-bound access tokens (RFC 9449) are accepted, per issuer and per route ({@code dpop:}). Where an
 * issuer and a route both say something, the stricter applies ({@link #stricter}).
 *
 * <ul>
 *   <li>{@code off}: the route (or issuer) adds no DPoP of its own;</li>
 *   <li>{@code allowed}: {@code Authorization: DPoP} with a proof is accepted beside {@code Bearer};</li>
 *   <li>{@code required}: only DPoP-bound tokens with a proof; a plain bearer token is refused.</li>
 * </ul>
 * A token that carries a confirmation ({@code cnf}) is never accepted as a bearer token, whatever the mode
 * (RFC 9449 §7.2).
 */
public enum DpopMode {
    OFF, ALLOWED, REQUIRED;

    /**
     * The mode named by {@code text} (null: {@code off}); a config error naming {@code field} otherwise. YAML 1.1
     * reads a bare {@code off} (and {@code no}) as false, which arrives here as {@code "false"}: off too.
     */
    public static DpopMode parse(String field, String text) {
        if (text == null) {
            return OFF;
        }
        return switch (text) {
            case "off", "false" -> OFF;
            case "allowed" -> ALLOWED;
            case "required" -> REQUIRED;
            default -> throw ConfigException.expected(field, text, "off, allowed or required");
        };
    }

    /** The stricter of the two. */
    public DpopMode stricter(DpopMode other) {
        return other.ordinal() > ordinal() ? other : this;
    }

    /** As written in the config. */
    public String text() {
        return name().toLowerCase(Locale.ROOT);
    }
}
