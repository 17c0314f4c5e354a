package dev.portcullis.exchange;

import static dev.portcullis.StageFixtures.authenticated;
import static dev.portcullis.StageFixtures.bytes;
import static dev.portcullis.StageFixtures.post;
import static dev.portcullis.StageFixtures.principal;
import static dev.portcullis.StageFixtures.toolCall;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.portcullis.StageFixtures;
import dev.portcullis.Step;
import dev.portcullis.authz.AuthorizedRequest;
import dev.portcullis.failure.GatewayFailure;
import dev.portcullis.failure.Reason;
import dev.portcullis.inspect.InspectedRequest;
import dev.portcullis.inspect.JsonRpcInspector;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import reactor.core.publisher.Mono;

/** Stage 6 alone: an authorized request in, the request with its upstream credential out. No sockets. */
class ExchangeTest {
    private AuthorizedRequest authorized;

    @BeforeEach
    void setUp(@TempDir Path dir) throws Exception {
        byte[] body = bytes(toolCall(42, "read_file"));
        InspectedRequest inspected = new InspectedRequest(authenticated(StageFixtures.route(StageFixtures.policy(dir)),
                post("/mcp"), principal("files:read")), body, new JsonRpcInspector().inspect(body), false);
        authorized = new AuthorizedRequest(inspected, List.of());
    }

    @Test
    void exchange10RouteModeNoneSendsNoCredentialAndAnswersAtOnce() {
        Step<UpstreamRequest> step = new Exchange(Map.of("r", UpstreamCredentials.none())).apply(authorized);
        assertThat(step.ready()).isTrue();
        assertThat(step.value().upstreamBearer()).isEmpty();
        assertThat(step.value().renewable()).isFalse();
    }

    @Test
    void aCachedTokenIsAnsweredWithoutAFutureAndATokenRequestIsWaitedFor() throws Exception {
        UpstreamCredentials cached = new UpstreamCredentials() {
            @Override
            public Mono<Optional<String>> bearerFor(AuthorizedRequest request) {
                throw new AssertionError("the fast path must not ask for a Mono");
            }

            @Override
            public Step<Optional<String>> bearerNow(AuthorizedRequest request) {
                return Step.now(Optional.of("upstream-token"));
            }
        };
        Step<UpstreamRequest> now = new Exchange(Map.of("r", cached)).apply(authorized);
        assertThat(now.ready()).isTrue();
        assertThat(now.value().upstreamBearer()).contains("upstream-token");

        CompletableFuture<Optional<String>> answer = new CompletableFuture<>();
        UpstreamCredentials remote = request -> Mono.fromFuture(answer);
        Step<UpstreamRequest> later = new Exchange(Map.of("r", remote)).apply(authorized);
        assertThat(later.ready()).isFalse();
        answer.complete(Optional.of("fresh"));
        assertThat(later.future().get().upstreamBearer()).contains("fresh");
    }

    @Test
    void exchange05AFailedExchangeCarriesTheRequestsJsonRpcIdAndNeverTheCallersToken() {
        AtomicInteger asked = new AtomicInteger();
        UpstreamCredentials refusing = new UpstreamCredentials() {
            @Override
            public Mono<Optional<String>> bearerFor(AuthorizedRequest request) {
                asked.incrementAndGet();
                return Mono.error(GatewayFailure.of(Reason.EXCHANGE_UNAVAILABLE, "Token exchange unavailable"));
            }
        };
        Step<UpstreamRequest> step = new Exchange(Map.of("r", refusing)).apply(authorized);
        assertThatThrownBy(() -> step.future().get()).isInstanceOf(ExecutionException.class)
                .cause().isInstanceOfSatisfying(GatewayFailure.class, f -> {
                    assertThat(f.reason()).isEqualTo(Reason.EXCHANGE_UNAVAILABLE);
                    assertThat(f.jsonRpcId().asInt()).isEqualTo(42);
                });
        assertThat(asked).hasValue(1);

        UpstreamCredentials negativelyCached = new UpstreamCredentials() {
            @Override
            public Mono<Optional<String>> bearerFor(AuthorizedRequest request) {
                return Mono.error(new AssertionError());
            }

            @Override
            public Step<Optional<String>> bearerNow(AuthorizedRequest request) {
                throw GatewayFailure.of(Reason.EXCHANGE_DENIED, "Denied");
            }
        };
        assertThatThrownBy(() -> new Exchange(Map.of("r", negativelyCached)).apply(authorized))
                .isInstanceOfSatisfying(GatewayFailure.class, f -> assertThat(f.jsonRpcId().asInt()).isEqualTo(42));
    }

    @Test
    void aRouteWithoutCredentialsIsAWiringError() {
        assertThatThrownBy(() -> new Exchange(Map.of()).apply(authorized)).isInstanceOf(IllegalStateException.class);
    }
}
