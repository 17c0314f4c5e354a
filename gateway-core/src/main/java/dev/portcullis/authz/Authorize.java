package dev.portcullis.authz;

import dev.portcullis.failure.GatewayFailure;
import dev.portcullis.inspect.InspectedRequest;
import dev.portcullis.inspect.McpMessage;
import dev.portcullis.policy.Decision;
import dev.portcullis.policy.Subject;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import reactor.core.publisher.Mono;

/**
 * Stage 5: the route's {@link dev.portcullis.policy.Policy} decides every message before anything
 * is forwarded. A step-up becomes a 403 {@code insufficient_scope} challenge listing the granted
 * scopes plus the missing ones (CHALLENGE-04/05); a denial becomes a JSON-RPC error carrying the
 * request id (JSONRPC-08b). Responses posted by the client (answers to server requests) carry no
 * method and are not policy subjects.
 */
public final class Authorize {

    public Mono<AuthorizedRequest> apply(InspectedRequest inspected) {
        var authenticated = inspected.authenticated();
        var policy = authenticated.routed().route().policy();
        Subject subject = authenticated.principal().asSubject();
        List<Decision> decisions = new ArrayList<>(inspected.messages().size());
        for (McpMessage message : inspected.messages()) {
            if (message.kind() == McpMessage.Kind.RESPONSE) {
                decisions.add(Decision.allow("response", "responses to server requests are not policy subjects"));
                continue;
            }
            Decision decision = policy.decide(subject, message.operation());
            switch (decision.outcome()) {
                case ALLOW -> decisions.add(decision);
                case STEP_UP -> {
                    Set<String> scopes = new TreeSet<>(subject.scopes());
                    scopes.addAll(decision.requiredScopes());
                    return Mono.error(GatewayFailure.insufficientScope("Additional scope is required", scopes)
                            .withJsonRpcId(message.id()).withDecision(decision));
                }
                case DENY -> {
                    return Mono.error(GatewayFailure.of(dev.portcullis.failure.Reason.POLICY_DENIED,
                            "Denied by gateway policy", "rule " + decision.ruleId() + ": " + decision.reason())
                            .withJsonRpcId(message.id()).withDecision(decision));
                }
            }
        }
        return Mono.just(new AuthorizedRequest(inspected, decisions));
    }
}
