package dev.portcullis.authn;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.portcullis.http.OutboundAddressPolicy;
import dev.portcullis.http.OutboundHttp;
import java.io.IOException;
import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * Finds an issuer's JWKS URL from its metadata, trying the URLs in the MCP order (E2):
 * RFC 8414 path-inserted, OpenID path-inserted, OpenID path-appended. A document counts only
 * when its {@code issuer} equals the configured issuer exactly (RFC 8414 §3.3, EXCHANGE-09).
 *
 * <p>A document's {@code jwks_uri} is a URL the gateway did not configure (SECURITY-03): it must be
 * an absolute http(s) URL without user info, and https unless the issuer may use plain http
 * ({@code allow-insecure-http}, or an issuer on a loopback address). Where it may connect is then
 * decided by the outbound address policy like any other fetch.
 */
final class IssuerMetadata {
    private IssuerMetadata() {}

    static List<URI> candidateUrls(String issuer) {
        URI uri = URI.create(issuer);
        String path = uri.getRawPath() == null ? "" : uri.getRawPath();
        if (path.endsWith("/")) {
            path = path.substring(0, path.length() - 1);
        }
        String origin = uri.getScheme() + "://" + uri.getRawAuthority();
        List<URI> urls = new ArrayList<>();
        urls.add(URI.create(origin + "/.well-known/oauth-authorization-server" + path));
        urls.add(URI.create(origin + "/.well-known/openid-configuration" + path));
        if (!path.isEmpty()) {
            urls.add(URI.create(origin + path + "/.well-known/openid-configuration"));
        }
        return urls;
    }

    static Mono<URI> discoverJwksUri(String issuer, OutboundHttp http, ObjectMapper json) {
        return discoverJwksUri(issuer, false, http, json);
    }

    /** @param allowInsecureHttp the issuer's {@code allow-insecure-http}: a plain-http {@code jwks_uri} is accepted */
    static Mono<URI> discoverJwksUri(String issuer, boolean allowInsecureHttp, OutboundHttp http, ObjectMapper json) {
        boolean plainHttpAllowed = allowInsecureHttp || OutboundAddressPolicy.namesLoopbackLiteral(issuer);
        return Flux.fromIterable(candidateUrls(issuer))
                .concatMap(url -> http.get(url)
                        .flatMap(body -> Mono.justOrEmpty(jwksUriFrom(body, issuer, json))
                                .filter(jwks -> acceptable(jwks, plainHttpAllowed, issuer)))
                        .onErrorResume(e -> Mono.empty()), 1)
                .next()
                .switchIfEmpty(Mono.error(new IllegalStateException(
                        "no metadata document for issuer " + issuer + " names it exactly and has a jwks_uri")));
    }

    /** An absolute http(s) URL without user info or fragment; https unless plain http is allowed. */
    static boolean acceptable(URI jwks, boolean plainHttpAllowed, String issuer) {
        String scheme = jwks.getScheme() == null ? "" : jwks.getScheme().toLowerCase(java.util.Locale.ROOT);
        boolean ok = jwks.isAbsolute() && jwks.getHost() != null && jwks.getRawUserInfo() == null
                && jwks.getRawFragment() == null
                && (scheme.equals("https") || (scheme.equals("http") && plainHttpAllowed));
        if (!ok) {
            org.slf4j.LoggerFactory.getLogger(IssuerMetadata.class).warn(
                    "issuer {}: metadata names jwks_uri {}, which is refused (expected: an https URL without user info)",
                    issuer, jwks);
        }
        return ok;
    }

    private static URI jwksUriFrom(byte[] body, String issuer, ObjectMapper json) {
        try {
            JsonNode doc = json.readTree(body);
            if (doc == null || !issuer.equals(doc.path("issuer").asText(null))) {
                return null;
            }
            String jwks = doc.path("jwks_uri").asText(null);
            return jwks == null ? null : URI.create(jwks);
        } catch (IOException | IllegalArgumentException e) {
            return null;
        }
    }
}
