package dev.portcullis.app.approvals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Ticker;
import dev.portcullis.approval.ApprovalAudit;
import dev.portcullis.approval.ApprovalRequest;
import dev.portcullis.approval.ApprovalStore;
import dev.portcullis.config.ApprovalsConfig;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Issue 17: the approval page, as a function from a request to a response (no sockets: {@link ApprovalServer}
 * serves it). Routes, under the path of {@code approvals.public-url}:
 * <ul>
 *   <li>{@code GET /approvals/<id>}: the held call (who asks, which agent, which tool, the arguments HTML-escaped
 *       with secrets masked, the rule, the votes so far) and the approve/deny form; without a session, the sign-in
 *       at the IdP (authorization code + PKCE) starts, then comes back here;</li>
 *   <li>{@code GET /approvals/callback}: the IdP's redirect: state checked against this browser's login cookie,
 *       code redeemed, ID token verified, a session made;</li>
 *   <li>{@code POST /approvals/<id>}: approve or deny with a comment; CSRF token (bound to the session) and
 *       same-origin {@code Origin} required;</li>
 *   <li>{@code GET /approvals/static/style.css}.</li>
 * </ul>
 * Sessions live in this process (the page is low-traffic; with several replicas, route approvers to one, or
 * sticky); the approvals themselves live in the shared store. Cookies are {@code HttpOnly}, {@code SameSite=Lax}
 * (the IdP's redirect back is a cross-site navigation) and {@code Secure} on https. Every page carries a strict
 * Content-Security-Policy (no script at all), {@code no-store}, and no referrer. Codes, tokens and cookies are
 * never logged.
 */
public final class ApprovalPages {
    private static final Logger log = LoggerFactory.getLogger(ApprovalPages.class);
    static final String SESSION_COOKIE = "portcullis_approver";
    static final String LOGIN_COOKIE = "portcullis_login";
    static final Pattern ID = Pattern.compile("[A-Za-z0-9_-]{22}");
    static final int MAX_COMMENT = 500;
    private static final Duration LOGIN_TIME = Duration.ofMinutes(10);
    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss 'UTC'").withZone(ZoneOffset.UTC);
    private static final ObjectMapper JSON = new ObjectMapper();
    static final String CSP = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
            + "frame-ancestors 'none'; base-uri 'none'";

    /** A request, as the server read it. */
    public record PageRequest(String method, String path, Map<String, String> query, Map<String, String> cookies,
                              String origin, Map<String, String> form) {}

    /** A response: status, headers, {@code Set-Cookie} values, body. */
    public record PageResponse(int status, Map<String, String> headers, List<String> cookies, byte[] body) {
        String text() {
            return new String(body, StandardCharsets.UTF_8);
        }
    }

    private record Login(String verifier, String nonce, String returnTo, String browser) {}

    /** A signed-in approver. */
    record Session(ApproverLogin.Approver approver, String csrf, long expiresAtMillis) {}

    private final ApprovalsConfig config;
    private final ApprovalStore store;
    private final ApprovalAudit audit;
    private final ApproverLogin login;
    private final Clock clock;
    private final String base;
    private final String origin;
    private final SecureRandom random = dev.portcullis.approval.ApprovalBinding.nonBlockingRandom();
    private final Cache<String, Login> logins;
    private final Cache<String, Session> sessions;
    private final byte[] css;

    public ApprovalPages(ApprovalsConfig config, ApprovalStore store, ApprovalAudit audit, ApproverLogin login, Clock clock,
                         Ticker ticker) {
        this.config = config;
        this.store = store;
        this.audit = audit;
        this.login = login;
        this.clock = clock;
        URI url = URI.create(config.publicUrl());
        this.base = url.getRawPath() == null ? "" : url.getRawPath();
        this.origin = url.getScheme() + "://" + url.getRawAuthority();
        this.logins = Caffeine.newBuilder().ticker(ticker).maximumSize(10_000).expireAfterWrite(LOGIN_TIME).build();
        this.sessions = Caffeine.newBuilder().ticker(ticker).maximumSize(10_000)
                .expireAfterWrite(config.sessionLifetime()).build();
        try (InputStream in = ApprovalPages.class.getResourceAsStream("style.css")) {
            this.css = in.readAllBytes();
        } catch (IOException | NullPointerException e) {
            throw new IllegalStateException("the approval page's style sheet is missing", e);
        }
    }

    /** The base path every route is under (the path of {@code public-url}). */
    String base() {
        return base;
    }

    public CompletableFuture<PageResponse> handle(PageRequest request) {
        try {
            return route(request).exceptionally(error -> {
                log.warn("approval page: {} {} failed: {}", request.method(), safePath(request.path()), rootMessage(error));
                return page(502, "Something went wrong", "<p>The approval could not be loaded or saved. Please try again"
                        + " in a moment.</p>", null);
            });
        } catch (RuntimeException e) {
            log.warn("approval page: {} {} failed: {}", request.method(), safePath(request.path()), e.toString());
            return CompletableFuture.completedFuture(page(500, "Something went wrong", "<p>Please try again.</p>", null));
        }
    }

    private CompletableFuture<PageResponse> route(PageRequest request) {
        String path = request.path();
        if (!path.startsWith(base + "/approvals/")) {
            return done(notFound());
        }
        String rest = path.substring((base + "/approvals/").length());
        if (rest.equals("static/style.css") && request.method().equals("GET")) {
            return done(new PageResponse(200, Map.of("Content-Type", "text/css; charset=utf-8",
                    "Cache-Control", "public, max-age=3600", "X-Content-Type-Options", "nosniff"), List.of(), css));
        }
        if (rest.equals("callback") && request.method().equals("GET")) {
            return callback(request);
        }
        if (!ID.matcher(rest).matches()) {
            return done(notFound());
        }
        Session session = session(request);
        if (request.method().equals("GET")) {
            return session == null ? startLogin(rest) : show(rest, session, request.query().get("done"));
        }
        if (request.method().equals("POST")) {
            return decide(rest, session, request);
        }
        return done(new PageResponse(405, Map.of("Allow", "GET, POST", "Content-Type", "text/plain"), List.of(),
                "Method not allowed\n".getBytes(StandardCharsets.UTF_8)));
    }

    private Session session(PageRequest request) {
        String id = request.cookies().get(SESSION_COOKIE);
        if (id == null || id.length() > 100) {
            return null;
        }
        Session session = sessions.getIfPresent(sha256(id));
        if (session == null || session.expiresAtMillis() <= clock.millis()) {
            return null;
        }
        return session;
    }

    // --- sign-in ---------------------------------------------------------------------------------

    private CompletableFuture<PageResponse> startLogin(String id) {
        String state = token();
        String nonce = token();
        String verifier = token() + token();
        String browser = token();
        logins.put(state, new Login(verifier, nonce, base + "/approvals/" + id, sha256(browser)));
        return login.authorizationUrl(state, nonce, challenge(verifier)).thenApply(url -> new PageResponse(302,
                headers(Map.of("Location", url.toString())), List.of(cookie(LOGIN_COOKIE, browser, LOGIN_TIME)), new byte[0]));
    }

    private CompletableFuture<PageResponse> callback(PageRequest request) {
        String state = request.query().get("state");
        Login attempt = state == null ? null : logins.getIfPresent(state);
        String browser = request.cookies().get(LOGIN_COOKIE);
        if (attempt == null || browser == null || !MessageDigest.isEqual(
                attempt.browser().getBytes(StandardCharsets.US_ASCII), sha256(browser).getBytes(StandardCharsets.US_ASCII))) {
            // Unknown or used state, or another browser's: a login this browser did not start (login CSRF).
            return done(page(400, "Sign-in not recognised", "<p>This sign-in was not started here, or it took too long."
                    + " Open the approval link again.</p>", null));
        }
        logins.invalidate(state); // one use
        String code = request.query().get("code");
        if (code == null || code.isEmpty()) {
            String error = request.query().getOrDefault("error", "no code");
            return done(page(403, "Sign-in failed", "<p>The identity provider did not sign you in ("
                    + Html.escape(error.length() > 60 ? error.substring(0, 60) : error) + ").</p>", null));
        }
        return login.redeem(code, attempt.verifier(), attempt.nonce()).handle((approver, error) -> {
            if (error != null) {
                log.warn("approval page: sign-in refused: {}", rootMessage(error));
                return page(403, "Sign-in failed", "<p>Your sign-in could not be verified. Open the approval link again.</p>",
                        null);
            }
            String sessionId = token() + token();
            long until = Math.min(approver.expiresAtMillis(), clock.millis() + config.sessionLifetime().toMillis());
            sessions.put(sha256(sessionId), new Session(approver, token(), until));
            Duration left = Duration.ofMillis(Math.max(1000, until - clock.millis()));
            return new PageResponse(303, headers(Map.of("Location", attempt.returnTo())),
                    List.of(cookie(SESSION_COOKIE, sessionId, left), cookie(LOGIN_COOKIE, "", Duration.ZERO)), new byte[0]);
        });
    }

    // --- the page ----------------------------------------------------------------------------------

    private CompletableFuture<PageResponse> show(String id, Session session, String done) {
        return store.find(id).thenApply(found -> {
            if (found.isEmpty()) {
                return notFound();
            }
            return page(200, "Approve " + found.get().tool() + "?", body(found.get(), session, done), session);
        });
    }

    private CompletableFuture<PageResponse> decide(String id, Session session, PageRequest request) {
        if (session == null) {
            return done(redirect(base + "/approvals/" + id)); // signed out meanwhile: sign in, then decide again
        }
        String requestOrigin = request.origin();
        if (requestOrigin != null && !requestOrigin.equals(origin)) {
            return done(page(403, "Refused", "<p>This form can only be sent from the approval page.</p>", session));
        }
        String csrf = request.form().get("csrf");
        if (csrf == null || !MessageDigest.isEqual(csrf.getBytes(StandardCharsets.UTF_8),
                session.csrf().getBytes(StandardCharsets.UTF_8))) {
            return done(page(403, "Refused", "<p>This form has expired or was not sent from the approval page."
                    + " Reload the page and try again.</p>", session));
        }
        String action = request.form().get("action");
        if (!"approve".equals(action) && !"deny".equals(action)) {
            return done(page(400, "Refused", "<p>Choose approve or deny.</p>", session));
        }
        boolean approve = action.equals("approve");
        String comment = request.form().getOrDefault("comment", "");
        if (comment.length() > MAX_COMMENT) {
            comment = comment.substring(0, MAX_COMMENT);
        }
        String note = comment.strip();
        ApproverLogin.Approver approver = session.approver();
        long now = clock.millis();
        return store.update(id, current -> current.decide(approver.party(), values(approver.claims(), current.rolesClaim()),
                values(approver.claims(), dev.portcullis.policy.ApprovalRule.GROUPS_CLAIM), approve, note, now))
                .thenApply(change -> {
                    if (change.after() != null) {
                        record(change, approver.party(), note);
                    }
                    return redirect(base + "/approvals/" + id + "?done=" + change.outcome().name().toLowerCase(java.util.Locale.ROOT));
                });
    }

    private void record(ApprovalRequest.Change change, ApprovalRequest.Party approver, String comment) {
        ApprovalRequest after = change.after();
        switch (change.outcome()) {
            case APPROVED -> audit.record(ApprovalAudit.Action.APPROVED, after, approver, "approved", comment);
            case COUNTED -> audit.record(ApprovalAudit.Action.COUNTED, after, approver, "approval counted", comment);
            case DENIED -> audit.record(ApprovalAudit.Action.DENIED, after, approver, "denied", comment);
            case EXPIRED -> audit.record(ApprovalAudit.Action.EXPIRED, after, approver, "approver arrived after expiry", null);
            case SELF_APPROVAL -> audit.record(ApprovalAudit.Action.REFUSED, after, approver,
                    "self-approval: the requester may not approve its own call", null);
            case NOT_AN_APPROVER -> audit.record(ApprovalAudit.Action.REFUSED, after, approver,
                    "not an approver: none of the approver roles or groups", null);
            case ALREADY_DECIDED -> audit.record(ApprovalAudit.Action.REFUSED, after, approver, "already decided", null);
            case NOT_PENDING -> audit.record(ApprovalAudit.Action.REFUSED, after, approver, "no longer pending: "
                    + after.status().name().toLowerCase(java.util.Locale.ROOT), null);
            case NOT_FOUND -> { }
        }
    }

    /** The roles or groups at {@code path} (dotted) of the ID token's claims: a list of strings, or one space-separated string. */
    static Set<String> values(JsonNode claims, String path) {
        JsonNode node = claims;
        for (String part : path.split("\\.")) {
            node = node == null ? null : node.get(part);
        }
        Set<String> out = new LinkedHashSet<>();
        if (node == null) {
            return out;
        }
        if (node.isArray()) {
            node.forEach(v -> {
                if (v.isTextual()) out.add(v.textValue());
            });
        } else if (node.isTextual()) {
            for (String s : node.textValue().split(" ")) {
                if (!s.isEmpty()) out.add(s);
            }
        }
        return out;
    }

    private String body(ApprovalRequest r, Session session, String done) {
        long now = clock.millis();
        ApprovalRequest.Status status = r.status() == ApprovalRequest.Status.PENDING && r.expired(now)
                ? ApprovalRequest.Status.EXPIRED : r.status();
        StringBuilder b = new StringBuilder();
        notice(b, done);
        b.append("<h1>Approve a call to <code>").append(Html.escape(r.tool())).append("</code>?</h1>\n");
        b.append("<span class=\"status status-").append(status.name().toLowerCase(java.util.Locale.ROOT)).append("\">")
                .append(statusText(status, r, now)).append("</span>\n");
        b.append("<dl>\n");
        row(b, "Requested by", Html.escape(r.requester().shown()) + " <span class=\"muted\">(" + Html.escape(r.requester().subject())
                + " at " + Html.escape(r.requester().issuer()) + ")</span>");
        row(b, "Agent", r.requester().agent().isEmpty() ? "<span class=\"muted\">none named</span>"
                : "<code>" + Html.escape(r.requester().agent()) + "</code>");
        row(b, "Tool", "<code>" + Html.escape(r.tool()) + "</code> <span class=\"muted\">on route " + Html.escape(r.route())
                + "</span>");
        row(b, "Arguments", "<pre>" + Html.escape(pretty(r.arguments())) + "</pre>");
        row(b, "Rule", "<code>" + Html.escape(r.ruleId()) + "</code>");
        row(b, "Approvers", approvers(r));
        row(b, "Requested", Html.escape(TIME.format(Instant.ofEpochMilli(r.createdAt()))));
        row(b, "Expires", Html.escape(TIME.format(Instant.ofEpochMilli(r.expiresAt()))));
        row(b, "Argument digest", "<code>sha256:" + Html.escape(r.argumentsDigest().length() > 16
                ? r.argumentsDigest().substring(0, 16) + "…" : r.argumentsDigest()) + "</code>");
        b.append("</dl>\n");
        if (!r.decisions().isEmpty()) {
            b.append("<h2>Decisions</h2>\n<ul class=\"votes\">\n");
            for (ApprovalRequest.Vote vote : r.decisions()) {
                b.append("<li><strong>").append(vote.approve() ? "Approved" : "Denied").append("</strong> by ")
                        .append(Html.escape(vote.approver().shown())).append(" <span class=\"muted\">")
                        .append(Html.escape(TIME.format(Instant.ofEpochMilli(vote.at())))).append("</span>");
                if (!vote.comment().isEmpty()) {
                    b.append("<br>“").append(Html.escape(vote.comment())).append("”");
                }
                b.append("</li>\n");
            }
            b.append("</ul>\n");
        }
        if (status == ApprovalRequest.Status.PENDING) {
            ApproverLogin.Approver me = session.approver();
            boolean requester = me.party().issuer().equals(r.requester().issuer()) && me.party().subject().equals(r.requester().subject());
            boolean qualified = r.roles().stream().anyMatch(values(me.claims(), r.rolesClaim())::contains)
                    || r.groups().stream().anyMatch(values(me.claims(), dev.portcullis.policy.ApprovalRule.GROUPS_CLAIM)::contains);
            if (requester && !r.selfApproval()) {
                b.append("<p class=\"notice notice-bad\">You asked for this call, so someone else must approve it.</p>\n");
            } else if (!qualified) {
                b.append("<p class=\"notice notice-bad\">You are signed in, but you are not one of the approvers of this call.</p>\n");
            }
            b.append("<form method=\"post\" action=\"").append(Html.escape(base + "/approvals/" + r.id())).append("\">\n")
                    .append("<input type=\"hidden\" name=\"csrf\" value=\"").append(Html.escape(session.csrf())).append("\">\n")
                    .append("<label for=\"comment\">Comment <span class=\"muted\">(optional, kept in the audit trail)</span></label>\n")
                    .append("<textarea id=\"comment\" name=\"comment\" maxlength=\"").append(MAX_COMMENT).append("\"></textarea>\n")
                    .append("<div class=\"actions\"><button type=\"submit\" name=\"action\" value=\"approve\" class=\"approve\">"
                            + "Approve this call</button>")
                    .append("<button type=\"submit\" name=\"action\" value=\"deny\" class=\"deny\">Deny</button></div>\n")
                    .append("</form>\n");
        }
        return b.toString();
    }

    private static void notice(StringBuilder b, String done) {
        if (done == null) {
            return;
        }
        String[] text = switch (done) {
            case "approved" -> new String[] {"ok", "Approved. The agent's next attempt of this exact call goes through."};
            case "counted" -> new String[] {"ok", "Your approval is counted; more approvers are needed."};
            case "denied" -> new String[] {"ok", "Denied. The agent is told so on its next attempt."};
            case "self_approval" -> new String[] {"bad", "Refused: you cannot approve a call you asked for."};
            case "not_an_approver" -> new String[] {"bad", "Refused: you are not one of the approvers of this call."};
            case "already_decided" -> new String[] {"bad", "You have already decided on this call."};
            case "expired" -> new String[] {"bad", "Refused: this request has expired."};
            case "not_pending" -> new String[] {"bad", "This request is already decided."};
            default -> null;
        };
        if (text != null) {
            b.append("<p class=\"notice notice-").append(text[0]).append("\">").append(text[1]).append("</p>\n");
        }
    }

    private static String statusText(ApprovalRequest.Status status, ApprovalRequest r, long now) {
        return switch (status) {
            case PENDING -> "Waiting for approval · " + r.approvals() + " of " + r.count() + " · expires in "
                    + Math.max(1, (r.expiresAt() - now + 59_999) / 60_000) + " min";
            case APPROVED -> "Approved · waiting for the agent to retry";
            case USED -> "Approved and used";
            case DENIED -> "Denied";
            case EXPIRED -> "Expired";
        };
    }

    private static String approvers(ApprovalRequest r) {
        List<String> parts = new ArrayList<>();
        if (!r.roles().isEmpty()) parts.add("role " + String.join(", ", r.roles().stream().map(Html::escape).toList()));
        if (!r.groups().isEmpty()) parts.add("group " + String.join(", ", r.groups().stream().map(Html::escape).toList()));
        return r.count() + " of " + String.join(" or ", parts) + (r.selfApproval() ? "" : " <span class=\"muted\">(not the requester)</span>")
                + (r.singleUse() ? " <span class=\"muted\">· one call</span>" : " <span class=\"muted\">· reusable until expiry</span>");
    }

    private static void row(StringBuilder b, String name, String html) {
        b.append("<dt>").append(name).append("</dt><dd>").append(html).append("</dd>\n");
    }

    private static String pretty(JsonNode arguments) {
        if (arguments == null || arguments.isNull()) {
            return "(none)";
        }
        try {
            return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(arguments);
        } catch (IOException e) {
            return arguments.toString();
        }
    }

    private PageResponse page(int status, String title, String body, Session session) {
        String who = session == null ? "" : "<span class=\"who\">Signed in as " + Html.escape(session.approver().party().shown())
                + "</span>";
        String html = "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                + "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                + "<meta name=\"referrer\" content=\"same-origin\">"
                + "<title>" + Html.escape(title) + " · Portcullis</title>"
                + "<link rel=\"stylesheet\" href=\"" + Html.escape(base) + "/approvals/static/style.css\"></head>\n<body>\n"
                + "<div class=\"bar\"><span class=\"brand\">Portcullis<small>approvals</small></span>" + who + "</div>\n"
                + "<main><div class=\"card\">\n" + (body.startsWith("<p") && status >= 400 ? "<h1>" + Html.escape(title) + "</h1>\n" : "")
                + body + "</div>\n<footer>Every decision is recorded in the gateway's audit trail.</footer></main>\n</body></html>\n";
        return new PageResponse(status, headers(Map.of("Content-Type", "text/html; charset=utf-8")), List.of(),
                html.getBytes(StandardCharsets.UTF_8));
    }

    private PageResponse notFound() {
        return page(404, "Not found", "<p>There is no approval request here. It may have expired; ask the agent to"
                + " try the call again for a new link.</p>", null);
    }

    private PageResponse redirect(String location) {
        return new PageResponse(303, headers(Map.of("Location", location)), List.of(), new byte[0]);
    }

    /** The headers every answer carries, and {@code extra}. */
    private static Map<String, String> headers(Map<String, String> extra) {
        Map<String, String> h = new LinkedHashMap<>(extra);
        h.put("Content-Security-Policy", CSP);
        h.put("Cache-Control", "no-store");
        h.put("X-Content-Type-Options", "nosniff");
        h.put("X-Frame-Options", "DENY");
        h.put("Referrer-Policy", "same-origin"); // not no-referrer: Chromium then sends "Origin: null" on the form POST
        return h;
    }

    private String cookie(String name, String value, Duration maxAge) {
        return name + "=" + value + "; Path=" + base + "/approvals; Max-Age=" + maxAge.toSeconds()
                + "; HttpOnly; SameSite=Lax" + (config.secureCookies() ? "; Secure" : "");
    }

    private String token() {
        byte[] bytes = new byte[32];
        random.nextBytes(bytes);
        return Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
    }

    /** RFC 7636 S256. */
    static String challenge(String verifier) {
        return Base64.getUrlEncoder().withoutPadding().encodeToString(digest(verifier.getBytes(StandardCharsets.US_ASCII)));
    }

    private static String sha256(String value) {
        return Base64.getUrlEncoder().withoutPadding().encodeToString(digest(value.getBytes(StandardCharsets.UTF_8)));
    }

    private static byte[] digest(byte[] bytes) {
        return dev.portcullis.Sha256.of(bytes);
    }

    private static <T> CompletableFuture<T> done(T value) {
        return CompletableFuture.completedFuture(value);
    }

    /** The path for logs: never a query (the callback's holds the code). */
    private static String safePath(String path) {
        return path.length() > 120 ? path.substring(0, 120) : path;
    }

    private static String rootMessage(Throwable error) {
        Throwable t = error;
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        return t.getClass().getSimpleName() + (t.getMessage() == null ? "" : ": " + t.getMessage());
    }

    /** For tests: whether this session id is signed in. */
    Optional<Session> sessionFor(String sessionId) {
        return Optional.ofNullable(sessions.getIfPresent(sha256(sessionId)));
    }
}
