package dev.portcullis.route;

import dev.portcullis.config.RouteConfig;
import dev.portcullis.policy.Policy;
import java.net.URI;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * A compiled route: what {@link RouteConfig} says, plus everything derived from it once at load
 * time (accepted audiences, the metadata URL, the policy).
 *
 * @param config                the validated route config
 * @param acceptedAudiences     R and its configured aliases; a token's {@code aud} must contain one (AUTHN-07)
 * @param metadataUrl           the RFC 9728 well-known URL of R, sent as {@code resource_metadata}
 * @param metadataPath          the path part of {@link #metadataUrl}, served by this gateway (PRM-01)
 * @param authorizationServers  issuer identifiers listed in the metadata document (PRM-03)
 * @param policy                decides each message (the authorize stage)
 * @param upstream              the upstream URI, parsed once (requests to the route's own path with no
 *                              query are sent to exactly this URI)
 * @param dpop                  what DPoP means here (RFC 9449), from the route's and the issuers' settings
 * @param pins                  tool definition pinning (issue 17), or null when the route pins nothing
 */
public record Route(RouteConfig config, Set<String> acceptedAudiences, String metadataUrl, String metadataPath,
                    List<String> authorizationServers, Policy policy, URI upstream, RouteDpop dpop,
                    dev.portcullis.pin.RoutePins pins) {

    public Route {
        acceptedAudiences = Set.copyOf(acceptedAudiences);
        authorizationServers = List.copyOf(authorizationServers);
        dpop = dpop == null ? RouteDpop.OFF : dpop;
    }

    /** DPoP from the route's own setting only (tests): the issuers are not known. */
    public static Route compile(RouteConfig config, List<String> authorizationServers, Policy policy) {
        return compile(config, authorizationServers, policy, List.of());
    }

    /** @param issuers the configured issuers, whose {@code dpop} and {@code algorithms} settings apply to the route too */
    public static Route compile(RouteConfig config, List<String> authorizationServers, Policy policy,
                                List<dev.portcullis.config.IssuerConfig> issuers) {
        Set<String> audiences = new LinkedHashSet<>();
        audiences.add(config.resource());
        audiences.addAll(config.resourceAliases());
        // ASCII (non-ASCII characters percent-encoded): it is written into a quoted WWW-Authenticate parameter.
        String url = URI.create(ProtectedResourceMetadata.wellKnownUrl(config.resourceUri())).toASCIIString();
        return new Route(config, audiences, url, URI.create(url).getRawPath(), authorizationServers, policy,
                config.upstreamUri(), RouteDpop.of(config, issuers), null);
    }

    /** This route with tool definition pinning (issue 17). */
    public Route withPins(dev.portcullis.pin.RoutePins pins) {
        return new Route(config, acceptedAudiences, metadataUrl, metadataPath, authorizationServers, policy, upstream, dpop,
                pins);
    }

    /**
     * The public URL of a request to {@code path} on this route, as a client addresses it: the resource identifier
     * (without query or fragment) with the part of the path beyond the route's own. A DPoP proof's {@code htu} must
     * name it (RFC 9449 §4.3: the gateway's public URL, never the address it listens on).
     */
    public String publicUrl(String path) {
        if (path.equals(config.path()) && config.resource().indexOf('?') < 0) {
            return config.resource(); // the route's own path: its resource identifier (the common case, no parse)
        }
        URI r = config.resourceUri();
        String base = r.getScheme() + "://" + r.getRawAuthority() + (r.getRawPath() == null ? "" : r.getRawPath());
        String rest = config.path().equals("/") ? path : path.substring(Math.min(path.length(), config.path().length()));
        if (rest.isEmpty()) {
            return base;
        }
        if (base.endsWith("/") && rest.startsWith("/")) {
            rest = rest.substring(1);
        } else if (!base.endsWith("/") && !rest.startsWith("/")) {
            rest = "/" + rest;
        }
        return base + rest;
    }

    /** Whether list responses must be filtered: the route has a policy file (not {@code authenticatedOnly}). */
    public boolean filtersLists() {
        return config.policy() != null;
    }

    public String name() {
        return config.name();
    }

    public String path() {
        return config.path();
    }

    public String resource() {
        return config.resource();
    }

    /** Does this route serve {@code path} (exactly, or as a prefix followed by "/")? */
    public boolean matches(String path) {
        String prefix = config.path();
        return path.equals(prefix) || prefix.equals("/")
                || (path.startsWith(prefix) && path.charAt(prefix.length()) == '/');
    }

    /** The upstream URI for a request path and raw query under this route. */
    public URI upstreamUri(String path, String rawQuery) {
        URI base = upstream;
        String rest = config.path().equals("/") ? path : path.substring(config.path().length());
        if (rest.isEmpty() && (rawQuery == null || rawQuery.isEmpty())) {
            return base;
        }
        String basePath = base.getRawPath() == null ? "" : base.getRawPath();
        if (basePath.endsWith("/") && rest.startsWith("/")) {
            rest = rest.substring(1);
        }
        StringBuilder uri = new StringBuilder(base.getScheme()).append("://").append(base.getRawAuthority())
                .append(basePath).append(rest);
        String query = joinQueries(base.getRawQuery(), rawQuery);
        if (query != null) {
            uri.append('?').append(query);
        }
        return URI.create(uri.toString());
    }

    private static String joinQueries(String a, String b) {
        if (a == null || a.isEmpty()) return b == null || b.isEmpty() ? null : b;
        if (b == null || b.isEmpty()) return a;
        return a + "&" + b;
    }
}
