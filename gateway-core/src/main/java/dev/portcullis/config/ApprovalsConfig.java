package dev.portcullis.config;

import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Issue 17: the approval page, where people approve or deny calls that policy holds for approval. Served on its
 * own listener; approvers sign in with OpenID Connect (authorization code + PKCE) at {@code issuer}, which must
 * be one of the gateway's issuers (its keys verify the ID tokens).
 *
 * <pre>
 * approvals:
 *   listen: { host: 0.0.0.0, port: 8444 }
 *   public-url: https://approvals.example.com      # where approvers' browsers reach the listener
 *   issuer: https://idp.example.com/realms/corp
 *   client-id: portcullis-approvals
 *   client-secret-file: /run/secrets/approvals-client-secret   # omit for a public client (PKCE only)
 *   session-lifetime: 8h
 * </pre>
 *
 * @param listen           where the page listens (default 127.0.0.1:8444)
 * @param publicUrl        the page's public origin (and path prefix), used in the URLs callers are sent and as the
 *                         OIDC redirect base; https unless loopback
 * @param issuer           the OpenID provider approvers sign in at
 * @param clientId         the page's OIDC client
 * @param clientSecretFile the client's secret (a mounted file); absent for a public client
 * @param sessionLifetime  how long an approver stays signed in at most (default 8h; never past the ID token's exp)
 * @param webhook          where approval requests and outcomes are announced (JSON, HMAC-SHA256 signed), or null
 */
public record ApprovalsConfig(Listen listen, String publicUrl, String issuer, String clientId, Path clientSecretFile,
                              java.time.Duration sessionLifetime, Webhook webhook) {
    public ApprovalsConfig(Listen listen, String publicUrl, String issuer, String clientId, Path clientSecretFile,
                           java.time.Duration sessionLifetime) {
        this(listen, publicUrl, issuer, clientId, clientSecretFile, sessionLifetime, null);
    }

    /**
     * A chat or ticket system to notify: {@code url} gets a signed JSON POST per approval event.
     *
     * @param url        https (plain http only for loopback)
     * @param secretFile the HMAC-SHA256 key (at least 32 bytes of text), a mounted secret
     */
    public record Webhook(String url, Path secretFile) {
        public Webhook {
            Checks.httpUrl("url", url, false);
            Checks.required("secret-file", secretFile);
            secret(secretFile);
        }

        /** The key, read on each use (rotation without restart). */
        public byte[] secret() {
            return secret(secretFile);
        }

        private static byte[] secret(Path file) {
            try {
                String text = Files.readString(file, StandardCharsets.UTF_8).strip();
                if (text.length() < 32) {
                    throw ConfigException.expected("secret-file", file.toString(), "a file holding at least 32 characters of secret");
                }
                return text.getBytes(StandardCharsets.UTF_8);
            } catch (IOException e) {
                throw ConfigException.expected("secret-file", file.toString(), "a readable file holding the webhook secret");
            }
        }

        @Override
        public String toString() {
            return "Webhook[url=" + url + ", secret-file=" + secretFile + "]";
        }
    }

    /** The page's listener. */
    public record Listen(String host, Integer port) {
        public Listen {
            host = host == null ? "127.0.0.1" : host;
            port = Checks.port("port", port, 8444);
        }
    }

    public ApprovalsConfig {
        listen = listen == null ? new Listen(null, null) : listen;
        URI url = Checks.httpUrl("public-url", publicUrl, false);
        if (url.getQuery() != null) {
            throw ConfigException.expected("public-url", publicUrl, "a URL without a query");
        }
        publicUrl = publicUrl.endsWith("/") ? publicUrl.substring(0, publicUrl.length() - 1) : publicUrl;
        Checks.required("issuer", issuer);
        if (clientId == null || clientId.isBlank()) {
            throw new ConfigException("client-id", "is required (expected: the approval page's OIDC client id)");
        }
        if (clientSecretFile != null) {
            secretOf(clientSecretFile);
        }
        sessionLifetime = sessionLifetime == null ? java.time.Duration.ofHours(8) : sessionLifetime;
        if (sessionLifetime.isNegative() || sessionLifetime.isZero() || sessionLifetime.compareTo(java.time.Duration.ofDays(1)) > 0) {
            throw ConfigException.expected("session-lifetime", sessionLifetime, "more than 0 and at most 24h");
        }
    }

    /** The client secret, read from its file on each use (rotation without restart), or null for a public client. */
    public String clientSecret() {
        return clientSecretFile == null ? null : secretOf(clientSecretFile);
    }

    /** Whether cookies must be {@code Secure}: the page is reached over https. */
    public boolean secureCookies() {
        return publicUrl.regionMatches(true, 0, "https:", 0, 6);
    }

    /** Where the IdP sends approvers back. */
    public String redirectUri() {
        return publicUrl + "/approvals/callback";
    }

    private static String secretOf(Path file) {
        try {
            String text = Files.readString(file, StandardCharsets.UTF_8).strip();
            if (text.isEmpty()) {
                throw ConfigException.expected("client-secret-file", file.toString(), "a file holding the client secret");
            }
            return text;
        } catch (IOException e) {
            throw ConfigException.expected("client-secret-file", file.toString(), "a readable file holding the client secret");
        }
    }

    @Override
    public String toString() {
        return "ApprovalsConfig[listen=" + listen + ", publicUrl=" + publicUrl + ", issuer=" + issuer + ", clientId="
                + clientId + (clientSecretFile != null ? ", client-secret-file=" + clientSecretFile : "") + "]";
    }
}
