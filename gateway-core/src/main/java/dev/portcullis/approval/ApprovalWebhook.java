package dev.portcullis.approval;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Issue 17: tells a chat or ticket system about approval requests and their outcome: every audited approval
 * event (requested, approved, denied, expired, used; not the refused attempts) is also POSTed as JSON to the
 * configured URL, signed with HMAC-SHA256:
 *
 * <pre>
 * X-Portcullis-Timestamp: 1767225600
 * X-Portcullis-Signature: sha256=&lt;hex HMAC-SHA256(secret, timestamp + "." + body)&gt;
 * </pre>
 *
 * The receiver recomputes the signature over the timestamp and the raw body and refuses old timestamps (replays).
 * The body names the request, its page, the tool, the rule and who asks; arguments only by digest. Delivery is
 * asynchronous, never on the request path, one attempt with a short timeout; a failure is logged (without the
 * secret) and changes nothing about the approval.
 */
public final class ApprovalWebhook extends ApprovalAudit {
    private static final Logger log = LoggerFactory.getLogger(ApprovalWebhook.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Set<Action> SENT = Set.of(Action.REQUESTED, Action.APPROVED, Action.DENIED, Action.EXPIRED, Action.USED);

    private final URI url;
    private final java.util.function.Supplier<byte[]> secret;
    private final Function<String, String> pageUrl;
    private final HttpClient http;
    private final Clock clock;
    /**
     * Builds, signs and sends each notification off the caller's thread (the gate runs on an event loop, and the
     * secret is read from its file on each use): one daemon thread, a bounded queue, the oldest kept.
     */
    private final java.util.concurrent.ThreadPoolExecutor sender = new java.util.concurrent.ThreadPoolExecutor(1, 1, 0,
            java.util.concurrent.TimeUnit.SECONDS, new java.util.concurrent.ArrayBlockingQueue<>(1_000), runnable -> {
                Thread thread = new Thread(runnable, "portcullis-approval-webhook");
                thread.setDaemon(true);
                return thread;
            }, (task, pool) -> log.warn("approval webhook: 1000 notifications waiting; one dropped"));

    /**
     * @param secret  the HMAC key, read on each use (a mounted secret can rotate)
     * @param pageUrl the approval page of a request id
     */
    public ApprovalWebhook(URI url, java.util.function.Supplier<byte[]> secret, Function<String, String> pageUrl, Clock clock) {
        this.url = url;
        this.secret = secret;
        this.pageUrl = pageUrl;
        this.clock = clock;
        this.http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5))
                .followRedirects(HttpClient.Redirect.NEVER).build();
    }

    @Override
    public void record(Action action, ApprovalRequest request, ApprovalRequest.Party approver, String reason, String comment) {
        super.record(action, request, approver, reason, comment);
        if (SENT.contains(action)) {
            sender.execute(() -> send(action, request, approver, comment));
        }
    }

    /** The JSON body of one notification. */
    byte[] body(Action action, ApprovalRequest request, ApprovalRequest.Party approver, String comment) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("event", action.eventName());
        body.put("id", request.id());
        body.put("url", pageUrl.apply(request.id()));
        body.put("status", request.status().name().toLowerCase(java.util.Locale.ROOT));
        body.put("route", request.route());
        body.put("tool", request.tool());
        body.put("rule", request.ruleId());
        Map<String, Object> requester = new LinkedHashMap<>();
        requester.put("subject", request.requester().subject());
        requester.put("name", request.requester().name());
        requester.put("issuer", request.requester().issuer());
        requester.put("agent", request.requester().agent());
        body.put("requester", requester);
        if (approver != null) {
            body.put("approver", Map.of("subject", approver.subject(), "name", approver.shown()));
        }
        if (comment != null && !comment.isEmpty()) {
            body.put("comment", comment.length() <= MAX_COMMENT ? comment : comment.substring(0, MAX_COMMENT));
        }
        body.put("approvals", request.approvals() + "/" + request.count());
        body.put("expiresAt", Instant.ofEpochMilli(request.expiresAt()).toString());
        body.put("arguments", "sha256:" + request.argumentsDigest());
        try {
            return JSON.writeValueAsBytes(body);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** {@code sha256=<hex>} over {@code timestamp + "." + body}. */
    public static String signature(byte[] key, String timestamp, byte[] body) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(key, "HmacSHA256"));
            mac.update(timestamp.getBytes(StandardCharsets.US_ASCII));
            mac.update((byte) '.');
            return "sha256=" + HexFormat.of().formatHex(mac.doFinal(body));
        } catch (java.security.GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    private void send(Action action, ApprovalRequest request, ApprovalRequest.Party approver, String comment) {
        try {
            byte[] body = body(action, request, approver, comment);
            String timestamp = Long.toString(clock.instant().getEpochSecond());
            HttpRequest post = HttpRequest.newBuilder(url).timeout(Duration.ofSeconds(10))
                    .header("Content-Type", "application/json")
                    .header("User-Agent", "portcullis-approvals")
                    .header("X-Portcullis-Event", action.eventName())
                    .header("X-Portcullis-Timestamp", timestamp)
                    .header("X-Portcullis-Signature", signature(secret.get(), timestamp, body))
                    .POST(HttpRequest.BodyPublishers.ofByteArray(body)).build();
            http.sendAsync(post, HttpResponse.BodyHandlers.discarding()).whenComplete((response, error) -> {
                if (error != null) {
                    log.warn("approval webhook {}: {} for approval {} not delivered: {}", url.getHost(), action.eventName(),
                            request.id(), error.getClass().getSimpleName());
                } else if (response.statusCode() / 100 != 2) {
                    log.warn("approval webhook {}: {} for approval {} answered {}", url.getHost(), action.eventName(),
                            request.id(), response.statusCode());
                }
            });
        } catch (RuntimeException e) {
            log.warn("approval webhook {}: {} for approval {} not sent: {}", url.getHost(), action.eventName(), request.id(),
                    e.getClass().getSimpleName());
        }
    }
}
