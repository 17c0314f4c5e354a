package dev.portcullis.listen;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.portcullis.config.TlsConfig;
import io.netty.pkitesting.CertificateBuilder;
import io.netty.pkitesting.X509Bundle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.Base64;
import java.util.List;
import javax.net.ssl.X509ExtendedTrustManager;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Mutual TLS on the listener (issue 16): which client certificates the handshake accepts, and what an accepted
 * one says. No sockets: the trust manager is called as the handshake calls it.
 */
class ClientTrustTest {
    @TempDir
    static Path dir;
    static X509Bundle spiffeCa;
    static X509Bundle corporateCa;
    static X509Bundle strangerCa;
    static ClientTrust trust;

    @BeforeAll
    static void pki() throws Exception {
        spiffeCa = ca("CN=prod.acme SPIFFE CA");
        corporateCa = ca("CN=Acme Corporate CA");
        strangerCa = ca("CN=Someone else");
        Path spiffeBundle = Files.writeString(dir.resolve("spiffe.pem"), spiffeCa.getCertificatePEM());
        Path corporateBundle = Files.writeString(dir.resolve("corp.pem"), corporateCa.getCertificatePEM());
        X509Bundle server = ca("CN=gateway");
        Path crt = Files.writeString(dir.resolve("tls.crt"), server.getCertificatePEM());
        Path key = Files.writeString(dir.resolve("tls.key"), server.getPrivateKeyPEM());
        trust = ClientTrust.of(new TlsConfig(crt, key, "required", List.of(
                new TlsConfig.ClientTrust(spiffeBundle, "prod.acme"),
                new TlsConfig.ClientTrust(corporateBundle, null))));
    }

    static X509Bundle ca(String subject) throws Exception {
        return new CertificateBuilder().subject(subject).setIsCertificateAuthority(true).ecp256()
                .notBefore(Instant.now().minusSeconds(60)).notAfter(Instant.now().plusSeconds(3600)).buildSelfSigned();
    }

    static X509Bundle leaf(X509Bundle issuer, String subject, String... uris) throws Exception {
        CertificateBuilder builder = new CertificateBuilder().subject(subject).ecp256()
                .notBefore(Instant.now().minusSeconds(60)).notAfter(Instant.now().plusSeconds(3600));
        for (String uri : uris) {
            builder.addSanUriName(uri);
        }
        return builder.buildIssuedBy(issuer);
    }

    static X509Certificate[] chain(X509Bundle leaf) {
        return leaf.getCertificatePath();
    }

    @Test
    void svidOfThePinnedTrustDomainIsAcceptedAndNamesTheAgent() throws Exception {
        X509Bundle svid = leaf(spiffeCa, "CN=agent", "spiffe://prod.acme/ns/agents/sa/planner");
        trust.trustManager().checkClientTrusted(chain(svid), "ECDHE_ECDSA");
        ClientCertificate identified = trust.identify(chain(svid));
        assertThat(identified.spiffeId()).isEqualTo("spiffe://prod.acme/ns/agents/sa/planner");
        assertThat(identified.subject()).isEqualTo("CN=agent");
    }

    @Test
    void svidOfAnotherTrustDomainFailsTheHandshake() throws Exception {
        // Signed by the prod.acme bundle's CA, but naming another trust domain: the bundle is pinned to prod.acme.
        X509Bundle foreign = leaf(spiffeCa, "CN=agent", "spiffe://staging.acme/ns/agents/sa/planner");
        assertThatThrownBy(() -> trust.trustManager().checkClientTrusted(chain(foreign), "ECDHE_ECDSA"))
                .isInstanceOf(CertificateException.class).hasMessageContaining("another trust domain than prod.acme");
        assertThat(trust.identify(chain(foreign))).isNull();
    }

    @Test
    void aTrustDomainThatOnlyStartsLikeThePinnedOneIsAnother() throws Exception {
        X509Bundle lookalike = leaf(spiffeCa, "CN=agent", "spiffe://prod.acme.evil/ns/agents");
        assertThatThrownBy(() -> trust.trustManager().checkClientTrusted(chain(lookalike), "ECDHE_ECDSA"))
                .isInstanceOf(CertificateException.class);
    }

    @Test
    void anSvidHasExactlyOneUriSan() throws Exception {
        X509Bundle two = leaf(spiffeCa, "CN=agent", "spiffe://prod.acme/a", "spiffe://prod.acme/b");
        assertThatThrownBy(() -> trust.trustManager().checkClientTrusted(chain(two), "ECDHE_ECDSA"))
                .isInstanceOf(CertificateException.class).hasMessageContaining("exactly one URI SAN");
        X509Bundle none = leaf(spiffeCa, "CN=agent");
        assertThatThrownBy(() -> trust.trustManager().checkClientTrusted(chain(none), "ECDHE_ECDSA"))
                .isInstanceOf(CertificateException.class);
    }

    @Test
    void aCorporateCertificateClaimingASpiffeIdGetsNoSpiffeIdentity() throws Exception {
        // The corporate bundle is not pinned: its certificates are accepted, but a spiffe:// SAN in one is not believed.
        X509Bundle claims = leaf(corporateCa, "CN=laptop", "spiffe://prod.acme/ns/agents/sa/planner");
        trust.trustManager().checkClientTrusted(chain(claims), "ECDHE_ECDSA");
        ClientCertificate identified = trust.identify(chain(claims));
        assertThat(identified).isNotNull();
        assertThat(identified.spiffeId()).isNull();
    }

    @Test
    void aCertificateOfNoConfiguredBundleFailsTheHandshake() throws Exception {
        X509Bundle stranger = leaf(strangerCa, "CN=stranger", "spiffe://prod.acme/ns/agents/sa/planner");
        X509ExtendedTrustManager manager = trust.trustManager();
        assertThatThrownBy(() -> manager.checkClientTrusted(chain(stranger), "ECDHE_ECDSA"))
                .isInstanceOf(CertificateException.class);
        assertThat(trust.identify(chain(stranger))).isNull();
        assertThat(manager.getAcceptedIssuers()).extracting(X509Certificate::getSubjectX500Principal)
                .extracting(Object::toString).containsExactlyInAnyOrder("CN=prod.acme SPIFFE CA", "CN=Acme Corporate CA");
    }

    @Test
    void thumbprintIsRfc8705X5tS256() throws Exception {
        X509Bundle svid = leaf(spiffeCa, "CN=agent", "spiffe://prod.acme/ns/agents/sa/planner");
        byte[] sha = MessageDigest.getInstance("SHA-256").digest(svid.getCertificate().getEncoded());
        String expected = Base64.getUrlEncoder().withoutPadding().encodeToString(sha);
        assertThat(trust.identify(chain(svid)).thumbprint()).isEqualTo(expected).doesNotContain("=", "+", "/");
    }

    @Test
    void spiffeIdGrammar() {
        assertThat(ClientTrust.validSpiffeId("spiffe://prod.acme/ns/agents/sa/planner")).isTrue();
        assertThat(ClientTrust.validSpiffeId("spiffe://prod.acme")).isTrue();
        assertThat(ClientTrust.validSpiffeId("spiffe://prod.acme/ns/../admin")).isFalse();
        assertThat(ClientTrust.validSpiffeId("spiffe://prod.acme/ns//admin")).isFalse();
        assertThat(ClientTrust.validSpiffeId("spiffe://Prod.Acme/ns")).isFalse();
        assertThat(ClientTrust.validSpiffeId("spiffe://prod.acme/ns/a%2Fb")).isFalse();
        assertThat(ClientTrust.validSpiffeId("https://prod.acme/ns")).isFalse();
        assertThat(ClientTrust.validSpiffeId("spiffe://prod.acme/ns/")).isFalse();
    }

    @Test
    void clientTrustIsRequiredWhenCertificatesAreAskedFor() throws Exception {
        Path crt = dir.resolve("tls.crt");
        Path key = dir.resolve("tls.key");
        assertThatThrownBy(() -> new TlsConfig(crt, key, "required", null))
                .hasMessageContaining("is required when client-auth is required");
        assertThatThrownBy(() -> new TlsConfig(crt, key, "sometimes", null))
                .hasMessageContaining("none, optional or required");
        assertThatThrownBy(() -> new TlsConfig.ClientTrust(dir.resolve("spiffe.pem"), "spiffe://prod.acme"))
                .hasMessageContaining("SPIFFE trust domain name");
    }
}
