package dev.portcullis.app;

import static dev.portcullis.app.GatewayHarness.RESOURCE;
import static org.assertj.core.api.Assertions.assertThat;

import dev.portcullis.testing.TestIdp;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The IdP's keys change or vanish while the gateway runs. */
class KeyLifecycleTest {
    /** A fresh IdP, upstream and gateway for each test: the tests rotate the IdP's key or stop it. */
    @RegisterExtension
    static final GatewayExtension peers = GatewayExtension.builder().perTest().build();
    private final TestIdp idp = peers.idp();
    private final GatewayHarness gw = peers.gateway();

    @Test
    void rotatedSigningKeyIsAcceptedWithoutRestart() {
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

    @Test
    void knownKeysKeepWorkingWhileTheIdpIsDown() {
        String used = idp.accessToken(RESOURCE, "mcp:tools");
        String neverSeen = idp.accessToken(RESOURCE, "mcp:tools");
        assertThat(status(gw, used)).isEqualTo(200);

        idp.stop();
        // A token already verified, and one the gateway has never seen: both under a known key.
        assertThat(status(gw, used)).isEqualTo(200);
        assertThat(status(gw, neverSeen)).isEqualTo(200);
        assertThat(gw.gateway.ready()).isTrue();
    }

    private static int status(GatewayHarness gw, String token) {
        String initialize = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":"
                + "\"2025-11-25\",\"capabilities\":{},\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}";
        return gw.send(gw.post(initialize).header("Authorization", "Bearer " + token).build()).statusCode();
    }

}
