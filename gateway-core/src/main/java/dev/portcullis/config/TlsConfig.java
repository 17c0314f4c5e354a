package dev.portcullis.config;

import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * TLS termination from PEM files (a Kubernetes TLS secret mounts exactly these). Only TLS 1.2
 * and 1.3 are offered.
 *
 * @param certificate PEM certificate chain file
 * @param privateKey  PEM private key file (PKCS#8)
 * @param clientAuth  client certificates (mutual TLS, issue 16): {@code none} (default) — not asked for;
 *                    {@code optional} — asked for, and a connection without one is still served; {@code required} —
 *                    the handshake fails without one. A certificate that is presented must chain to a {@code client-trust}
 *                    bundle either way
 * @param clientTrust the CA bundles client certificates must chain to (required unless {@code client-auth} is none),
 *                    each optionally pinned to one SPIFFE trust domain
 */
public record TlsConfig(Path certificate, Path privateKey, String clientAuth, List<ClientTrust> clientTrust) {

    /** How the listener asks for client certificates. */
    public enum ClientAuth { NONE, OPTIONAL, REQUIRED }

    /**
     * One trust bundle for client certificates.
     *
     * @param bundle             PEM file of CA certificates (a SPIFFE trust bundle in PEM, or a corporate CA)
     * @param spiffeTrustDomain  when set, every certificate that chains to this bundle must be an X.509-SVID of exactly
     *                           this trust domain (one {@code spiffe://<trust-domain>/…} URI SAN, not a CA): its SPIFFE
     *                           ID becomes the caller's agent identity. An SVID of another trust domain fails the handshake
     */
    public record ClientTrust(Path bundle, String spiffeTrustDomain) {
        public ClientTrust {
            Checks.required("bundle", bundle);
            if (!java.nio.file.Files.isReadable(bundle)) {
                throw ConfigException.expected("bundle", bundle.toString(), "a readable PEM file of CA certificates");
            }
            if (spiffeTrustDomain != null && !spiffeTrustDomain.matches("[a-z0-9._-]{1,255}")) {
                // SPIFFE-ID §2.1: a trust domain name is lowercase letters, digits, dots, dashes and underscores.
                throw ConfigException.expected("spiffe-trust-domain", spiffeTrustDomain,
                        "a SPIFFE trust domain name such as prod.acme.com (lowercase letters, digits, '.', '-', '_'; no scheme)");
            }
        }
    }

    public TlsConfig(Path certificate, Path privateKey) {
        this(certificate, privateKey, null, null);
    }

    public TlsConfig {
        Checks.required("certificate", certificate);
        Checks.required("private-key", privateKey);
        if (!java.nio.file.Files.isReadable(certificate)) {
            throw ConfigException.expected("certificate", certificate.toString(), "a readable PEM file");
        }
        if (!java.nio.file.Files.isReadable(privateKey)) {
            throw ConfigException.expected("private-key", privateKey.toString(), "a readable PEM file");
        }
        clientAuth = clientAuth == null ? "none" : clientAuth.strip().toLowerCase(Locale.ROOT);
        if (!List.of("none", "optional", "required").contains(clientAuth)) {
            throw ConfigException.expected("client-auth", clientAuth, "none, optional or required");
        }
        clientTrust = clientTrust == null ? List.of() : List.copyOf(clientTrust);
        if (!clientAuth.equals("none") && clientTrust.isEmpty()) {
            throw new ConfigException("client-trust", "is required when client-auth is " + clientAuth
                    + " (expected: at least one CA bundle client certificates chain to)");
        }
        if (clientAuth.equals("none") && !clientTrust.isEmpty()) {
            throw new ConfigException("client-trust", "is set but client-auth is none (expected: client-auth: optional or"
                    + " required, or no client-trust)");
        }
    }

    public ClientAuth clientAuthMode() {
        return ClientAuth.valueOf(clientAuth.toUpperCase(Locale.ROOT));
    }

    /** Every file the listener's TLS reads (reloads watch them, issue 14). */
    public List<Path> files() {
        var files = new java.util.ArrayList<Path>(List.of(certificate, privateKey));
        clientTrust.forEach(t -> files.add(t.bundle()));
        return List.copyOf(files);
    }
}
