package dev.portcullis.app;

import static dev.portcullis.app.GatewayHarness.RESOURCE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Mono;

/**
 * The extension itself, driven through its callbacks (it reads nothing from the context): what it
 * starts serves on 127.0.0.1, and after the class (or the test) every port it opened is closed.
 */
class GatewayExtensionTest {

    private static boolean accepts(int port) {
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress("127.0.0.1", port), 1000);
            return true;
        } catch (IOException refused) {
            return false;
        }
    }

    private static int status(GatewayHarness gw, String token) {
        String initialize = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":"
                + "\"2025-11-25\",\"capabilities\":{},\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}";
        return gw.send(gw.post(initialize).header("Authorization", "Bearer " + token).build()).statusCode();
    }

    @Test
    void startsIdpUpstreamAndGatewayForTheClassAndStopsEveryOneOfThem() throws Exception {
        GatewayExtension peers = GatewayExtension.builder().build();
        peers.beforeAll(null);
        GatewayHarness gw = peers.gateway();
        GatewayHarness second = peers.startGateway(peers.upstreamUrl(), "");
        List<Integer> ports = List.of(peers.idp().port(), peers.upstream().port(), gw.gateway.port(),
                gw.gateway.adminPort(), second.gateway.port());
        assertThat(status(gw, peers.idp().accessToken(RESOURCE, "mcp:tools"))).isEqualTo(200);
        assertThat(peers.upstream().requests()).isNotEmpty();
        peers.beforeEach(null);
        assertThat(peers.upstream().requests()).as("cleared before each test").isEmpty();
        assertThat(ports).allMatch(GatewayExtensionTest::accepts);

        peers.afterAll(null);

        assertThat(ports).noneMatch(GatewayExtensionTest::accepts);
    }

    @Test
    void perTestPeersAreFreshForEachTest() throws Exception {
        GatewayExtension peers = GatewayExtension.builder().perTest().build();
        peers.beforeAll(null);
        peers.beforeEach(null);
        int firstIdp = peers.idp().port();
        GatewayHarness first = peers.gateway();
        peers.afterEach(null);
        assertThat(accepts(firstIdp)).isFalse();
        assertThat(accepts(first.gateway.port())).isFalse();

        peers.beforeEach(null);
        assertThat(peers.gateway()).isNotSameAs(first);
        assertThat(status(peers.gateway(), peers.idp().accessToken(RESOURCE, "mcp:tools"))).isEqualTo(200);
        peers.afterEach(null);
        peers.afterAll(null);
    }

    @Test
    void aStubUpstreamAndAReloadablePolicyRestoredBeforeEachTest() throws Exception {
        GatewayExtension peers = GatewayExtension.builder()
                .stub((req, res) -> req.receive().then(res.header("Content-Type", "application/json")
                        .sendString(Mono.just("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}")).then()))
                .policy("default: deny\n", Duration.ofMillis(100))
                .build();
        peers.beforeAll(null);
        Path policy = peers.policyFile();
        int stubPort = peers.stub().port();
        assertThat(peers.upstreamUrl()).isEqualTo("http://127.0.0.1:" + stubPort + "/mcp");
        assertThatThrownBy(peers::upstream).isInstanceOf(IllegalStateException.class);
        Files.writeString(policy, "default: allow\n");

        peers.beforeEach(null);

        assertThat(Files.readString(policy)).isEqualTo("default: deny\n");
        peers.afterAll(null);
        assertThat(accepts(stubPort)).isFalse();
        assertThat(policy).doesNotExist();
    }

    @Test
    void restartIdpBringsANewKeyOnTheSamePortAndStopsItAfterwards() throws Exception {
        GatewayExtension peers = GatewayExtension.builder().noGateway().noUpstream().build();
        peers.beforeAll(null);
        int port = peers.idp().port();
        String oldKid = peers.idp().kid();

        peers.restartIdp();

        assertThat(peers.idp().port()).isEqualTo(port);
        assertThat(peers.idp().kid()).isNotEqualTo(oldKid);
        assertThat(accepts(port)).isTrue();
        peers.afterAll(null);
        assertThat(accepts(port)).isFalse();
    }
}
