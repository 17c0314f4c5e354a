package dev.portcullis.route;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.net.URI;

/** RFC 9728 Protected Resource Metadata: the URL derivation and the document. */
public final class ProtectedResourceMetadata {
    public static final String WELL_KNOWN = "/.well-known/oauth-protected-resource";

    private ProtectedResourceMetadata() {}

    /**
     * RFC 9728 §3.1: insert the well-known segment between host and path, after dropping a
     * terminating "/"; keep any query. {@code https://gw.example.com/mcp} →
     * {@code https://gw.example.com/.well-known/oauth-protected-resource/mcp} (PRM-01, E2).
     */
    public static String wellKnownUrl(URI resource) {
        String path = resource.getRawPath() == null ? "" : resource.getRawPath();
        if (path.endsWith("/")) {
            path = path.substring(0, path.length() - 1);
        }
        String query = resource.getRawQuery() == null ? "" : "?" + resource.getRawQuery();
        return resource.getScheme() + "://" + resource.getRawAuthority() + WELL_KNOWN + path + query;
    }

    /**
     * The document for a route (PRM-02..04): {@code resource} is R verbatim, at least one
     * authorization server, the baseline scopes, header-only bearer tokens, and where DPoP is accepted the proof
     * algorithms (and whether DPoP-bound tokens are required). Empty values are omitted.
     */
    public static byte[] document(Route route, ObjectMapper json) {
        ObjectNode doc = json.createObjectNode();
        doc.put("resource", route.resource());
        var servers = doc.putArray("authorization_servers");
        route.authorizationServers().forEach(servers::add);
        if (!route.config().scopes().isEmpty()) {
            var scopes = doc.putArray("scopes_supported");
            route.config().scopes().forEach(scopes::add);
        }
        doc.putArray("bearer_methods_supported").add("header");
        doc.put("resource_name", route.config().resourceName());
        // RFC 9728 §2 (RFC 9449 §5.1's values): only when DPoP is on here (PRM-04).
        if (route.dpop().accepted() && !route.dpop().algorithms().isEmpty()) {
            var algs = doc.putArray("dpop_signing_alg_values_supported");
            route.dpop().algorithms().forEach(algs::add);
        }
        if (route.dpop().required()) {
            doc.put("dpop_bound_access_tokens_required", true);
        }
        try {
            return json.writeValueAsBytes(doc);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
