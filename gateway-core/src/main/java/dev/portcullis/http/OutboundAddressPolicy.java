package dev.portcullis.http;

import io.netty.util.NetUtil;
import java.net.InetAddress;
import java.net.URI;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Which addresses the gateway's own fetches (issuer metadata, JWKS, token endpoint) may connect to
 * (SECURITY-03). Public addresses are allowed; loopback, private, link-local, multicast,
 * unspecified, shared (CGNAT), documentation and reserved addresses are refused unless
 *
 * <ul>
 *   <li>they lie in an {@code outbound.allow-private} range, or</li>
 *   <li>they are loopback and the URL names that address literally ({@code http://127.0.0.1:8080/jwks},
 *       {@code http://[::1]/}) and a configured URL named it too: the operator wrote exactly this address,
 *       so no DNS answer or metadata document can have chosen it. A name such as {@code localhost}
 *       does not count: it is resolved, and its answer is judged like any other.</li>
 * </ul>
 *
 * IPv6 forms that carry an IPv4 address (IPv4-mapped {@code ::ffff:a.b.c.d}, NAT64 {@code 64:ff9b::/96},
 * 6to4 {@code 2002::/16}) are judged by the IPv4 address they carry. The decision is taken on the
 * resolved address that is then connected to ({@link GuardedAddressResolverGroup}).
 */
public final class OutboundAddressPolicy {
    private final List<AddressRange> allowPrivate;
    private final Set<InetAddress> loopbackLiterals;
    private final boolean anyLoopbackLiteral;

    private OutboundAddressPolicy(List<AddressRange> allowPrivate, Set<InetAddress> loopbackLiterals,
                                  boolean anyLoopbackLiteral) {
        this.allowPrivate = List.copyOf(allowPrivate);
        this.loopbackLiterals = Set.copyOf(loopbackLiterals);
        this.anyLoopbackLiteral = anyLoopbackLiteral;
    }

    /**
     * @param allowPrivate   non-public ranges that may be connected to anyway
     * @param configuredUrls the URLs the operator configured: the loopback addresses they name literally
     *                       may be connected to when a URL names them literally
     */
    public static OutboundAddressPolicy of(List<AddressRange> allowPrivate, Collection<String> configuredUrls) {
        Set<InetAddress> literals = new HashSet<>();
        for (String url : configuredUrls) {
            InetAddress literal = loopbackLiteral(url);
            if (literal != null) {
                literals.add(literal);
            }
        }
        return new OutboundAddressPolicy(allowPrivate, literals, false);
    }

    /** Public addresses, and any loopback address named literally in the URL (tests, local tools). */
    public static OutboundAddressPolicy loopbackLiteralsAllowed() {
        return new OutboundAddressPolicy(List.of(), Set.of(), true);
    }

    /** Public addresses, and the ranges given. */
    public static OutboundAddressPolicy allowing(List<AddressRange> allowPrivate) {
        return new OutboundAddressPolicy(allowPrivate, Set.of(), false);
    }

    /**
     * Why the gateway may not connect to this address, or null when it may.
     *
     * @param address the resolved address about to be connected to
     * @param literal true when the URL named this address literally (no name was resolved)
     */
    public String refusal(InetAddress address, boolean literal) {
        InetAddress canonical = AddressRange.canonical(address);
        String kind = nonPublicKind(canonical);
        if (kind == null) {
            return null;
        }
        for (AddressRange range : allowPrivate) {
            if (range.contains(canonical)) {
                return null;
            }
        }
        if (literal && canonical.isLoopbackAddress() && (anyLoopbackLiteral || loopbackLiterals.contains(canonical))) {
            return null;
        }
        return NetUtil.toAddressString(canonical) + " is a " + kind + " address (allow it with outbound.allow-private)";
    }

    /** True when the URL's host is a loopback address written literally ({@code 127.0.0.1}, {@code [::1]}). */
    public static boolean namesLoopbackLiteral(String url) {
        return loopbackLiteral(url) != null;
    }

    /** The loopback address a URL names literally ({@code 127.0.0.1}, {@code [::1]}), or null. */
    static InetAddress loopbackLiteral(String url) {
        try {
            String host = URI.create(url).getHost();
            if (host == null) {
                return null;
            }
            if (host.startsWith("[") && host.endsWith("]")) {
                host = host.substring(1, host.length() - 1);
            }
            InetAddress address = NetUtil.createInetAddressFromIpAddressString(host);
            return address != null && address.isLoopbackAddress() ? AddressRange.canonical(address) : null;
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    /** What kind of non-public address this is, or null for a public (globally routable) one. */
    public static String nonPublicKind(InetAddress address) {
        byte[] b = AddressRange.canonical(address.getAddress());
        return b.length == 4 ? ipv4Kind(b) : ipv6Kind(b);
    }

    private static String ipv4Kind(byte[] b) {
        int a0 = b[0] & 0xff;
        int a1 = b[1] & 0xff;
        int a2 = b[2] & 0xff;
        if (a0 == 0) return "unspecified";
        if (a0 == 127) return "loopback";
        if (a0 == 10 || (a0 == 172 && a1 >= 16 && a1 <= 31) || (a0 == 192 && a1 == 168)) return "private";
        if (a0 == 169 && a1 == 254) return "link-local";
        if (a0 == 100 && a1 >= 64 && a1 <= 127) return "shared (carrier-grade NAT)";
        if (a0 >= 224 && a0 <= 239) return "multicast";
        if (a0 >= 240) return "reserved";
        if (a0 == 192 && a1 == 0 && a2 == 0) return "reserved";
        if (a0 == 198 && (a1 == 18 || a1 == 19)) return "reserved (benchmarking)";
        if ((a0 == 192 && a1 == 0 && a2 == 2) || (a0 == 198 && a1 == 51 && a2 == 100) || (a0 == 203 && a1 == 0 && a2 == 113)) {
            return "documentation";
        }
        return null;
    }

    private static String ipv6Kind(byte[] b) {
        int w0 = ((b[0] & 0xff) << 8) | (b[1] & 0xff);
        int w1 = ((b[2] & 0xff) << 8) | (b[3] & 0xff);
        boolean firstTwelveZero = allZero(b, 0, 12);
        if (firstTwelveZero) {
            // ::, ::1 and the deprecated IPv4-compatible ::a.b.c.d
            if (allZero(b, 12, 15)) {
                return b[15] == 0 ? "unspecified" : b[15] == 1 ? "loopback" : "reserved";
            }
            return "reserved";
        }
        if (w0 == 0x0064 && w1 == 0xff9b && allZero(b, 4, 12)) {
            return ipv4Kind(Arrays.copyOfRange(b, 12, 16)); // NAT64 well-known prefix: judged by the IPv4 address
        }
        if (w0 == 0x0064 && w1 == 0xff9b) return "reserved (local-use NAT64)";
        if (w0 == 0x2002) {
            return ipv4Kind(Arrays.copyOfRange(b, 2, 6)); // 6to4: judged by the embedded IPv4 address
        }
        if (w0 == 0x2001 && w1 == 0x0000) return "reserved (Teredo)";
        if (w0 == 0x2001 && w1 == 0x0db8) return "documentation";
        if (w0 == 0x0100 && allZero(b, 2, 8)) return "reserved (discard)";
        if ((b[0] & 0xfe) == 0xfc) return "unique-local (private)";
        if ((b[0] & 0xff) == 0xfe && (b[1] & 0xc0) == 0x80) return "link-local";
        if ((b[0] & 0xff) == 0xfe && (b[1] & 0xc0) == 0xc0) return "site-local (private)";
        if ((b[0] & 0xff) == 0xff) return "multicast";
        if ((b[0] & 0xe0) != 0x20) return "reserved"; // only 2000::/3 is globally routed unicast
        return null;
    }

    private static boolean allZero(byte[] b, int from, int to) {
        for (int i = from; i < to; i++) {
            if (b[i] != 0) {
                return false;
            }
        }
        return true;
    }
}
