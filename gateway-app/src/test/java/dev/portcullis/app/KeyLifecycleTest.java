package dev.portcullis.app;

import static dev.portcullis.app.GatewayHarness.RESOURCE;
import static org.assertj.core.api.Assertions.assertThat;

import dev.portcullis.testing.TestIdp;
import dev.portcullis.testing.TestMcpServer;
import org.junit.jupiter.api.Test;

/** The IdP's keys change or vanish while the gateway runs. */
class KeyLifecycleTest {

    @Test
    void rotatedSigningKeyIsAcceptedWithoutRestart() {
        try (TestIdp idp = TestIdp.start(); TestMcpServer upstream = TestMcpServer.start();
             GatewayHarness gw = GatewayHarness.start(idp.issuer(), upstream.url(), null, null)) {
            String before = idp.accessToken(RESOURCE, "mcp:tools");
            assertThat(status(gw, before)).isEqualTo(200);
            String oldKid = idp.kid();

            idp.rotateKey();
            assertThat(idp.kid()).isNotEqualTo(oldKid);
            String after = idp.accessToken(RESOURCE, "mcp:tools");
            int fetchesBefore = idp.jwksFetches();
            assertThat(status(gw, after)).isEqualTo(200);
            assertThat(idp.jwksFetches()).isEqualTo(fetchesBefore + 1);
        }
    }

    @Test
    void knownKeysKeepWorkingWhileTheIdpIsDown() {
        try (TestIdp idp = TestIdp.start(); TestMcpServer upstream = TestMcpServer.start();
             GatewayHarness gw = GatewayHarness.start(idp.issuer(), upstream.url(), null, null)) {
            String used = idp.accessToken(RESOURCE, "mcp:tools");
            String neverSeen = idp.accessToken(RESOURCE, "mcp:tools");
            assertThat(status(gw, used)).isEqualTo(200);

            idp.stop();
            // A token already verified, and one the gateway has never seen: both under a known key.
            assertThat(status(gw, used)).isEqualTo(200);
            assertThat(status(gw, neverSeen)).isEqualTo(200);
            assertThat(gw.gateway.ready()).isTrue();
        }
    }

    private static int status(GatewayHarness gw, String token) {
        String initialize = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":"
                + "\"2025-11-25\",\"capabilities\":{},\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}";
        return gw.send(gw.post(initialize).header("Authorization", "Bearer " + token).build()).statusCode();
    }

}
