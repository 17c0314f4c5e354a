package dev.portcullis.listen;

/**
 * The client certificate a connection presented (mutual TLS, issue 16), checked at the handshake against the
 * listener's {@code client-trust} bundles. Read once per connection; carried on every request of it.
 *
 * @param thumbprint the certificate's SHA-256 thumbprint, base64url without padding: what an RFC 8705
 *                   certificate-bound token names in {@code cnf["x5t#S256"]}
 * @param spiffeId   the SPIFFE ID of an X.509-SVID that chained to a bundle pinned to its trust domain, else null
 * @param subject    the subject's distinguished name (for the audit trail)
 */
public record ClientCertificate(String thumbprint, String spiffeId, String subject) {
    public ClientCertificate {
        java.util.Objects.requireNonNull(thumbprint, "thumbprint");
    }
}
