package dev.portcullis.limit;

import static dev.portcullis.StageFixtures.authenticated;
import static dev.portcullis.StageFixtures.bytes;
import static dev.portcullis.StageFixtures.post;
import static dev.portcullis.StageFixtures.toolCall;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import dev.portcullis.StageFixtures;
import dev.portcullis.authn.BearerToken;
import dev.portcullis.authn.Principal;
import dev.portcullis.authz.Authorize;
import dev.portcullis.authz.AuthorizedRequest;
import dev.portcullis.failure.GatewayFailure;
import dev.portcullis.failure.Reason;
import dev.portcullis.inspect.InspectedRequest;
import dev.portcullis.inspect.JsonRpcInspector;
import dev.portcullis.inspect.McpMessage;
import dev.portcullis.policy.Limit;
import dev.portcullis.policy.Policy;
import dev.portcullis.policy.PolicyLoader;
import dev.portcullis.route.Route;
import dev.portcullis.store.ClusterStore;
import dev.portcullis.store.MemoryStore;
import dev.portcullis.store.StoreUnavailableException;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

/** Issue 18: the limits after policy, in process and with a shared store that fails. No sockets. */
class LimiterTest {
    private static final String POLICY = """
            default: deny
            limits:
              default: 1000/day per subject
              fail: %s
            tools:
              write_file:
                scopes: [files:write]
                limits: 2/min per subject
              deploy:
                limits: [2 concurrent per route]
              read_file: {}
              build:
                limits: [2/min per subject, 1 concurrent per route]
            """;
    private final Authorize authorize = new Authorize();
    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();

    private static Policy policy(String fail) {
        return PolicyLoader.parse(POLICY.formatted(fail), "limits.yaml").policy();
    }

    private static Principal principal(String subject, String... scopes) {
        return new Principal("https://idp.example.com", subject, "agent-1", Set.of(scopes), Set.of(), Map.of(), "jti-1",
                Instant.now().plusSeconds(300), new BearerToken("caller-token"));
    }

    private AuthorizedRequest authorized(Route route, String body, boolean batch, Principal principal) {
        byte[] bytes = bytes(body);
        return authorize.apply(new InspectedRequest(authenticated(route, post("/mcp"), principal), bytes,
                new JsonRpcInspector().inspect(bytes), batch));
    }

    private static GatewayFailure refusal(AuthorizedRequest authorized, LimitOutcome outcome) {
        Throwable thrown = catchThrowable(() -> Authorize.limited(authorized, outcome.refused()));
        assertThat(thrown).isInstanceOf(GatewayFailure.class);
        return (GatewayFailure) thrown;
    }

    @Test
    void aRouteWithoutLimitsCostsNothing() {
        Limiter limiter = Limiter.local(registry);
        Route route = StageFixtures.route(Policy.authenticatedOnly());
        assertThat(limiter.apply(authorized(route, toolCall(1, "anything"), false, principal("alice")))).isNull();
    }

    @Test
    void theThirdCallInAMinuteIsRefusedWithItsRetryHintAndOthersAreNotAffected() {
        Limiter limiter = Limiter.local(registry);
        Route route = StageFixtures.route(policy("local"));
        for (int i = 0; i < 2; i++) {
            LimitOutcome outcome = limiter.apply(authorized(route, toolCall(i, "write_file"), false, principal("alice", "files:write")));
            assertThat(outcome.ready()).isTrue();
            assertThat(outcome.refused()).isEmpty();
        }
        AuthorizedRequest third = authorized(route, toolCall(7, "write_file"), false, principal("alice", "files:write"));
        LimitOutcome outcome = limiter.apply(third);
        GatewayFailure refused = refusal(third, outcome);
        assertThat(refused.reason()).isEqualTo(Reason.RATE_LIMITED);
        assertThat(refused.jsonRpcId().asInt()).isEqualTo(7);
        assertThat(refused.data()).containsEntry("limit", "tools.write_file#0");
        assertThat((Long) refused.data().get("retryAfter")).isBetween(29L, 30L);
        assertThat(refused.decision().ruleId()).isEqualTo("tools.write_file#0");
        // Per subject: bob has his own bucket.
        assertThat(limiter.apply(authorized(route, toolCall(8, "write_file"), false, principal("bob", "files:write")))
                .refused()).isEmpty();
        assertThat(registry.get("portcullis.rate.limited").tag("rule", "tools.write_file#0").counter().count()).isEqualTo(1);
    }

    @Test
    void aCallPolicyDeniesConsumesNothing() {
        Limiter limiter = Limiter.local(registry);
        Route route = StageFixtures.route(policy("local"));
        // Without files:write the call is a step-up: it never reaches the limiter.
        Throwable denied = catchThrowable(() -> authorized(route, toolCall(1, "write_file"), false, principal("alice")));
        assertThat(denied).isInstanceOf(GatewayFailure.class);
        // In a batch, the denied element is not counted either: two allowed writes still pass afterwards.
        String batch = "[" + toolCall(1, "write_file") + "," + toolCall(2, "secret_tool") + "]";
        LimitOutcome outcome = limiter.apply(authorized(route, batch, true, principal("alice", "files:write")));
        assertThat(outcome.refused()).isEmpty();
        assertThat(limiter.apply(authorized(route, toolCall(3, "write_file"), false, principal("alice", "files:write")))
                .refused()).isEmpty();
    }

    @Test
    void eachBatchElementIsDecidedAndARefusedOneGetsItsOwnError() {
        Limiter limiter = Limiter.local(registry);
        Route route = StageFixtures.route(policy("local"));
        String batch = "[" + toolCall(1, "write_file") + "," + toolCall(2, "write_file") + "," + toolCall(3, "write_file") + "]";
        AuthorizedRequest authorized = authorized(route, batch, true, principal("alice", "files:write"));
        LimitOutcome outcome = limiter.apply(authorized);
        assertThat(outcome.refused()).containsOnlyKeys(2);
        AuthorizedRequest partial = Authorize.limited(authorized, outcome.refused());
        assertThat(partial.partialBatch().answered()).singleElement()
                .satisfies(f -> assertThat(f.jsonRpcId().asInt()).isEqualTo(3))
                .satisfies(f -> assertThat(f.reason()).isEqualTo(Reason.RATE_LIMITED));
        assertThat(new String(partial.upstreamBody())).contains("\"id\":1").contains("\"id\":2").doesNotContain("\"id\":3");
        assertThat(partial.decisions().get(2).ruleId()).as("the audit names the limit").isEqualTo("tools.write_file#0");
        // On a reject-whole route the batch is refused whole, the limited element with its own error.
        Limiter fresh = Limiter.local(registry);
        Route whole = StageFixtures.route(policy("local"), null, "reject-whole");
        AuthorizedRequest all = authorized(whole, batch, true, principal("alice", "files:write"));
        GatewayFailure refused = refusal(all, fresh.apply(all));
        assertThat(refused.reason()).isEqualTo(Reason.BATCH_DENIED);
        assertThat(refused.elements()).extracting(GatewayFailure::reason)
                .containsExactly(Reason.INVALID_JSONRPC, Reason.INVALID_JSONRPC, Reason.RATE_LIMITED);
    }

    @Test
    void concurrencyPermitsAreHeldUntilReleasedExactlyOnce() {
        Limiter limiter = Limiter.local(registry);
        Route route = StageFixtures.route(policy("local"));
        LimitOutcome first = limiter.apply(authorized(route, toolCall(1, "deploy"), false, principal("alice")));
        LimitOutcome second = limiter.apply(authorized(route, toolCall(2, "deploy"), false, principal("bob")));
        AuthorizedRequest thirdCall = authorized(route, toolCall(3, "deploy"), false, principal("carol"));
        LimitOutcome third = limiter.apply(thirdCall);
        assertThat(first.held()).isEqualTo(1);
        assertThat(second.held()).isEqualTo(1);
        assertThat(refusal(thirdCall, third).reason()).isEqualTo(Reason.RATE_LIMITED);
        assertThat(third.held()).as("a refused call holds nothing").isZero();
        first.release();
        first.release();
        assertThat(limiter.local().heldTotal()).as("released once, however often called").isEqualTo(1);
        LimitOutcome fourth = limiter.apply(authorized(route, toolCall(4, "deploy"), false, principal("dave")));
        assertThat(fourth.refused()).isEmpty();
        second.release();
        fourth.release();
        third.release();
        assertThat(limiter.local().heldTotal()).isZero();
    }

    /**
     * All or nothing (issue 18): a call a later limit refuses (here the concurrency cap) consumes nothing of the
     * limits it passed (here the rate), in process, through a shared store, and in the fallback. Before, the rate
     * stayed counted, so two refused calls used up a 2/min rate and the next call after the permit came back
     * was refused too.
     */
    @Test
    void aCallALaterLimitRefusesConsumesNothingOfTheLimitsItPassed() {
        for (Limiter limiter : java.util.List.of(Limiter.local(registry),
                new Limiter(new MemoryStore(), new MemoryStore(), 1, Duration.ofSeconds(60), registry),
                new Limiter(new DownStore(), new MemoryStore(), 1, Duration.ofSeconds(60), registry))) {
            Route route = StageFixtures.route(policy("local"));
            LimitOutcome first = limiter.apply(authorized(route, toolCall(1, "build"), false, principal("alice")));
            assertThat(first.future().join().refused()).isEmpty();
            assertThat(first.held()).isEqualTo(1);
            for (int i = 2; i <= 4; i++) {
                AuthorizedRequest refusedCall = authorized(route, toolCall(i, "build"), false, principal("alice"));
                LimitOutcome refused = limiter.apply(refusedCall).future().join();
                assertThat(refusal(refusedCall, refused).data()).as("call %d", i).containsEntry("limit", "tools.build#1");
                assertThat(refused.held()).isZero();
                // The headers report the rate as it stands without the refused call: one of two left.
                assertThat(refused.headers(new DefaultHttpHeaders()).get("RateLimit")).contains("\"tools.build#0\";r=1;");
            }
            first.release();
            LimitOutcome again = limiter.apply(authorized(route, toolCall(5, "build"), false, principal("alice"))).future().join();
            assertThat(again.refused()).as("the rate's second call is still there").isEmpty();
            again.release();
            AuthorizedRequest third = authorized(route, toolCall(6, "build"), false, principal("alice"));
            assertThat(refusal(third, limiter.apply(third).future().join()).data()).containsEntry("limit", "tools.build#0");
            assertThat(limiter.local().heldTotal()).isZero();
            if (limiter.shared() instanceof MemoryStore shared) {
                assertThat(shared.heldTotal()).isZero();
            }
        }
    }

    /** A shared store that never answers (down): every call fails at once, as with an open circuit. */
    private static final class DownStore implements ClusterStore {
        @Override
        public CompletableFuture<Long> take(String key, long intervalMicros, long periodMicros) {
            return CompletableFuture.failedFuture(new StoreUnavailableException("down", null));
        }

        @Override
        public CompletableFuture<Boolean> acquire(String key, long limit, String lease, Duration leaseTime) {
            return CompletableFuture.failedFuture(new StoreUnavailableException("down", null));
        }

        @Override
        public CompletableFuture<long[]> check(java.util.List<Take> rates, java.util.List<Acquire> permits) {
            return CompletableFuture.failedFuture(new StoreUnavailableException("down", null));
        }

        @Override
        public void refund(String key, long micros) {
        }

        @Override
        public void release(String key, String lease) {
            throw new AssertionError("nothing was acquired in this store");
        }

        @Override
        public CompletableFuture<Boolean> putIfAbsent(String key, String value, Duration ttl) {
            return CompletableFuture.failedFuture(new StoreUnavailableException("down", null));
        }

        @Override
        public CompletableFuture<java.util.Optional<String>> get(String key) {
            return CompletableFuture.failedFuture(new StoreUnavailableException("down", null));
        }

        @Override
        public CompletableFuture<Boolean> replace(String key, String expected, String value, Duration ttl) {
            return CompletableFuture.failedFuture(new StoreUnavailableException("down", null));
        }

        @Override
        public CompletableFuture<java.util.Optional<String>> take(String key) {
            return CompletableFuture.failedFuture(new StoreUnavailableException("down", null));
        }

        @Override
        public boolean up() {
            return false;
        }

        @Override
        public String describe() {
            return "down";
        }

        @Override
        public void close() {
        }
    }

    @Test
    void failLocalCountsEachReplicasShareWhileTheStoreIsDown() {
        // Four replicas share 2/min: each allows ceil(2/4) = 1 on its own while the store is down.
        Limiter limiter = new Limiter(new DownStore(), new MemoryStore(), 4, Duration.ofSeconds(60), registry);
        Route route = StageFixtures.route(policy("local"));
        LimitOutcome first = limiter.apply(authorized(route, toolCall(1, "write_file"), false, principal("alice", "files:write")));
        assertThat(first.ready()).isTrue();
        assertThat(first.refused()).isEmpty();
        LimitOutcome second = limiter.apply(authorized(route, toolCall(2, "write_file"), false, principal("alice", "files:write")));
        assertThat(second.refused()).containsOnlyKeys(0);
        // A concurrency cap falls back too, and its permit is given back to the store that granted it.
        LimitOutcome deploy = limiter.apply(authorized(route, toolCall(3, "deploy"), false, principal("alice")));
        assertThat(deploy.refused()).isEmpty();
        assertThat(limiter.local().heldTotal()).isEqualTo(1);
        deploy.release();
        assertThat(limiter.local().heldTotal()).isZero();
        assertThat(registry.get("portcullis.limit.store.fallbacks").tag("mode", "local").counter().count()).isPositive();
    }

    @Test
    void failClosedRefusesLimitedCallsWhileTheStoreIsDown() {
        Limiter limiter = new Limiter(new DownStore(), new MemoryStore(), 4, Duration.ofSeconds(60), registry);
        Route route = StageFixtures.route(policy("closed"));
        AuthorizedRequest call = authorized(route, toolCall(1, "write_file"), false, principal("alice", "files:write"));
        GatewayFailure refused = refusal(call, limiter.apply(call));
        assertThat(refused.reason()).isEqualTo(Reason.LIMITS_UNAVAILABLE);
        assertThat(refused.jsonRpcId().asInt()).isEqualTo(1);
        // Protocol plumbing counts against nothing, so it still passes.
        String ping = "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}";
        assertThat(limiter.apply(authorized(route, ping, false, principal("alice")))).isNull();
    }

    @Test
    void theHeadersFollowTheRatelimitDraft() {
        Limiter limiter = Limiter.local(registry);
        Route route = StageFixtures.route(policy("local"));
        LimitOutcome outcome = limiter.apply(authorized(route, toolCall(1, "write_file"), false, principal("alice", "files:write")));
        HttpHeaders headers = outcome.headers(new DefaultHttpHeaders().set("Vary", "Origin"));
        assertThat(headers.get("Vary")).isEqualTo("Origin");
        assertThat(headers.get("RateLimit-Policy"))
                .isEqualTo("\"tools.write_file#0\";q=2;w=60, \"limits.default#0\";q=1000;w=86400");
        assertThat(headers.get("RateLimit")).matches("\"tools\\.write_file#0\";r=1;t=30, \"limits\\.default#0\";r=999;t=87");
        assertThat(LimitOutcome.structuredString("tools.\"x*\"#0\u00e9")).isEqualTo("\"tools.\\\"x*\\\"#0_\"");
    }

    @Test
    void keysCannotBeForgedByClaimsThatHoldTheSeparator() {
        Limit limit = Limit.parse("l#0", "1/min per subject+agent");
        McpMessage message = new JsonRpcInspector().inspect(bytes(toolCall(1, "x"))).get(0);
        Principal a = new Principal("i", "ab", "c", Set.of(), Set.of(), Map.of(), "j", Instant.now().plusSeconds(60),
                new BearerToken("t"));
        Principal b = new Principal("i", "a", "bc", Set.of(), Set.of(), Map.of(), "j", Instant.now().plusSeconds(60),
                new BearerToken("t"));
        assertThat(Limiter.key("r", limit, a, message)).isNotEqualTo(Limiter.key("r", limit, b, message));
        assertThat(Limiter.key("r", Limit.parse("l#0", "1/min per tool"), a, message)).endsWith("1:x");
        assertThat(Optional.of(Limiter.key("r", Limit.parse("l#0", "1/min"), a, message))).hasValue("1:r3:l#0");
    }
}
