package dev.portcullis.app.approvals;

import dev.portcullis.config.ApprovalsConfig;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.handler.codec.http.cookie.Cookie;
import io.netty.handler.codec.http.cookie.ServerCookieDecoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import reactor.core.publisher.Mono;
import reactor.netty.DisposableServer;
import reactor.netty.http.server.HttpServer;

/**
 * Issue 17: serves {@link ApprovalPages} on {@code approvals.listen} (Reactor Netty, like the admin listener; a
 * low-traffic page). Request bodies are bounded ({@value #MAX_BODY} bytes: a comment and two fields), only
 * {@code application/x-www-form-urlencoded} is read, and duplicate form fields or cookies refuse the request.
 */
public final class ApprovalServer implements AutoCloseable {
    static final int MAX_BODY = 16 * 1024;
    private final DisposableServer server;

    private ApprovalServer(DisposableServer server) {
        this.server = server;
    }

    public static ApprovalServer bind(ApprovalsConfig config, ApprovalPages pages) {
        DisposableServer server = HttpServer.create()
                .host(config.listen().host())
                .port(config.listen().port())
                .handle((req, res) -> {
                    String method = req.method().name();
                    QueryStringDecoder uri = new QueryStringDecoder(req.uri(), StandardCharsets.UTF_8);
                    Map<String, String> query = single(uri.parameters());
                    Map<String, String> cookies = new LinkedHashMap<>();
                    boolean duplicate = query == null;
                    for (String header : req.requestHeaders().getAll("Cookie")) {
                        for (Cookie c : ServerCookieDecoder.STRICT.decode(header)) {
                            if (cookies.put(c.name(), c.value()) != null
                                    && (c.name().equals(ApprovalPages.SESSION_COOKIE) || c.name().equals(ApprovalPages.LOGIN_COOKIE))) {
                                duplicate = true;
                            }
                        }
                    }
                    String origin = req.requestHeaders().get("Origin");
                    Mono<Map<String, String>> form;
                    if (method.equals("POST")) {
                        String type = req.requestHeaders().get("Content-Type", "");
                        long length = req.requestHeaders().getInt("Content-Length", -1);
                        if (!type.toLowerCase(java.util.Locale.ROOT).startsWith("application/x-www-form-urlencoded")
                                || length > MAX_BODY) {
                            return res.status(length > MAX_BODY ? 413 : 415).header("Content-Type", "text/plain")
                                    .sendString(Mono.just("Refused\n"));
                        }
                        form = req.receive().aggregate().asString(StandardCharsets.UTF_8).defaultIfEmpty("")
                                .map(text -> {
                                    if (text.length() > MAX_BODY) {
                                        return Map.<String, String>of();
                                    }
                                    Map<String, String> fields = single(new QueryStringDecoder("?" + text, StandardCharsets.UTF_8)
                                            .parameters());
                                    return fields == null ? Map.<String, String>of() : fields;
                                });
                    } else {
                        form = Mono.just(Map.of());
                    }
                    if (duplicate) {
                        return res.status(400).header("Content-Type", "text/plain").sendString(Mono.just("Bad request\n"));
                    }
                    return form.flatMap(fields -> Mono.fromFuture(pages.handle(new ApprovalPages.PageRequest(method,
                                    uri.rawPath(), query, cookies, origin, fields))))
                            .flatMap(page -> {
                                res.status(page.status());
                                page.headers().forEach(res::header);
                                page.cookies().forEach(c -> res.addHeader("Set-Cookie", c));
                                return res.sendByteArray(Mono.just(page.body())).then();
                            });
                })
                .bindNow(Duration.ofSeconds(15));
        return new ApprovalServer(server);
    }

    /** One value per name, or null when a name repeats (ambiguous input is refused, not guessed). */
    private static Map<String, String> single(Map<String, List<String>> parameters) {
        Map<String, String> out = new LinkedHashMap<>();
        for (var entry : parameters.entrySet()) {
            if (entry.getValue().size() != 1) {
                return null;
            }
            out.put(entry.getKey(), entry.getValue().get(0));
        }
        return out;
    }

    public int port() {
        return server.port();
    }

    @Override
    public void close() {
        server.disposeNow(Duration.ofSeconds(5));
    }
}
