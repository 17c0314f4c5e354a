package dev.portcullis.authn;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.portcullis.http.OutboundAddressPolicy;
import dev.portcullis.http.OutboundHttp;
import java.io.IOException;
import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * An issuer's RFC 8414 / OpenID Connect metadata, found by trying the URLs in the MCP order (E2):
 * RFC 8414 path-inserted, OpenID path-inserted, OpenID path-appended. A document counts only
 * when its {@code issuer} equals the configured issuer exactly (RFC 8414 §3.3, EXCHANGE-09).
 *
 * <p>The URLs a document names ({@code jwks_uri}, {@code token_endpoint}) are URLs the gateway did not
 * configure (SECURITY-03): each must be an absolute http(s) URL without user info or fragment, and https
 * unless the issuer may use plain http ({@code allow-insecure-http}, or an issuer on a loopback address).
 * Where the gateway may connect is then decided by the outbound address policy like any other fetch.
 *
 * @param issuer                     the issuer the document names (equal to the configured one)
 * @param jwksUri                    {@code jwks_uri}, or null when absent or refused
 * @param tokenEndpoint              {@code token_endpoint}, or null when absent or refused
 * @param tokenEndpointAuthMethods   {@code token_endpoint_auth_methods_supported}; when absent RFC 8414 §2 says
 *                                   {@code client_secret_basic}
 * @param introspectionEndpoint      {@code introspection_endpoint} (RFC 8414 §2, RFC 7662), or null when absent or
 *                                   refused: accepted under the same rules as {@code jwks_uri}
 */
public record IssuerMetadata(String issuer, URI jwksUri, URI tokenEndpoint, List<String> tokenEndpointAuthMethods,
                             URI introspectionEndpoint) {

    public IssuerMetadata {
        tokenEndpointAuthMethods = List.copyOf(tokenEndpointAuthMethods);
    }

    /** Without an introspection endpoint. */
    public IssuerMetadata(String issuer, URI jwksUri, URI tokenEndpoint, List<String> tokenEndpointAuthMethods) {
        this(issuer, jwksUri, tokenEndpoint, tokenEndpointAuthMethods, null);
    }

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

    /**
     * The first metadata document, in the MCP order, that names {@code issuer} exactly. Non-blocking (the
     * gateway's outbound client); fails when none does.
     *
     * @param allowInsecureHttp the issuer's {@code allow-insecure-http}: plain-http URLs in the document are accepted
     */
    public static Mono<IssuerMetadata> discover(String issuer, boolean allowInsecureHttp, OutboundHttp http, ObjectMapper json) {
        boolean plainHttpAllowed = allowInsecureHttp || OutboundAddressPolicy.namesLoopbackLiteral(issuer);
        return Flux.fromIterable(candidateUrls(issuer))
                .concatMap(url -> http.get(url)
                        .flatMap(body -> Mono.justOrEmpty(parse(body, issuer, plainHttpAllowed, json)))
                        .onErrorResume(e -> Mono.empty()), 1)
                .next()
                .switchIfEmpty(Mono.error(new IllegalStateException(
                        "no metadata document for issuer " + issuer + " names it exactly")));
    }

    static Mono<URI> discoverJwksUri(String issuer, OutboundHttp http, ObjectMapper json) {
        return discoverJwksUri(issuer, false, http, json);
    }

    /** @param allowInsecureHttp the issuer's {@code allow-insecure-http}: a plain-http {@code jwks_uri} is accepted */
    static Mono<URI> discoverJwksUri(String issuer, boolean allowInsecureHttp, OutboundHttp http, ObjectMapper json) {
        boolean plainHttpAllowed = allowInsecureHttp || OutboundAddressPolicy.namesLoopbackLiteral(issuer);
        return Flux.fromIterable(candidateUrls(issuer))
                .concatMap(url -> http.get(url)
                        .flatMap(body -> Mono.justOrEmpty(parse(body, issuer, plainHttpAllowed, json))
                                .flatMap(doc -> Mono.justOrEmpty(doc.jwksUri())))
                        .onErrorResume(e -> Mono.empty()), 1)
                .next()
                .switchIfEmpty(Mono.error(new IllegalStateException(
                        "no metadata document for issuer " + issuer + " names it exactly and has a jwks_uri")));
    }

    /** An absolute http(s) URL without user info or fragment; https unless plain http is allowed. */
    static boolean acceptable(URI url, boolean plainHttpAllowed, String issuer) {
        return acceptable("jwks_uri", url, plainHttpAllowed, issuer);
    }

    private static boolean acceptable(String member, URI url, boolean plainHttpAllowed, String issuer) {
        String scheme = url.getScheme() == null ? "" : url.getScheme().toLowerCase(Locale.ROOT);
        boolean ok = url.isAbsolute() && url.getHost() != null && url.getRawUserInfo() == null
                && url.getRawFragment() == null
                && (scheme.equals("https") || (scheme.equals("http") && plainHttpAllowed));
        if (!ok) {
            org.slf4j.LoggerFactory.getLogger(IssuerMetadata.class).warn(
                    "issuer {}: metadata names {} {}, which is refused (expected: an https URL without user info)",
                    issuer, member, url);
        }
        return ok;
    }

    /** The document if it names {@code issuer} exactly; URLs it names that are not acceptable are dropped. */
    private static IssuerMetadata parse(byte[] body, String issuer, boolean plainHttpAllowed, ObjectMapper json) {
        try {
            JsonNode doc = json.readTree(body);
            if (doc == null || !doc.isObject() || !issuer.equals(doc.path("issuer").asText(null))) {
                return null;
            }
            URI jwks = url(doc, "jwks_uri", plainHttpAllowed, issuer);
            URI token = url(doc, "token_endpoint", plainHttpAllowed, issuer);
            List<String> methods = new ArrayList<>();
            JsonNode supported = doc.get("token_endpoint_auth_methods_supported");
            if (supported != null && supported.isArray()) {
                // Method names only (RFC 8414 registry names are short tokens), at most 16: anything else from the
                // document is dropped here, so no foreign text reaches the log lines that name these methods.
                supported.forEach(m -> {
                    if (m.isTextual() && m.asText().matches("[A-Za-z0-9_.:-]{1,64}") && methods.size() < 16) {
                        methods.add(m.asText());
                    }
                });
            } else {
                methods.add("client_secret_basic");
            }
            URI introspection = url(doc, "introspection_endpoint", plainHttpAllowed, issuer);
            return new IssuerMetadata(issuer, jwks, token, methods, introspection);
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    private static URI url(JsonNode doc, String member, boolean plainHttpAllowed, String issuer) {
        JsonNode value = doc.get(member);
        if (value == null || !value.isTextual()) {
            return null;
        }
        try {
            URI url = new URI(value.asText());
            return acceptable(member, url, plainHttpAllowed, issuer) ? url : null;
        } catch (java.net.URISyntaxException e) {
            return null;
        }
    }
}
