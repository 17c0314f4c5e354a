package dev.portcullis.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.resolver.AddressResolver;
import io.netty.resolver.AddressResolverGroup;
import io.netty.resolver.InetNameResolver;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Promise;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.netty.DisposableServer;
import reactor.netty.http.server.HttpServer;

/**
 * SECURITY-03 on the wire: the outbound client against a scripted server on 127.0.0.1, with a
 * resolver the test controls (so names resolve to loopback without any DNS traffic). Every
 * "refused" case also asserts that no TCP connection reached the server.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class OutboundHttpSsrfTest {
    private static final String KEYS = "{\"keys\":[]}";
    private final AtomicInteger connections = new AtomicInteger();
    private final AtomicInteger keysServed = new AtomicInteger();
    private DisposableServer server;
    private int port;

    @BeforeAll
    void start() {
        server = HttpServer.create().host("127.0.0.1").port(0)
                .doOnConnection(c -> connections.incrementAndGet())
                .route(r -> r
                        .get("/keys", (req, res) -> {
                            keysServed.incrementAndGet();
                            return res.header("Content-Type", "application/json").sendString(Mono.just(KEYS));
                        })
                        .get("/to-metadata-service", (req, res) -> res.status(302)
                                .header("Location", "http://169.254.169.254/latest/meta-data/iam/security-credentials/").send())
                        .get("/to-local-keys", (req, res) -> res.status(302)
                                .header("Location", "http://127.0.0.1:" + port + "/keys").send())
                        .get("/big", (req, res) -> res.header("Content-Type", "application/json")
                                .sendByteArray(Mono.just(new byte[OutboundHttp.MAX_RESPONSE_BYTES + 1])))
                        .get("/big-chunked", (req, res) -> res.header("Content-Type", "application/json")
                                .sendByteArray(Flux.range(0, 20).map(i -> new byte[64 * 1024])))
                        .get("/stall", (req, res) -> Mono.never())
                        .get("/trickle", (req, res) -> res.header("Content-Type", "application/json")
                                .sendString(Flux.interval(Duration.ofMillis(100)).map(i -> " ")))
                        .post("/token", (req, res) -> res.sendString(Mono.just("{}"))))
                .bindNow();
        port = server.port();
    }

    @AfterAll
    void stop() {
        server.disposeNow();
    }

    @BeforeEach
    void reset() {
        connections.set(0);
        keysServed.set(0);
    }

    /** A hosts table as a Netty resolver group: no DNS. */
    static AddressResolverGroup<InetSocketAddress> hosts(Map<String, List<InetAddress>> table) {
        return new AddressResolverGroup<>() {
            @Override
            protected AddressResolver<InetSocketAddress> newResolver(EventExecutor executor) {
                return new InetNameResolver(executor) {
                    @Override
                    protected void doResolve(String host, Promise<InetAddress> promise) {
                        List<InetAddress> all = table.get(host);
                        if (all == null) {
                            promise.setFailure(new UnknownHostException(host));
                        } else {
                            promise.setSuccess(all.get(0));
                        }
                    }

                    @Override
                    protected void doResolveAll(String host, Promise<List<InetAddress>> promise) {
                        List<InetAddress> all = table.get(host);
                        if (all == null) {
                            promise.setFailure(new UnknownHostException(host));
                        } else {
                            promise.setSuccess(all);
                        }
                    }
                }.asAddressResolver();
            }
        };
    }

    private static final InetAddress LOOPBACK = InetAddress.getLoopbackAddress();

    private OutboundHttp client(OutboundAddressPolicy policy, Duration timeout) throws Exception {
        byte[] mapped = new byte[16];
        mapped[10] = (byte) 0xff;
        mapped[11] = (byte) 0xff;
        System.arraycopy(LOOPBACK.getAddress(), 0, mapped, 12, 4);
        return new OutboundHttp("ssrf-test", 4, Duration.ofSeconds(2), timeout, policy, hosts(Map.of(
                "idp.test", List.of(LOOPBACK),
                "mapped.test", List.of(Inet6Address.getByAddress(null, mapped, -1)),
                "both.test", List.of(InetAddress.getByName("127.0.0.2"), LOOPBACK))));
    }

    private OutboundHttp client(OutboundAddressPolicy policy) throws Exception {
        return client(policy, Duration.ofSeconds(2));
    }

    private URI url(String host, String path) {
        return URI.create("http://" + host + ":" + port + path);
    }

    /** The gateway's policy when a configured URL names 127.0.0.1 literally (every test config does). */
    private OutboundAddressPolicy configuredLoopback() {
        return OutboundAddressPolicy.of(List.of(), List.of("http://127.0.0.1:" + port + "/default"));
    }

    @Test
    void aConfiguredLoopbackLiteralIsFetched() throws Exception {
        OutboundHttp http = client(configuredLoopback());
        try {
            assertThat(new String(http.get(url("127.0.0.1", "/keys")).block(Duration.ofSeconds(5)), StandardCharsets.UTF_8))
                    .isEqualTo(KEYS);
        } finally {
            http.close();
        }
    }

    @Test
    void aLoopbackLiteralNoConfiguredUrlNamesIsRefusedBeforeConnecting() throws Exception {
        OutboundHttp http = client(OutboundAddressPolicy.of(List.of(), List.of("https://idp.example.com/")));
        try {
            assertThatThrownBy(() -> http.get(url("127.0.0.1", "/keys")).block(Duration.ofSeconds(5)))
                    .isInstanceOf(GuardedAddressResolverGroup.AddressRefused.class)
                    .hasMessage("outbound connection to 127.0.0.1:" + port + " refused: 127.0.0.1 is a loopback address "
                            + "(allow it with outbound.allow-private)");
            assertThat(connections).hasValue(0);
        } finally {
            http.close();
        }
    }

    @Test
    void aNameResolvingToLoopbackIsRefusedEvenWhereTheLiteralIsAllowed() throws Exception {
        // DNS rebinding / a hostile DNS answer: the name is public, its answer is not.
        OutboundHttp http = client(configuredLoopback());
        try {
            assertThatThrownBy(() -> http.get(url("idp.test", "/keys")).block(Duration.ofSeconds(5)))
                    .isInstanceOf(GuardedAddressResolverGroup.AddressRefused.class)
                    .hasMessageContaining("idp.test:" + port + " refused: 127.0.0.1 is a loopback address");
            assertThat(connections).hasValue(0);
            assertThat(keysServed).hasValue(0);
        } finally {
            http.close();
        }
    }

    @Test
    void anIpv4MappedIpv6AnswerIsJudgedAsIpv4() throws Exception {
        OutboundHttp http = client(configuredLoopback());
        try {
            assertThatThrownBy(() -> http.get(url("mapped.test", "/keys")).block(Duration.ofSeconds(5)))
                    .isInstanceOf(GuardedAddressResolverGroup.AddressRefused.class)
                    .hasMessageContaining("127.0.0.1 is a loopback address");
            assertThat(connections).hasValue(0);
        } finally {
            http.close();
        }
    }

    @Test
    void anAllowListedRangeIsReachableByName() throws Exception {
        OutboundHttp http = client(OutboundAddressPolicy.allowing(List.of(AddressRange.parse("127.0.0.1/32"))));
        try {
            assertThat(http.get(url("idp.test", "/keys")).block(Duration.ofSeconds(5))).isNotEmpty();
            // Only the allowed answer is used: 127.0.0.2 (refused) is dropped, 127.0.0.1 is connected to.
            assertThat(http.get(url("both.test", "/keys")).block(Duration.ofSeconds(5))).isNotEmpty();
            assertThat(keysServed).hasValue(2);
        } finally {
            http.close();
        }
    }

    @Test
    void tokenRequestsAreGuardedToo() throws Exception {
        OutboundHttp http = client(configuredLoopback());
        try {
            assertThatThrownBy(() -> http.postForm(url("idp.test", "/token"), "grant_type=client_credentials", Map.of(),
                    Duration.ofSeconds(2)).block(Duration.ofSeconds(5)))
                    .isInstanceOf(GuardedAddressResolverGroup.AddressRefused.class);
            assertThat(connections).hasValue(0);
        } finally {
            http.close();
        }
    }

    @Test
    void aRedirectToTheMetadataServiceIsNotFollowed() throws Exception {
        OutboundHttp http = client(configuredLoopback());
        try {
            assertThatThrownBy(() -> http.get(url("127.0.0.1", "/to-metadata-service")).block(Duration.ofSeconds(5)))
                    .isInstanceOfSatisfying(OutboundHttp.HttpStatusException.class, e -> assertThat(e.status()).isEqualTo(302));
        } finally {
            http.close();
        }
    }

    @Test
    void aRedirectIsNotFollowedEvenToAnAllowedUrl() throws Exception {
        OutboundHttp http = client(configuredLoopback());
        try {
            assertThatThrownBy(() -> http.get(url("127.0.0.1", "/to-local-keys")).block(Duration.ofSeconds(5)))
                    .isInstanceOfSatisfying(OutboundHttp.HttpStatusException.class, e -> assertThat(e.status()).isEqualTo(302));
            assertThat(keysServed).hasValue(0);
        } finally {
            http.close();
        }
    }

    @Test
    void anOversizedAnswerIsRefusedWithOrWithoutContentLength() throws Exception {
        OutboundHttp http = client(configuredLoopback());
        try {
            assertThatThrownBy(() -> http.get(url("127.0.0.1", "/big")).block(Duration.ofSeconds(5)))
                    .isInstanceOf(BoundedBody.TooLarge.class);
            assertThatThrownBy(() -> http.get(url("127.0.0.1", "/big-chunked")).block(Duration.ofSeconds(5)))
                    .isInstanceOf(BoundedBody.TooLarge.class);
        } finally {
            http.close();
        }
    }

    @Test
    void aSilentServerAndATricklingBodyTimeOut() throws Exception {
        OutboundHttp http = client(configuredLoopback(), Duration.ofSeconds(1));
        try {
            for (String path : List.of("/stall", "/trickle")) {
                long start = System.nanoTime();
                assertThatThrownBy(() -> http.get(url("127.0.0.1", path)).block(Duration.ofSeconds(10)))
                        .as(path).hasCauseInstanceOf(TimeoutException.class);
                assertThat(Duration.ofNanos(System.nanoTime() - start)).as(path).isLessThan(Duration.ofMillis(2500));
            }
        } finally {
            http.close();
        }
    }

    @Test
    void onlyHttpUrlsAreFetched() throws Exception {
        OutboundHttp http = client(configuredLoopback());
        try {
            assertThatThrownBy(() -> http.get(URI.create("file:///etc/passwd")).block(Duration.ofSeconds(5)))
                    .isInstanceOf(IllegalArgumentException.class);
        } finally {
            http.close();
        }
    }
}
