package dev.portcullis.app;

import static dev.portcullis.app.GatewayHarness.RESOURCE;
import static dev.portcullis.app.GatewayHarness.toolCall;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.portcullis.testing.TestIdp;
import java.net.http.HttpResponse;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.extension.RegisterExtension;
import reactor.core.publisher.Mono;
import reactor.netty.DisposableServer;
import reactor.netty.http.server.HttpServerResponse;

/**
 * CHALLENGE-07: when the upstream answers 401 to an exchanged token, the gateway drops that token,
 * exchanges again and retries once; a second refusal becomes 502, and no upstream challenge is
 * relayed. The upstream is a small scripted server that refuses tokens on command.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class UpstreamRenewalTest {
    private static final String RESULT = "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"ok\"}]}}";

    private final ObjectMapper json = new ObjectMapper();
    private static final List<String> seen = new CopyOnWriteArrayList<>();
    @RegisterExtension
    static final GatewayExtension peers = GatewayExtension.builder().idp(TestIdp::startWithTokenExchange).noGateway()
            .stubServer(server -> server
                .route(r -> r
                        // Refuses the first token it ever sees, accepts any other.
                        .post("/reject-first", (req, res) -> req.receive().then(isProbe(req) ? res.status(400).send().then() : Mono.defer(() -> {
                            String token = req.requestHeaders().get("Authorization");
                            boolean first = seen.isEmpty() || seen.get(0).equals(token);
                            seen.add(token);
                            return first ? challenge(res, 401) : ok(res);
                        })))
                        .post("/reject-all", (req, res) -> req.receive().then(isProbe(req) ? res.status(400).send().then() : Mono.defer(() -> {
                            seen.add(req.requestHeaders().get("Authorization"));
                            return challenge(res, 401);
                        })))
                        .post("/forbidden", (req, res) -> req.receive().then(isProbe(req) ? res.status(400).send().then() : Mono.defer(() -> {
                            seen.add(req.requestHeaders().get("Authorization"));
                            return challenge(res, 403);
                        })))))
            .build();
    private final TestIdp idp = peers.idp();
    private final DisposableServer upstream = peers.stub();

    /** The gateway's era probe at start is not a client request: answered, not counted. */
    private static boolean isProbe(reactor.netty.http.server.HttpServerRequest req) {
        return "server/discover".equals(req.requestHeaders().get("Mcp-Method"));
    }

    private static Mono<Void> challenge(HttpServerResponse res, int status) {
        return res.status(status).header("WWW-Authenticate", "Bearer error=\"invalid_token\", "
                + "resource_metadata=\"https://upstream.internal/.well-known/oauth-protected-resource\"").send().then();
    }

    private static Mono<Void> ok(HttpServerResponse res) {
        return res.header("Content-Type", "application/json").sendString(Mono.just(RESULT)).then();
    }

    @BeforeEach
    void reset() {
        seen.clear();
    }

    private GatewayHarness gateway(String path) {
        return GatewayHarness.start(idp.issuer(), "http://127.0.0.1:" + upstream.port() + path, """
                upstream-auth:
                  type: token-exchange
                  token-endpoint: %s
                  client-id: portcullis
                  client-secret: gateway-secret
                  audience: todo-server""".formatted(idp.tokenEndpoint()), null);
    }

    private long exchangesOf(String caller) {
        return idp.tokenRequests().stream().filter(r -> caller.equals(r.get("subject_token"))).count();
    }

    @Test
    void challenge07AnUpstream401GetsOneReExchangeAndTheRenewedTokenIsKept() throws Exception {
        String caller = idp.accessToken(RESOURCE, "mcp:tools");
        try (GatewayHarness gw = gateway("/reject-first")) {
            HttpResponse<String> response = gw.send(gw.post(toolCall(1, "echo")).header("Authorization", "Bearer " + caller).build());
            assertThat(response.statusCode()).isEqualTo(200);
            assertThat(response.body()).isEqualTo(RESULT);
            assertThat(seen).hasSize(2).doesNotHaveDuplicates().noneMatch(v -> v.contains(caller));
            assertThat(exchangesOf(caller)).isEqualTo(2);

            // The refused token left the cache; the renewed one is reused.
            HttpResponse<String> again = gw.send(gw.post(toolCall(2, "echo")).header("Authorization", "Bearer " + caller).build());
            assertThat(again.statusCode()).isEqualTo(200);
            assertThat(seen).hasSize(3);
            assertThat(seen.get(2)).isEqualTo(seen.get(1));
            assertThat(exchangesOf(caller)).isEqualTo(2);
        }
    }

    @Test
    void challenge07AnUpstreamThatRefusesTheRenewedTokenToo502sAfterExactlyOneRetry() throws Exception {
        String caller = idp.accessToken(RESOURCE, "mcp:tools");
        try (GatewayHarness gw = gateway("/reject-all")) {
            HttpResponse<String> response = gw.send(gw.post(toolCall("r-9", "echo")).header("Authorization", "Bearer " + caller).build());
            assertThat(response.statusCode()).isEqualTo(502);
            assertThat(json.readTree(response.body()).get("id").asText()).isEqualTo("r-9");
            assertThat(response.headers().allValues("WWW-Authenticate")).isEmpty();
            assertThat(response.body()).doesNotContain("upstream.internal");
        }
        assertThat(seen).hasSize(2).doesNotHaveDuplicates();
        assertThat(exchangesOf(caller)).isEqualTo(2);
    }

    @Test
    void anUpstream403IsNotRetried() throws Exception {
        String caller = idp.accessToken(RESOURCE, "mcp:tools");
        try (GatewayHarness gw = gateway("/forbidden")) {
            HttpResponse<String> response = gw.send(gw.post(toolCall(4, "echo")).header("Authorization", "Bearer " + caller).build());
            assertThat(response.statusCode()).isEqualTo(502);
            assertThat(json.readTree(response.body()).get("id").asInt()).isEqualTo(4);
        }
        assertThat(seen).hasSize(1);
        assertThat(exchangesOf(caller)).isEqualTo(1);
    }

    @Test
    void routeModeNoneIsNeverRetried() throws Exception {
        try (GatewayHarness gw = GatewayHarness.start(idp.issuer(), "http://127.0.0.1:" + upstream.port() + "/reject-all",
                null, null)) {
            HttpResponse<String> response = gw.send(gw.post(toolCall(5, "echo"))
                    .header("Authorization", "Bearer " + idp.accessToken(RESOURCE, "mcp:tools")).build());
            assertThat(response.statusCode()).isEqualTo(502);
        }
        assertThat(seen).hasSize(1).containsOnlyNulls();
    }
}
