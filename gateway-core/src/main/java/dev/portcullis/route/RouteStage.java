package dev.portcullis.route;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.portcullis.failure.GatewayFailure;
import dev.portcullis.failure.Reason;
import dev.portcullis.listen.RequestHead;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.EmptyHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import java.util.Locale;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Stage 2: the edge checks that need no token, in this order: well-known documents (answered here,
 * never proxied: PRM-07), route selection (a path with dot segments matches no route), {@code Host} and
 * {@code Origin} (before any token is looked at: a rebound DNS name or a foreign page learns nothing),
 * the CORS preflight, the method. Pure: a {@link RequestHead} in, an {@link Outcome} out.
 */
public final class RouteStage {
    private final RouteTable routes;
    private final RequestOrigin origin;
    private final ObjectMapper json;

    public RouteStage(RouteTable routes, RequestOrigin origin, ObjectMapper json) {
        this.routes = routes;
        this.origin = origin;
        this.json = json;
    }

    /** What the route stage decided. */
    public sealed interface Outcome permits Answer, Refused, Routed {}

    /** The gateway answers by itself (well-known document, preflight): nothing more to do. */
    public record Answer(int status, HttpHeaders headers, byte[] body) implements Outcome {}

    /** Refused before authentication; {@code route} is null when none matched. */
    public record Refused(Route route, GatewayFailure failure, HttpHeaders cors) implements Outcome {}

    /** Routed: the request goes on to authenticate; {@code cors} go on every answer to it. */
    public record Routed(RoutedRequest request, HttpHeaders cors) implements Outcome {}

    public Outcome apply(RequestHead head) {
        String path = head.path();
        if (path.startsWith("/.well-known/")) {
            return wellKnown(head, path);
        }
        Optional<Route> route = hasDotSegments(path) ? Optional.empty() : routes.select(path);
        if (route.isEmpty()) {
            return new Refused(null, GatewayFailure.of(Reason.NO_ROUTE, "Not found"), EmptyHttpHeaders.INSTANCE);
        }
        HttpHeaders cors = head.headers().contains("Origin") ? new DefaultHttpHeaders() : EmptyHttpHeaders.INSTANCE;
        try {
            origin.check(head.headers(), cors);
        } catch (GatewayFailure failure) {
            return new Refused(route.get(), failure, cors);
        }
        HttpMethod method = head.method();
        if (HttpMethod.OPTIONS.equals(method)) {
            HttpHeaders headers = new DefaultHttpHeaders().add(cors);
            RequestOrigin.preflight(headers);
            headers.set("Allow", "GET, POST, DELETE, OPTIONS");
            return new Answer(204, headers, null);
        }
        if (!(HttpMethod.POST.equals(method) || HttpMethod.GET.equals(method) || HttpMethod.DELETE.equals(method))) {
            return new Refused(route.get(), GatewayFailure.of(Reason.METHOD_NOT_ALLOWED, "Method not allowed"), cors);
        }
        return new Routed(new RoutedRequest(head, route.get(), requestId()), cors);
    }

    /** RFC 9728 metadata: no authentication, GET/HEAD only, CORS open (PRM-07). */
    private Outcome wellKnown(RequestHead head, String path) {
        Optional<Route> route = routes.byMetadataPath(path);
        if (route.isEmpty()) {
            return new Answer(404, new DefaultHttpHeaders().set("Cache-Control", "no-store"), null);
        }
        if (!(HttpMethod.GET.equals(head.method()) || HttpMethod.HEAD.equals(head.method()))) {
            return new Answer(405, new DefaultHttpHeaders().set("Allow", "GET, HEAD"), null);
        }
        HttpHeaders headers = new DefaultHttpHeaders()
                .set("Content-Type", "application/json")
                .set("Access-Control-Allow-Origin", "*")
                .set("Cache-Control", "public, max-age=300");
        return new Answer(200, headers, ProtectedResourceMetadata.document(route.get(), json));
    }

    /**
     * A request id for logs and audit: unique enough to correlate, not a secret. Not
     * {@code UUID.randomUUID()}: its shared SecureRandom takes a lock, which the event loop must not.
     */
    public static String requestId() {
        ThreadLocalRandom random = ThreadLocalRandom.current();
        return new UUID(random.nextLong(), random.nextLong()).toString();
    }

    /** "." and ".." segments (also percent-encoded) never match a route, so the upstream cannot resolve them elsewhere. */
    public static boolean hasDotSegments(String path) {
        String lower = path.toLowerCase(Locale.ROOT);
        if (lower.contains("%2e") || lower.contains("%2f") || lower.contains("%5c") || lower.contains("\\")) {
            return true;
        }
        for (String segment : path.split("/", -1)) {
            if (segment.equals(".") || segment.equals("..")) {
                return true;
            }
        }
        return false;
    }
}
