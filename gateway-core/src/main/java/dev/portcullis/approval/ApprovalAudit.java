package dev.portcullis.approval;

import dev.portcullis.audit.AuditLog;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.spi.LoggingEventBuilder;

/**
 * Issue 17: every request for approval, approval, denial, expiry, use and refused attempt is one event on the
 * audit trail ({@value AuditLog#LOGGER}), beside the request events, with the same field names where they mean
 * the same ({@code user.id} is the caller whose call is held; the approver has fields of its own). Never holds
 * an argument value: the arguments are named by their digest, as in {@code audit.arguments: digest}.
 */
public class ApprovalAudit {
    private static final Logger log = LoggerFactory.getLogger(AuditLog.LOGGER);
    /** An approver's comment is cut here: bounded audit lines. */
    static final int MAX_COMMENT = 500;

    /** What happened to an approval request. */
    public enum Action {
        REQUESTED("approval.requested"),
        APPROVED("approval.approved"),
        COUNTED("approval.counted"),
        DENIED("approval.denied"),
        EXPIRED("approval.expired"),
        USED("approval.used"),
        REFUSED("approval.refused");

        private final String name;

        Action(String name) {
            this.name = name;
        }

        public String eventName() {
            return name;
        }
    }

    /** Records {@code action} on {@code request}; {@code approver}, {@code reason} and {@code comment} may be null. */
    public void record(Action action, ApprovalRequest request, ApprovalRequest.Party approver, String reason, String comment) {
        Map<String, Object> fields = fields(action, request, approver, reason, comment, Instant.now());
        LoggingEventBuilder builder = log.atInfo();
        fields.forEach(builder::addKeyValue);
        builder.log("mcp {} {}", action.eventName(), request.tool());
    }

    /** The event's fields, in order, nulls left out. */
    public static Map<String, Object> fields(Action action, ApprovalRequest request, ApprovalRequest.Party approver,
                                             String reason, String comment, Instant at) {
        Map<String, Object> f = new LinkedHashMap<>();
        f.put("@timestamp", at.toString());
        f.put("event.action", action.eventName());
        f.put("event.outcome", action == Action.APPROVED || action == Action.USED || action == Action.COUNTED
                ? "success" : action == Action.REQUESTED ? "unknown" : "failure");
        put(f, "event.reason", reason);
        f.put("rule.id", request.ruleId());
        f.put("portcullis.route", request.route());
        f.put("gen_ai.tool.name", request.tool());
        f.put("portcullis.approval.id", request.id());
        f.put("portcullis.approval.status", request.status().name().toLowerCase(java.util.Locale.ROOT));
        f.put("portcullis.approval.count", request.approvals() + "/" + request.count());
        f.put("portcullis.approval.expires", Instant.ofEpochMilli(request.expiresAt()).toString());
        f.put("user.id", request.requester().subject());
        put(f, "user.name", request.requester().name());
        f.put("portcullis.token.issuer", request.requester().issuer());
        put(f, "portcullis.agent", request.requester().agent().isEmpty() ? null : request.requester().agent());
        f.put("portcullis.arguments", "sha256:" + request.argumentsDigest());
        if (approver != null) {
            f.put("portcullis.approver.id", approver.subject());
            put(f, "portcullis.approver.name", approver.name());
            f.put("portcullis.approver.issuer", approver.issuer());
        }
        if (comment != null && !comment.isEmpty()) {
            f.put("portcullis.approval.comment", comment.length() <= MAX_COMMENT ? comment : comment.substring(0, MAX_COMMENT));
        }
        return f;
    }

    private static void put(Map<String, Object> f, String key, Object value) {
        if (value != null) {
            f.put(key, value);
        }
    }
}
