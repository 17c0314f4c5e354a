package dev.portcullis.inspect;

import dev.portcullis.authn.AuthenticatedRequest;
import dev.portcullis.failure.GatewayFailure;
import dev.portcullis.failure.Reason;
import dev.portcullis.http.BoundedBody;
import io.netty.handler.codec.http.HttpMethod;
import java.util.List;
import java.util.Locale;
import reactor.core.publisher.Mono;
import reactor.netty.http.server.HttpServerRequest;

/**
 * Stage 4: read the POST body (at most {@code max-body-size}: 413 beyond it) and classify its
 * JSON-RPC messages. GET and DELETE carry no body. The bytes are kept to be forwarded unchanged.
 */
public final class Inspect {
    private final long maxBodyBytes;
    private final JsonRpcInspector inspector = new JsonRpcInspector();

    public Inspect(long maxBodyBytes) {
        this.maxBodyBytes = maxBodyBytes;
    }

    public Mono<InspectedRequest> apply(AuthenticatedRequest authenticated) {
        HttpServerRequest request = authenticated.routed().request();
        if (!HttpMethod.POST.equals(request.method())) {
            return Mono.just(new InspectedRequest(authenticated, new byte[0], List.of(), false));
        }
        String contentType = request.requestHeaders().get("Content-Type", "");
        if (!contentType.toLowerCase(Locale.ROOT).startsWith("application/json")) {
            return Mono.error(GatewayFailure.of(Reason.UNSUPPORTED_MEDIA_TYPE, "Content-Type must be application/json"));
        }
        long declared = request.requestHeaders().getInt("Content-Length", -1);
        if (declared > maxBodyBytes) {
            return Mono.error(GatewayFailure.of(Reason.BODY_TOO_LARGE, "Request body too large"));
        }
        return BoundedBody.collect(request.receive(), maxBodyBytes)
                .onErrorMap(BoundedBody.TooLarge.class,
                        e -> GatewayFailure.of(Reason.BODY_TOO_LARGE, "Request body too large"))
                .map(body -> {
                    List<McpMessage> messages = inspector.inspect(body);
                    boolean batch = body.length > 0 && firstNonWhitespace(body) == '[';
                    return new InspectedRequest(authenticated, body, messages, batch);
                });
    }

    private static int firstNonWhitespace(byte[] body) {
        for (byte b : body) {
            if (b != ' ' && b != '\t' && b != '\r' && b != '\n') {
                return b;
            }
        }
        return -1;
    }
}
