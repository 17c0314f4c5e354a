package dev.portcullis.config;

import java.nio.file.Path;

/**
 * TLS termination from PEM files (a Kubernetes TLS secret mounts exactly these). Only TLS 1.2
 * and 1.3 are offered.
 *
 * @param certificate PEM certificate chain file
 * @param privateKey  PEM private key file (PKCS#8)
 */
public record TlsConfig(Path certificate, Path privateKey) {
    public TlsConfig {
        Checks.required("certificate", certificate);
        Checks.required("private-key", privateKey);
        if (!java.nio.file.Files.isReadable(certificate)) {
            throw ConfigException.expected("certificate", certificate.toString(), "a readable PEM file");
        }
        if (!java.nio.file.Files.isReadable(privateKey)) {
            throw ConfigException.expected("private-key", privateKey.toString(), "a readable PEM file");
        }
    }
}
