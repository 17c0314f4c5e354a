package dev.portcullis.http;

import io.netty.util.NetUtil;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Arrays;

/**
 * An IP address or CIDR range ({@code 10.0.0.0/8}, {@code 127.0.0.1}, {@code fd00::/8}), parsed
 * strictly by Netty's {@link NetUtil} (never by DNS). IPv4 octets with leading zeros are refused,
 * because other parsers read {@code 010} as octal 8 and this one as decimal 10.
 */
public final class AddressRange {
    private final byte[] network;
    private final int prefix;
    private final String text;

    private AddressRange(byte[] network, int prefix, String text) {
        this.network = network;
        this.prefix = prefix;
        this.text = text;
    }

    /** @throws IllegalArgumentException with a message naming what was expected */
    public static AddressRange parse(String text) {
        if (text == null || text.isBlank()) {
            throw new IllegalArgumentException("an IP address or CIDR range");
        }
        String value = text.strip();
        int slash = value.indexOf('/');
        String address = slash < 0 ? value : value.substring(0, slash);
        if (address.startsWith("[") && address.endsWith("]")) {
            address = address.substring(1, address.length() - 1);
        }
        byte[] bytes = NetUtil.createByteArrayFromIpAddressString(address);
        if (bytes == null || (bytes.length == 4 && hasLeadingZero(address))) {
            throw new IllegalArgumentException("an IP address or CIDR range such as 10.0.0.0/8, 127.0.0.1 or fd00::/8 "
                    + "(no host names, no leading zeros)");
        }
        bytes = canonical(bytes);
        int bits = bytes.length * 8;
        int prefix = bits;
        if (slash >= 0) {
            String digits = value.substring(slash + 1);
            if (!digits.matches("\\d{1,3}") || Integer.parseInt(digits) > bits) {
                throw new IllegalArgumentException("a prefix length 0.." + bits + " after \"/\"");
            }
            prefix = Integer.parseInt(digits);
        }
        return new AddressRange(mask(bytes, prefix), prefix, value);
    }

    /** True when the address (IPv4-mapped IPv6 counted as its IPv4 address) lies in this range. */
    public boolean contains(InetAddress address) {
        byte[] candidate = canonical(address.getAddress());
        return candidate.length == network.length && Arrays.equals(mask(candidate, prefix), network);
    }

    static InetAddress canonical(InetAddress address) {
        byte[] bytes = address.getAddress();
        byte[] c = canonical(bytes);
        if (c == bytes) {
            return address;
        }
        try {
            return InetAddress.getByAddress(c);
        } catch (UnknownHostException impossible) {
            throw new IllegalStateException(impossible);
        }
    }

    /** An IPv4-mapped IPv6 address ({@code ::ffff:a.b.c.d}) as its 4 IPv4 bytes; others unchanged. */
    static byte[] canonical(byte[] bytes) {
        if (bytes.length == 16) {
            for (int i = 0; i < 10; i++) {
                if (bytes[i] != 0) {
                    return bytes;
                }
            }
            if (bytes[10] == (byte) 0xff && bytes[11] == (byte) 0xff) {
                return Arrays.copyOfRange(bytes, 12, 16);
            }
        }
        return bytes;
    }

    private static byte[] mask(byte[] bytes, int prefix) {
        byte[] out = bytes.clone();
        for (int i = 0; i < out.length; i++) {
            int keep = Math.max(0, Math.min(8, prefix - i * 8));
            out[i] = (byte) (out[i] & (0xff << (8 - keep)));
        }
        return out;
    }

    private static boolean hasLeadingZero(String ipv4) {
        for (String octet : ipv4.split("\\.")) {
            if (octet.length() > 1 && octet.charAt(0) == '0') {
                return true;
            }
        }
        return false;
    }

    @Override
    public String toString() {
        return text;
    }
}
