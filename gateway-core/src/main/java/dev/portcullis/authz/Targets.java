package dev.portcullis.authz;

import com.fasterxml.jackson.databind.JsonNode;
import dev.portcullis.failure.GatewayFailure;
import dev.portcullis.failure.Reason;
import dev.portcullis.inspect.McpMessage;
import dev.portcullis.policy.CompiledPolicy;
import dev.portcullis.policy.Decision;
import dev.portcullis.policy.ItemKind;
import dev.portcullis.policy.Policy;
import dev.portcullis.policy.ResourceUri;
import dev.portcullis.policy.Subject;
import java.util.Optional;

/**
 * What a message names besides its method, checked before it may be forwarded (issue 12):
 *
 * <ul>
 *   <li><b>Resource URIs in normal form</b> (item 1): {@code resources/read}, {@code resources/subscribe},
 *       {@code resources/unsubscribe} ({@code params.uri}), a {@code completion/complete} {@code ref/resource}
 *       ({@code params.ref.uri}, a URI or a template) and a 2026-07-28 {@code subscriptions/listen}
 *       ({@code params.notifications.resourceSubscriptions}) must name URIs in the normal form of
 *       {@link ResourceUri}; anything else is refused on every route with {@code -32602} naming what is
 *       wrong, and never forwarded. The gateway does not rewrite the URI: the upstream gets exactly the
 *       bytes policy decided on.</li>
 *   <li><b>Completion follows its ref</b> (item 5): a {@code completion/complete} whose {@code ref} names a
 *       prompt or resource template the caller may not see is answered as if the item did not exist, in the
 *       same shape as {@code prompts/get} of a hidden prompt ({@code -32602 "Unknown prompt: <name>"}) or
 *       {@code resources/read} of a hidden resource ({@code -32002}). On a route with a policy, a ref that is
 *       missing or of an unknown type is refused too (deny by default).</li>
 * </ul>
 */
final class Targets {
    static final String COMPLETE = "completion/complete";

    private Targets() {}

    /** A refusal for {@code message}, or empty when what it names may be decided and forwarded. */
    static Optional<GatewayFailure> refusal(McpMessage message, Subject subject, Policy policy, boolean policed) {
        if (message.kind() == McpMessage.Kind.RESPONSE || message.method() == null) {
            return Optional.empty();
        }
        Optional<String> notNormal = notNormal(message);
        if (notNormal.isPresent()) {
            return Optional.of(invalid(message, "Invalid params: resource URI is not in normal form (" + notNormal.get() + ")",
                    Decision.deny(CompiledPolicy.NOT_NORMAL, "resource URI not in normal form: " + notNormal.get())));
        }
        if (COMPLETE.equals(message.method())) {
            return completionRef(message, subject, policy, policed);
        }
        return Optional.empty();
    }

    /** Why a URI the message names is not in normal form, or empty. */
    static Optional<String> notNormal(McpMessage message) {
        JsonNode params = message.params();
        if (params == null || !params.isObject()) {
            return Optional.empty();
        }
        switch (message.method()) {
            case "resources/read", "resources/subscribe", "resources/unsubscribe" -> {
                JsonNode uri = params.get("uri");
                return uri != null && uri.isTextual() ? ResourceUri.problem(uri.textValue()) : Optional.empty();
            }
            case COMPLETE -> {
                JsonNode ref = params.get("ref");
                if (ref != null && "ref/resource".equals(ref.path("type").textValue()) && ref.path("uri").isTextual()) {
                    return ResourceUri.templateProblem(ref.path("uri").textValue());
                }
                return Optional.empty();
            }
            case SubscriptionFilter.METHOD -> {
                JsonNode uris = params.path("notifications").get("resourceSubscriptions");
                if (uris != null && uris.isArray()) {
                    for (JsonNode uri : uris) {
                        Optional<String> problem = uri.isTextual() ? ResourceUri.problem(uri.textValue()) : Optional.empty();
                        if (problem.isPresent()) {
                            return problem;
                        }
                    }
                }
                return Optional.empty();
            }
            default -> {
                return Optional.empty();
            }
        }
    }

    private static Optional<GatewayFailure> completionRef(McpMessage message, Subject subject, Policy policy, boolean policed) {
        JsonNode ref = message.params() == null ? null : message.params().get("ref");
        String type = ref == null ? null : ref.path("type").textValue();
        if ("ref/prompt".equals(type) && ref.path("name").isTextual()) {
            String name = ref.path("name").textValue();
            return policy.visible(subject, ItemKind.PROMPT, name) ? Optional.empty()
                    : Optional.of(GatewayFailure.of(Reason.UNKNOWN_TOOL, "Unknown prompt: " + name,
                            "completion for a prompt the caller may not see")
                            .withJsonRpcId(message.id())
                            .withDecision(Decision.deny("completion-ref", "prompt " + name + " is hidden from the caller")));
        }
        if ("ref/resource".equals(type) && ref.path("uri").isTextual()) {
            String uri = ref.path("uri").textValue();
            return policy.visible(subject, ItemKind.RESOURCE_TEMPLATE, uri) ? Optional.empty()
                    : Optional.of(GatewayFailure.of(Reason.RESOURCE_NOT_FOUND, "Resource not found",
                            "completion for a resource template the caller may not see")
                            .withJsonRpcId(message.id())
                            .withDecision(Decision.deny("completion-ref", "resource template " + uri + " is hidden from the caller")));
        }
        if (!policed) {
            return Optional.empty(); // no policy: the upstream judges its own params
        }
        return Optional.of(invalid(message, "Invalid params: completion/complete needs a ref/prompt name or a ref/resource uri",
                Decision.deny("completion-ref", "completion without a ref the gateway can decide")));
    }

    private static GatewayFailure invalid(McpMessage message, String description, Decision decision) {
        if (message.kind() == McpMessage.Kind.NOTIFICATION) {
            return GatewayFailure.of(Reason.NOTIFICATION_DENIED, "Forbidden", description).withDecision(decision);
        }
        return GatewayFailure.of(Reason.INVALID_TARGET, description, decision.reason())
                .withJsonRpcId(message.id()).withDecision(decision);
    }
}
