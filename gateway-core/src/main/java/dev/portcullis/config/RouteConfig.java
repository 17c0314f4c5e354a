package dev.portcullis.config;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * One protected MCP endpoint: a path on the gateway, the upstream MCP server behind it, and the
 * resource identifier tokens must be issued for.
 *
 * @param name            a short unique name (logs, metrics, audit)
 * @param path            the path prefix clients use, e.g. {@code /mcp}; the longest matching prefix wins
 * @param upstream        the upstream MCP server's streamable-HTTP endpoint URL
 * @param resource        this endpoint's canonical resource URI R (RFC 8707/9728): tokens must carry it in
 *                        {@code aud}; its Protected Resource Metadata is served at the path-inserted well-known URL
 * @param resourceAliases extra accepted {@code aud} values (AUTHN-07: case variants are listed, never normalised)
 * @param resourceName    human-readable name in the metadata document (default: the route name)
 * @param scopes          baseline scopes: advertised as {@code scopes_supported} and in the 401 challenge
 * @param policy          per-tool policy file (see gateway-policy/README.md), reloaded when it changes; without one
 *                        the route admits every authenticated caller to every tool
 * @param upstreamAuth    credentials for the upstream (default {@code {type: none}})
 * @param connectTimeout  upstream connect timeout (default 5s); exceeded → 502
 * @param responseTimeout time to wait for upstream response headers, and between reads of a JSON response
 *                        (default 60s); exceeded → 504. SSE streams are not cut by it
 * @param allowInsecureUpstream allow a plain-http upstream on a non-loopback host (default false: PROXY-10)
 * @param stepUp          how a call needing more scopes is answered: {@code challenge} (default: HTTP 403
 *                        {@code insufficient_scope}, CHALLENGE-04) or {@code error} (a JSON-RPC error, for
 *                        clients that cannot step up: docs/spec/MCP-GATEWAY-REQUIREMENTS.md §3 item 9)
 * @param policyReloadInterval how often the policy file is checked for changes (default 2s)
 * @param transport       the upstream's transport: {@code streamable-http} (default; 2025-03-26 and later) or
 *                        {@code sse} (2024-11-05 HTTP+SSE: {@code upstream} is its SSE URL; clients GET {@code path}
 *                        for the stream and POST to the endpoint the gateway announces on it)
 * @param batches         a 2025-03-26 batch some of whose elements policy refuses (POLICY-07): {@code partial}
 *                        (default: the allowed elements are forwarded as a smaller batch, each refused request
 *                        gets its JSON-RPC error in the answer) or {@code reject-whole} (nothing is forwarded, every
 *                        request of the batch gets an error)
 * @param dpop            DPoP-bound tokens on this route (RFC 9449, docs/dpop.md): {@code off} (default: the issuers'
 *                        settings alone apply), {@code allowed} or {@code required}; the stricter of the route's and
 *                        the token issuer's setting applies
 * @param dpopNonce       demand a server-provided nonce in DPoP proofs (RFC 9449 §9; default false): a proof without
 *                        a fresh one is answered 401 {@code use_dpop_nonce} with a {@code DPoP-Nonce}
 * @param dpopProofWindow how far a proof's {@code iat} may lie from now, either way (default and at most 5m, as
 *                        SEP-1932 has it; at least 5s); a proof's {@code jti} is remembered as long as it is accepted
 * @param pinning         tool definition pinning (issue 17, docs/pinning.md), or null (off)
 */
public record RouteConfig(String name, String path, String upstream, String resource, List<String> resourceAliases,
                          String resourceName, List<String> scopes, Path policy, UpstreamAuthConfig upstreamAuth,
                          Duration connectTimeout, Duration responseTimeout, Boolean allowInsecureUpstream,
                          String stepUp, Duration policyReloadInterval, String transport, String batches,
                          String dpop, Boolean dpopNonce, Duration dpopProofWindow, PinningConfig pinning) {
    /** The longest proof window, and the default: SEP-1932 (DPoP for MCP) makes servers accept ±5 minutes. */
    public static final Duration MAX_DPOP_PROOF_WINDOW = Duration.ofMinutes(5);

    /** Without pinning (issue 17). */
    public RouteConfig(String name, String path, String upstream, String resource, List<String> resourceAliases,
                       String resourceName, List<String> scopes, Path policy, UpstreamAuthConfig upstreamAuth,
                       Duration connectTimeout, Duration responseTimeout, Boolean allowInsecureUpstream,
                       String stepUp, Duration policyReloadInterval, String transport, String batches,
                       String dpop, Boolean dpopNonce, Duration dpopProofWindow) {
        this(name, path, upstream, resource, resourceAliases, resourceName, scopes, policy, upstreamAuth, connectTimeout,
                responseTimeout, allowInsecureUpstream, stepUp, policyReloadInterval, transport, batches, dpop, dpopNonce,
                dpopProofWindow, null);
    }

    /** Without DPoP (tests). */
    public RouteConfig(String name, String path, String upstream, String resource, List<String> resourceAliases,
                       String resourceName, List<String> scopes, Path policy, UpstreamAuthConfig upstreamAuth,
                       Duration connectTimeout, Duration responseTimeout, Boolean allowInsecureUpstream,
                       String stepUp, Duration policyReloadInterval, String transport, String batches) {
        this(name, path, upstream, resource, resourceAliases, resourceName, scopes, policy, upstreamAuth, connectTimeout,
                responseTimeout, allowInsecureUpstream, stepUp, policyReloadInterval, transport, batches, null, null, null);
    }

    public RouteConfig {
        Checks.required("name", name);
        if (!name.matches("[A-Za-z0-9][A-Za-z0-9._-]{0,62}")) {
            throw ConfigException.expected("name", name, "letters, digits, '.', '_' or '-', at most 63");
        }
        Checks.required("path", path);
        if (!path.startsWith("/") || path.contains("?") || path.contains("#") || path.contains("//")
                || (path.length() > 1 && path.endsWith("/")) || path.startsWith("/.well-known")) {
            throw ConfigException.expected("path", path,
                    "starts with \"/\", no trailing \"/\", no query, not under /.well-known");
        }
        allowInsecureUpstream = allowInsecureUpstream != null && allowInsecureUpstream;
        Checks.httpUrl("upstream", upstream, allowInsecureUpstream);
        URI r = Checks.httpUrl("resource", resource, false);
        if (r.getRawPath() != null && r.getRawPath().length() > 1 && r.getRawPath().endsWith("/")) {
            throw ConfigException.expected("resource", resource, "no trailing \"/\" (PRM-02)");
        }
        // An alias is an aud value: a URL (a case variant of R, AUTHN-07) or a plain string, which is what
        // real IdPs issue (a Keycloak client id, an Entra v2 application GUID, an Entra v1 api:// URI).
        resourceAliases = resourceAliases == null ? List.of() : List.copyOf(resourceAliases);
        for (String alias : resourceAliases) {
            if (alias.isBlank() || alias.chars().anyMatch(c -> c < 0x20 || c == 0x7f)) {
                throw ConfigException.expected("resource-aliases", alias,
                        "an aud value: a URL or a plain string such as a client id, not blank, no control characters");
            }
        }
        resourceName = resourceName == null ? name : resourceName;
        scopes = scopes == null ? List.of() : List.copyOf(scopes);
        for (String scope : scopes) {
            if (scope.isEmpty() || !scope.matches("[\\x21\\x23-\\x5B\\x5D-\\x7E]+")) {
                throw ConfigException.expected("scopes", scope, "RFC 6749 scope tokens (no spaces, quotes or backslashes)");
            }
            if (scope.equals("offline_access")) {
                throw ConfigException.expected("scopes", scope, "resource scopes only (offline_access is never advertised: V26-40)");
            }
        }
        if (policy != null && !java.nio.file.Files.isReadable(policy)) {
            throw ConfigException.expected("policy", policy.toString(), "a readable policy file");
        }
        stepUp = stepUp == null ? "challenge" : stepUp;
        if (!stepUp.equals("challenge") && !stepUp.equals("error")) {
            throw ConfigException.expected("step-up", stepUp, "challenge (403 insufficient_scope) or error (JSON-RPC error)");
        }
        policyReloadInterval = policyReloadInterval == null ? Duration.ofSeconds(2) : policyReloadInterval;
        transport = transport == null ? "streamable-http" : transport;
        if (!transport.equals("streamable-http") && !transport.equals("sse")) {
            throw ConfigException.expected("transport", transport, "streamable-http, or sse for 2024-11-05 HTTP+SSE servers");
        }
        batches = batches == null ? "partial" : batches;
        if (!batches.equals("partial") && !batches.equals("reject-whole")) {
            throw ConfigException.expected("batches", batches,
                    "partial (forward the allowed elements) or reject-whole (refuse a batch with any refused element)");
        }
        if (policyReloadInterval.compareTo(Duration.ofMillis(100)) < 0) {
            throw ConfigException.expected("policy-reload-interval", DurationText.format(policyReloadInterval), "at least 100ms");
        }
        upstreamAuth = upstreamAuth == null ? UpstreamAuthConfig.none() : upstreamAuth;
        connectTimeout = connectTimeout == null ? Duration.ofSeconds(5) : connectTimeout;
        responseTimeout = responseTimeout == null ? Duration.ofSeconds(60) : responseTimeout;
        dpop = DpopMode.parse("dpop", dpop).text();
        dpopNonce = dpopNonce != null && dpopNonce;
        dpopProofWindow = dpopProofWindow == null ? MAX_DPOP_PROOF_WINDOW : dpopProofWindow;
        if (dpopProofWindow.compareTo(Duration.ofSeconds(5)) < 0 || dpopProofWindow.compareTo(MAX_DPOP_PROOF_WINDOW) > 0) {
            throw ConfigException.expected("dpop-proof-window", DurationText.format(dpopProofWindow),
                    "5s..5m (SEP-1932: servers accept a proof's iat within 5 minutes of now; stricter is allowed)");
        }
    }

    /** {@link #dpop} parsed. */
    public DpopMode dpopMode() {
        return DpopMode.valueOf(dpop.toUpperCase(java.util.Locale.ROOT));
    }

    /** Whether the upstream speaks the 2024-11-05 HTTP+SSE transport. */
    public boolean legacySse() {
        return transport.equals("sse");
    }

    /** Whether a batch with refused elements is still forwarded, minus those elements (POLICY-07). */
    public boolean partialBatches() {
        return batches.equals("partial");
    }

    public URI upstreamUri() {
        return URI.create(upstream);
    }

    public URI resourceUri() {
        return URI.create(resource);
    }
}
