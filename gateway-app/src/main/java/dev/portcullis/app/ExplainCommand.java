package dev.portcullis.app;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.nimbusds.jwt.JWTClaimsSet;
import dev.portcullis.app.config.ConfigLoader;
import dev.portcullis.authn.ClaimsMapping;
import dev.portcullis.authz.PolicySource;
import dev.portcullis.config.GatewayConfig;
import dev.portcullis.config.IssuerConfig;
import dev.portcullis.failure.GatewayFailure;
import dev.portcullis.inspect.JsonRpcInspector;
import dev.portcullis.inspect.McpMessage;
import dev.portcullis.policy.Decision;
import dev.portcullis.policy.Explain;
import dev.portcullis.policy.LoadedPolicy;
import dev.portcullis.policy.Operation;
import dev.portcullis.policy.PolicyLoader;
import dev.portcullis.policy.Subject;
import dev.portcullis.policy.SubjectClaims;
import dev.portcullis.route.Route;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;

/**
 * {@code explain}: how the gateway decides one call. With {@code --config} it decides through the
 * code {@code run} uses, so the two cannot disagree: the routes, policies and issuers are built by
 * {@link Gateway.Assembly} (as {@code run} builds them), the claims become a subject through
 * {@link ClaimsMapping} with the issuer that {@code iss} names (its preset: Keycloak's
 * {@code realm_access.roles}, Entra's {@code scp}...), the call becomes a JSON-RPC message read by the
 * gateway's own {@link JsonRpcInspector}, and the route's policy decides it as the authorize stage does.
 */
final class ExplainCommand {
    /** Wrong or missing options: exit 2. */
    static final class UsageError extends RuntimeException {
        private static final long serialVersionUID = 1L;

        UsageError(String message) {
            super(message, null, false, false);
        }
    }

    private ExplainCommand() {}

    static String run(Path config, String routeName, Path policy, Path claimsFile, String tool, String resource,
                      String prompt, String method, String arguments) {
        if ((config == null) == (policy == null)) {
            throw new UsageError("name exactly one of --config (decide as run does) or --policy");
        }
        if (routeName != null && config == null) {
            throw new UsageError("--route needs --config");
        }
        String claimsText = read(claimsFile);
        Operation operation = operation(tool, resource, prompt, method, arguments);
        if (policy != null) {
            LoadedPolicy loaded = PolicyLoader.load(policy);
            Subject subject;
            try {
                subject = SubjectClaims.fromJson(claimsText);
            } catch (IllegalArgumentException e) {
                throw new ConfigLoader.InvalidConfigException(claimsFile + ": " + e.getMessage());
            }
            return Explain.explain(loaded, subject, operation);
        }
        GatewayConfig loaded = ConfigLoader.load(config);
        try (Gateway.Assembly built = Gateway.Assembly.build(loaded, config.toString())) {
            Route route = route(built.routes, routeName);
            JWTClaimsSet claims;
            try {
                claims = ClaimsMapping.parseClaims(claimsText);
            } catch (IllegalArgumentException e) {
                throw new ConfigLoader.InvalidConfigException(claimsFile + ": " + e.getMessage());
            }
            // As TokenVerifier: the exact iss, or a multi-tenant {tenantid} template it fills (with a tid that agrees).
            IssuerConfig issuer = loaded.issuers().stream().filter(i -> i.issuer().equals(claims.getIssuer())
                            || (i.tenantOf(claims.getIssuer()) != null
                                && i.tenantOf(claims.getIssuer()).equalsIgnoreCase(String.valueOf(claims.getClaim("tid")))))
                    .findFirst()
                    .orElseThrow(() -> new ConfigLoader.InvalidConfigException(claimsFile + ": iss "
                            + (claims.getIssuer() == null ? "is missing" : "\"" + claims.getIssuer() + "\" is not configured")
                            + " (expected one of: " + loaded.issuers().stream().map(IssuerConfig::issuer)
                            .collect(Collectors.joining(", ")) + "; the gateway answers 401 to such a token)"));
            Subject subject = ClaimsMapping.subject(issuer, claims);
            StringBuilder out = new StringBuilder();
            line(out, "route", route.name() + " (" + route.path() + ", policy "
                    + (route.config().policy() == null ? "none: any authenticated caller" : route.config().policy()) + ")");
            line(out, "issuer", issuer.issuer() + " (claims " + issuer.claims() + ": agent from "
                    + String.join(" or ", issuer.effectiveAgentClaims()) + ", scopes from " + issuer.effectiveScopeClaim()
                    + ", roles from " + issuer.effectiveRolesClaim() + ")");
            List<String> aud = claims.getAudience();
            if (aud == null || aud.stream().noneMatch(route.acceptedAudiences()::contains)) {
                line(out, "note", "aud " + (aud == null || aud.isEmpty() ? "(none)" : aud) + " is not accepted by this route"
                        + " (expected one of " + route.acceptedAudiences() + "): the gateway answers 401 before any policy");
            }
            if (route.policy() instanceof PolicySource source) {
                out.append(Explain.explain(source.loaded(), subject, operation));
            } else {
                Decision decision = route.policy().decide(subject, operation);
                line(out, "operation", operation.method() + operation.target().map(t -> " \"" + t + "\"").orElse(""));
                line(out, "caller", "sub \"" + subject.subject() + "\", agent \"" + subject.agent() + "\"");
                line(out, "decision", decision.outcome() + (decision.allowed() ? " (forwarded)" : ""));
                line(out, "rule", decision.ruleId());
                line(out, "reason", decision.reason());
            }
            return out.toString();
        }
    }

    private static final String INDENT = "                 ";

    private static void line(StringBuilder out, String label, String value) {
        out.append((label + ":" + INDENT).substring(0, INDENT.length())).append(value).append('\n');
    }

    private static Route route(List<Route> routes, String name) {
        if (name == null) {
            if (routes.size() == 1) {
                return routes.get(0);
            }
            throw new UsageError("the config has " + routes.size() + " routes: name one with --route ("
                    + routes.stream().map(Route::name).collect(Collectors.joining(", ")) + ")");
        }
        return routes.stream().filter(r -> r.name().equals(name)).findFirst()
                .orElseThrow(() -> new UsageError("--route " + name + ": no such route (expected one of: "
                        + routes.stream().map(Route::name).collect(Collectors.joining(", ")) + ")"));
    }

    private static String read(Path file) {
        try {
            return Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new ConfigLoader.InvalidConfigException(file + ": cannot be read (" + e.getClass().getSimpleName() + ")");
        }
    }

    /** The call as the JSON-RPC message a client would send, read by the gateway's own inspector. */
    static Operation operation(String tool, String resource, String prompt, String method, String arguments) {
        int named = (tool != null ? 1 : 0) + (resource != null ? 1 : 0) + (prompt != null ? 1 : 0) + (method != null ? 1 : 0);
        if (named != 1) {
            throw new UsageError("name exactly one of --tool, --resource, --prompt or --method");
        }
        JsonRpcInspector inspector = new JsonRpcInspector();
        JsonNode args;
        try {
            args = inspector.mapper().readTree(arguments);
        } catch (JsonProcessingException e) {
            throw new ConfigLoader.InvalidConfigException("--arguments: not valid JSON (" + e.getOriginalMessage()
                    .replaceAll("[\\r\\n]+", " ") + ")");
        }
        if (args == null || !args.isObject()) {
            throw new ConfigLoader.InvalidConfigException("--arguments: expected a JSON object, e.g. '{\"path\": \"/tmp\"}'");
        }
        ObjectNode message = JsonNodeFactory.instance.objectNode().put("jsonrpc", "2.0").put("id", 1);
        ObjectNode params = JsonNodeFactory.instance.objectNode();
        if (tool != null) {
            message.put("method", "tools/call");
            params.put("name", tool).set("arguments", args);
        } else if (prompt != null) {
            message.put("method", "prompts/get");
            params.put("name", prompt).set("arguments", args);
        } else if (resource != null) {
            message.put("method", "resources/read");
            params.put("uri", resource);
        } else {
            message.put("method", method);
        }
        message.set("params", params);
        try {
            List<McpMessage> messages = inspector.inspect(message.toString().getBytes(StandardCharsets.UTF_8));
            return messages.get(0).operation();
        } catch (GatewayFailure e) {
            throw new ConfigLoader.InvalidConfigException("explain: the gateway would refuse this message ("
                    + e.getMessage() + ")");
        }
    }
}
