package dev.portcullis.authz;

import dev.portcullis.inspect.InspectedRequest;
import dev.portcullis.policy.Decision;
import java.util.List;

/** An inspected request every message of which policy allowed; one decision per message, in order. */
public record AuthorizedRequest(InspectedRequest inspected, List<Decision> decisions) {
    public AuthorizedRequest {
        decisions = List.copyOf(decisions);
    }
}
