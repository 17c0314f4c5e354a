package dev.portcullis.listen;

import dev.portcullis.config.TlsConfig;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.nio.file.Files;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collection;
import java.util.List;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;
import javax.net.ssl.X509TrustManager;

/**
 * Which client certificates the listener accepts (mutual TLS, issue 16): the trust manager of the handshake, and
 * what a connection's accepted certificate says ({@link #identify}).
 *
 * <p>Each {@code client-trust} bundle is its own set of trust anchors (PKIX, the JDK's validator, no revocation
 * lookups: nothing on the handshake waits for the network). A certificate is accepted when it chains to one of
 * them, tried in the configured order; when that bundle is pinned to a SPIFFE trust domain, the certificate must
 * also be an X.509-SVID of exactly that domain (SPIFFE X509-SVID §4-5: exactly one URI SAN, {@code spiffe://}, a
 * leaf that is not a CA), or the handshake fails. A SPIFFE ID is therefore believed only from the bundle of its
 * own trust domain: a corporate CA that signs a certificate naming {@code spiffe://prod.acme/…} does not make it
 * an SVID of prod.acme.
 */
public final class ClientTrust {
    /** One bundle's anchors, and the trust domain its certificates must belong to (or null). */
    private record Bundle(X509TrustManager anchors, String trustDomain, String name) {}

    private final List<Bundle> bundles;

    private ClientTrust(List<Bundle> bundles) {
        this.bundles = bundles;
    }

    /** The bundles of {@code tls} (none when client certificates are not asked for). */
    public static ClientTrust of(TlsConfig tls) {
        List<Bundle> bundles = new ArrayList<>();
        for (TlsConfig.ClientTrust trust : tls.clientTrust()) {
            bundles.add(new Bundle(anchors(trust.bundle()), trust.spiffeTrustDomain(), trust.bundle().toString()));
        }
        return new ClientTrust(List.copyOf(bundles));
    }

    /** The handshake's trust manager over every bundle. */
    public X509ExtendedTrustManager trustManager() {
        return new X509ExtendedTrustManager() {
            @Override
            public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
                accept(chain, authType);
            }

            @Override
            public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
                accept(chain, authType);
            }

            @Override
            public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
                accept(chain, authType);
            }

            @Override
            public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
                throw new CertificateException("the listener does not check server certificates");
            }

            @Override
            public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
                throw new CertificateException("the listener does not check server certificates");
            }

            @Override
            public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
                throw new CertificateException("the listener does not check server certificates");
            }

            @Override
            public X509Certificate[] getAcceptedIssuers() {
                List<X509Certificate> issuers = new ArrayList<>();
                for (Bundle bundle : bundles) {
                    issuers.addAll(List.of(bundle.anchors().getAcceptedIssuers()));
                }
                return issuers.toArray(X509Certificate[]::new);
            }
        };
    }

    /**
     * The bundle {@code chain} is accepted under, after its SVID rule; the SPIFFE ID when the bundle is pinned.
     *
     * @throws CertificateException when no bundle accepts it, or its bundle's trust domain is not the SVID's
     */
    String accept(X509Certificate[] chain, String authType) throws CertificateException {
        if (chain == null || chain.length == 0) {
            throw new CertificateException("no client certificate");
        }
        CertificateException first = null;
        for (Bundle bundle : bundles) {
            try {
                bundle.anchors().checkClientTrusted(chain, authType);
            } catch (CertificateException notThisOne) {
                first = first == null ? notThisOne : first;
                continue;
            }
            return bundle.trustDomain() == null ? null : svid(chain[0], bundle);
        }
        throw first != null ? first : new CertificateException("no client-trust bundle is configured");
    }

    /**
     * What an accepted connection's certificate says, or null when it presented none. Called once per connection
     * (the handshake has accepted the chain; this repeats the bundle choice to learn the SPIFFE ID, since a resumed
     * TLS session does not run the trust manager again).
     */
    public ClientCertificate identify(java.security.cert.Certificate[] peer) {
        if (peer == null || peer.length == 0 || !(peer[0] instanceof X509Certificate)) {
            return null;
        }
        X509Certificate[] chain = new X509Certificate[peer.length];
        for (int i = 0; i < peer.length; i++) {
            if (!(peer[i] instanceof X509Certificate x509)) {
                return null;
            }
            chain[i] = x509;
        }
        String spiffeId;
        try {
            spiffeId = accept(chain, chain[0].getPublicKey().getAlgorithm().equals("EC") ? "ECDHE_ECDSA" : "ECDHE_RSA");
        } catch (CertificateException e) {
            return null; // cannot happen for a chain the handshake accepted under the same bundles
        }
        return new ClientCertificate(thumbprint(chain[0]), spiffeId, chain[0].getSubjectX500Principal().getName());
    }

    /** RFC 8705 §3.1: base64url(SHA-256(DER of the certificate)), no padding. */
    public static String thumbprint(X509Certificate certificate) {
        try {
            byte[] hash = dev.portcullis.Sha256.of(certificate.getEncoded());
            return Base64.getUrlEncoder().withoutPadding().encodeToString(hash);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The SPIFFE ID of an X.509-SVID of {@code bundle}'s trust domain. */
    private static String svid(X509Certificate leaf, Bundle bundle) throws CertificateException {
        if (leaf.getBasicConstraints() >= 0) {
            throw new CertificateException("an X.509-SVID leaf must not be a CA (bundle " + bundle.name() + ")");
        }
        List<String> uris = new ArrayList<>();
        try {
            Collection<List<?>> names = leaf.getSubjectAlternativeNames();
            if (names != null) {
                for (List<?> name : names) {
                    if (name.size() >= 2 && Integer.valueOf(6).equals(name.get(0))) { // uniformResourceIdentifier
                        uris.add(String.valueOf(name.get(1)));
                    }
                }
            }
        } catch (CertificateParsingException e) {
            throw new CertificateException("unreadable subject alternative names", e);
        }
        if (uris.size() != 1) {
            throw new CertificateException("an X.509-SVID has exactly one URI SAN; this certificate has " + uris.size());
        }
        String id = uris.get(0);
        String prefix = "spiffe://" + bundle.trustDomain();
        if (!(id.equals(prefix) || id.startsWith(prefix + "/")) || !validSpiffeId(id)) {
            throw new CertificateException("SPIFFE ID of another trust domain than " + bundle.trustDomain()
                    + " (bundle " + bundle.name() + ")");
        }
        return id;
    }

    /** SPIFFE-ID §2: {@code spiffe://<trust domain>[/<segments>]}, segments of [A-Za-z0-9._-], no empty, . or .. ones. */
    static boolean validSpiffeId(String id) {
        if (!id.startsWith("spiffe://") || id.length() > 2048) {
            return false;
        }
        String rest = id.substring("spiffe://".length());
        int slash = rest.indexOf('/');
        String domain = slash < 0 ? rest : rest.substring(0, slash);
        if (!domain.matches("[a-z0-9._-]+")) {
            return false;
        }
        if (slash < 0) {
            return true;
        }
        for (String segment : rest.substring(slash + 1).split("/", -1)) {
            if (segment.isEmpty() || segment.equals(".") || segment.equals("..") || !segment.matches("[A-Za-z0-9._-]+")) {
                return false;
            }
        }
        return true;
    }

    private static X509TrustManager anchors(java.nio.file.Path file) {
        try (InputStream in = Files.newInputStream(file)) {
            Collection<? extends java.security.cert.Certificate> certificates =
                    CertificateFactory.getInstance("X.509").generateCertificates(in);
            if (certificates.isEmpty()) {
                throw new IllegalArgumentException(file + " holds no PEM certificate");
            }
            KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
            store.load(null, null);
            int i = 0;
            for (java.security.cert.Certificate certificate : certificates) {
                store.setCertificateEntry("ca-" + i++, certificate);
            }
            TrustManagerFactory factory = TrustManagerFactory.getInstance("PKIX");
            factory.init(store);
            for (var manager : factory.getTrustManagers()) {
                if (manager instanceof X509TrustManager x509) {
                    return x509;
                }
            }
            throw new IllegalStateException("no X.509 trust manager");
        } catch (IOException | GeneralSecurityException e) {
            throw new IllegalArgumentException(file + " cannot be read as PEM CA certificates (" + e.getMessage() + ")", e);
        }
    }
}
