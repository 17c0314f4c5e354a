package dev.portcullis.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.Inet6Address;
import java.net.InetAddress;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** SECURITY-03: which addresses the gateway's own fetches may connect to. No address here is ever contacted. */
class OutboundAddressPolicyTest {

    private static InetAddress ip(String literal) throws Exception {
        // Literals only: InetAddress.getByName does no lookup for them.
        return InetAddress.getByName(literal);
    }

    @ParameterizedTest(name = "{0} is {1}")
    @CsvSource(delimiter = '|', value = {
            "10.0.0.1|private", "172.16.0.1|private", "172.31.255.255|private", "192.168.1.1|private",
            "127.0.0.1|loopback", "127.255.255.254|loopback", "169.254.169.254|link-local",
            "100.64.0.1|shared (carrier-grade NAT)", "0.0.0.0|unspecified", "0.1.2.3|unspecified",
            "224.0.0.1|multicast", "239.255.255.250|multicast", "255.255.255.255|reserved", "240.0.0.1|reserved",
            "198.18.0.1|reserved (benchmarking)", "192.0.2.1|documentation", "192.0.0.8|reserved",
            "::1|loopback", "::|unspecified", "fe80::1|link-local", "fc00::1|unique-local (private)",
            "fd12:3456::1|unique-local (private)", "ff02::1|multicast", "fec0::1|site-local (private)",
            "2001:db8::1|documentation", "2001::1|reserved (Teredo)", "::10.0.0.1|reserved",
            // IPv6 forms that carry an IPv4 address are judged by it
            "64:ff9b::a9fe:a9fe|link-local", "64:ff9b::a00:1|private", "2002:a9fe:a9fe::1|link-local",
            "2002:7f00:1::1|loopback", "64:ff9b:1::1|reserved (local-use NAT64)",
            // legacy IPv4 forms: what InetAddress parses is what is connected to, and it is judged as parsed
            "2130706433|loopback", "127.1|loopback", "10.1|private"})
    void nonPublicAddressesAreClassified(String address, String kind) throws Exception {
        assertThat(OutboundAddressPolicy.nonPublicKind(ip(address))).isEqualTo(kind);
    }

    @ParameterizedTest
    @ValueSource(strings = {"8.8.8.8", "1.1.1.1", "172.32.0.1", "172.15.255.255", "100.128.0.1", "192.169.0.1",
            "2606:4700::1111", "2a00:1450::1", "64:ff9b::808:808", "2002:808:808::1",
            // Java reads a leading zero as decimal, not octal: 0177.0.0.1 is 177.0.0.1, and that is what it would connect to
            "0177.0.0.1"})
    void publicAddressesAreAllowed(String address) throws Exception {
        assertThat(OutboundAddressPolicy.nonPublicKind(ip(address))).isNull();
        assertThat(OutboundAddressPolicy.of(List.of(), List.of()).refusal(ip(address), false)).isNull();
    }

    @Test
    void ipv4MappedIpv6IsJudgedAsTheIpv4AddressItCarries() throws Exception {
        byte[] mapped = new byte[16];
        mapped[10] = (byte) 0xff;
        mapped[11] = (byte) 0xff;
        mapped[12] = (byte) 169;
        mapped[13] = (byte) 254;
        mapped[14] = (byte) 169;
        mapped[15] = (byte) 254;
        // Inet6Address.getByAddress keeps the IPv6 form (InetAddress.getByAddress would convert it).
        InetAddress v6 = Inet6Address.getByAddress(null, mapped, -1);
        assertThat(v6).isInstanceOf(Inet6Address.class);
        assertThat(OutboundAddressPolicy.nonPublicKind(v6)).isEqualTo("link-local");
        OutboundAddressPolicy policy = OutboundAddressPolicy.of(List.of(), List.of());
        assertThat(policy.refusal(v6, true)).isEqualTo("169.254.169.254 is a link-local address (allow it with outbound.allow-private)");
        assertThat(OutboundAddressPolicy.allowing(List.of(AddressRange.parse("169.254.0.0/16"))).refusal(v6, false)).isNull();
    }

    @Test
    void privateAddressesAreRefusedUnlessAllowListed() throws Exception {
        OutboundAddressPolicy none = OutboundAddressPolicy.of(List.of(), List.of("https://idp.example.com"));
        assertThat(none.refusal(ip("10.1.2.3"), false)).isEqualTo("10.1.2.3 is a private address (allow it with outbound.allow-private)");
        assertThat(none.refusal(ip("10.1.2.3"), true)).isNotNull();

        OutboundAddressPolicy tenSlash8 = OutboundAddressPolicy.of(List.of(AddressRange.parse("10.0.0.0/8"),
                AddressRange.parse("fd00::/8")), List.of());
        assertThat(tenSlash8.refusal(ip("10.1.2.3"), false)).isNull();
        assertThat(tenSlash8.refusal(ip("fd00::5"), false)).isNull();
        assertThat(tenSlash8.refusal(ip("11.1.2.3"), false)).isNull(); // public anyway
        assertThat(tenSlash8.refusal(ip("192.168.0.1"), false)).contains("private");
        assertThat(tenSlash8.refusal(ip("127.0.0.1"), false)).contains("loopback");
        assertThat(tenSlash8.refusal(ip("169.254.169.254"), false)).contains("link-local");
    }

    @Test
    void loopbackIsAllowedOnlyWhenAConfiguredUrlNamesItLiterallyAndTheRequestDoesToo() throws Exception {
        OutboundAddressPolicy policy = OutboundAddressPolicy.of(List.of(), List.of("http://127.0.0.1:8080/default",
                "http://[::1]:9000/jwks", "http://localhost:7000/token"));
        assertThat(policy.refusal(ip("127.0.0.1"), true)).isNull();
        assertThat(policy.refusal(ip("::1"), true)).isNull();
        // The same address reached by resolving a name (localhost, or a DNS name an attacker controls)
        assertThat(policy.refusal(ip("127.0.0.1"), false)).contains("loopback");
        // Another loopback address than the ones configured
        assertThat(policy.refusal(ip("127.0.0.2"), true)).contains("loopback");
        // localhost is not a literal: it grants nothing
        assertThat(OutboundAddressPolicy.of(List.of(), List.of("http://localhost:7000/token")).refusal(ip("127.0.0.1"), true))
                .contains("loopback");
        // Listing loopback allows it however it is reached
        OutboundAddressPolicy listed = OutboundAddressPolicy.of(List.of(AddressRange.parse("127.0.0.1")), List.of());
        assertThat(listed.refusal(ip("127.0.0.1"), false)).isNull();
        assertThat(listed.refusal(ip("127.0.0.2"), false)).isNotNull();
    }

    @Test
    void addressRangesAreParsedStrictly() throws Exception {
        assertThat(AddressRange.parse("10.0.0.0/8").contains(ip("10.255.0.1"))).isTrue();
        assertThat(AddressRange.parse("10.0.0.0/8").contains(ip("11.0.0.1"))).isFalse();
        assertThat(AddressRange.parse("10.9.8.7/8").contains(ip("10.0.0.1"))).isTrue();
        assertThat(AddressRange.parse("127.0.0.1").contains(ip("127.0.0.1"))).isTrue();
        assertThat(AddressRange.parse("127.0.0.1").contains(ip("127.0.0.2"))).isFalse();
        assertThat(AddressRange.parse("[::1]").contains(ip("::1"))).isTrue();
        assertThat(AddressRange.parse("0.0.0.0/0").contains(ip("8.8.8.8"))).isTrue();
        assertThat(AddressRange.parse("::ffff:10.0.0.0/8").contains(ip("10.1.1.1"))).isTrue();
        assertThat(AddressRange.parse("fd00::/8").contains(ip("10.1.1.1"))).isFalse();
        for (String bad : List.of("localhost", "idp.internal", "10.0.0.0/33", "::/129", "010.0.0.1", "0177.0.0.1",
                "2130706433", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/8/8", "")) {
            assertThatThrownBy(() -> AddressRange.parse(bad)).as(bad).isInstanceOf(IllegalArgumentException.class);
        }
    }
}
