package dev.portcullis.config;

import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The whole {@code gateway.yaml}: immutable and validated. Cross-field rules live here; each
 * part validates itself.
 *
 * @param listen  the public listener
 * @param admin   the admin listener (health, readiness, metrics)
 * @param issuers the identity providers whose tokens are accepted (at least one)
 * @param routes  the protected MCP endpoints (at least one)
 * @param audit   the audit trail (defaults: argument digests, stdout)
 * @param sessions how session ids are sealed and bound to their principal
 * @param outbound the gateway's own fetches (metadata, JWKS, token endpoints): allowed private addresses, timeouts
 * @param tracing  OpenTelemetry traces (off by default; {@code OTEL_*} environment variables apply too)
 * @param store    where the state the replicas share lives: rate-limit counters (issue 18); default in memory
 * @param approvals issue 17: the approval page (null: none; a policy rule with {@code approval} then fails to start)
 */
public record GatewayConfig(ListenConfig listen, AdminConfig admin, List<IssuerConfig> issuers, List<RouteConfig> routes,
                            AuditConfig audit, SessionsConfig sessions, OutboundConfig outbound, TracingConfig tracing,
                            StoreConfig store, ApprovalsConfig approvals) {
    public GatewayConfig(ListenConfig listen, AdminConfig admin, List<IssuerConfig> issuers, List<RouteConfig> routes,
                         AuditConfig audit, SessionsConfig sessions, OutboundConfig outbound, TracingConfig tracing,
                         StoreConfig store) {
        this(listen, admin, issuers, routes, audit, sessions, outbound, tracing, store, null);
    }

    public GatewayConfig(ListenConfig listen, AdminConfig admin, List<IssuerConfig> issuers, List<RouteConfig> routes,
                         AuditConfig audit, SessionsConfig sessions, OutboundConfig outbound, TracingConfig tracing) {
        this(listen, admin, issuers, routes, audit, sessions, outbound, tracing, null);
    }

    public GatewayConfig(ListenConfig listen, AdminConfig admin, List<IssuerConfig> issuers, List<RouteConfig> routes,
                         AuditConfig audit, SessionsConfig sessions, OutboundConfig outbound) {
        this(listen, admin, issuers, routes, audit, sessions, outbound, null);
    }

    public GatewayConfig {
        tracing = tracing == null ? TracingConfig.defaults() : tracing;
        store = store == null ? StoreConfig.defaults() : store;
        sessions = sessions == null ? SessionsConfig.defaults() : sessions;
        listen = listen == null ? ListenConfig.defaults() : listen;
        outbound = outbound == null ? OutboundConfig.defaults() : outbound;
        admin = admin == null ? AdminConfig.defaults() : admin;
        audit = audit == null ? AuditConfig.defaults() : audit;
        if (issuers == null || issuers.isEmpty()) {
            throw new ConfigException("issuers", "is required (expected: at least one issuer)");
        }
        if (routes == null || routes.isEmpty()) {
            throw new ConfigException("routes", "is required (expected: at least one route)");
        }
        issuers = List.copyOf(issuers);
        routes = List.copyOf(routes);
        if (approvals != null && issuers.stream().noneMatch(i -> i.issuer().equals(approvals.issuer()))) {
            throw new ConfigException("approvals.issuer", "\"" + approvals.issuer()
                    + "\" is not one of the issuers (expected: an issuer configured under issuers, whose keys verify"
                    + " the approvers' ID tokens)");
        }
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < issuers.size(); i++) {
            if (!seen.add(issuers.get(i).issuer())) {
                throw new ConfigException("issuers[" + i + "].issuer", "\"" + issuers.get(i).issuer()
                        + "\" is configured twice (expected: each issuer once)");
            }
        }
        // Issue 16: an opaque token does not name its issuer, and it must never be shown to another IdP: one issuer
        // at most judges them (others may still introspect their own JWTs: tokens: jwt).
        int opaqueAt = -1;
        for (int i = 0; i < issuers.size(); i++) {
            IntrospectionConfig introspection = issuers.get(i).introspection();
            if (introspection != null && introspection.parsedTokens().opaque()) {
                if (opaqueAt >= 0) {
                    throw new ConfigException("issuers[" + i + "].introspection", "introspects opaque tokens (tokens: "
                            + introspection.tokens() + "), and so does issuers[" + opaqueAt + "] (expected: one issuer at most "
                            + "introspects opaque tokens, which do not name their issuer; tokens: jwt for the others)");
                }
                opaqueAt = i;
            }
        }
        Set<String> names = new HashSet<>();
        Set<String> paths = new HashSet<>();
        Set<String> resources = new HashSet<>();
        for (int i = 0; i < routes.size(); i++) {
            RouteConfig r = routes.get(i);
            if (!names.add(r.name())) {
                throw new ConfigException("routes[" + i + "].name", "\"" + r.name() + "\" is used twice (expected: unique names)");
            }
            if (!paths.add(r.path())) {
                throw new ConfigException("routes[" + i + "].path", "\"" + r.path() + "\" is used twice (expected: unique paths)");
            }
            if (!resources.add(r.resource())) {
                throw new ConfigException("routes[" + i + "].resource", "\"" + r.resource()
                        + "\" is used twice (expected: each endpoint has its own resource: PRM-08)");
            }
            metadataIssuer(issuers, r.upstreamAuth(), "routes[" + i + "].upstream-auth.");
            if (r.dpopNonce() && r.dpopMode() == DpopMode.OFF && issuers.stream().allMatch(x -> x.dpopMode() == DpopMode.OFF)) {
                throw new ConfigException("routes[" + i + "].dpop-nonce", "is true, but no DPoP is accepted on this route "
                        + "(expected: dpop: allowed or required on the route or on an issuer)");
            }
        }
    }

    /**
     * The issuer whose discovered metadata names the route's token endpoint, or null when {@code token-endpoint}
     * is configured (or no token is requested).
     */
    public IssuerConfig tokenEndpointIssuer(RouteConfig route) {
        return metadataIssuer(issuers, route.upstreamAuth(), "");
    }

    private static IssuerConfig metadataIssuer(List<IssuerConfig> issuers, UpstreamAuthConfig auth, String at) {
        if (!auth.discoversTokenEndpoint()) {
            return null;
        }
        IssuerConfig found = null;
        if (auth.issuer() != null) {
            for (IssuerConfig issuer : issuers) {
                if (issuer.issuer().equals(auth.issuer())) {
                    found = issuer;
                }
            }
            if (found == null) {
                throw ConfigException.expected(at + "issuer", auth.issuer(), "one of the issuers[].issuer values "
                        + issuers.stream().map(IssuerConfig::issuer).toList());
            }
        } else if (issuers.size() == 1) {
            found = issuers.get(0);
        } else {
            throw new ConfigException(at + "token-endpoint", "is required (expected: token-endpoint, or issuer naming "
                    + "the one of the " + issuers.size() + " issuers whose discovered metadata names the token endpoint)");
        }
        if (found.isTemplate()) {
            throw new ConfigException(at + (auth.issuer() != null ? "issuer" : "token-endpoint"), "names a multi-tenant "
                    + "{tenantid} issuer, which has no metadata of its own (expected: token-endpoint)");
        }
        return found;
    }
}
