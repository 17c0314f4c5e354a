package dev.portcullis.listen;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.nio.channels.ClosedChannelException;
import java.util.Optional;
import javax.net.ssl.SSLHandshakeException;
import org.junit.jupiter.api.Test;

/** Issue 12 item 9: which errors are everyday network conditions (counted, quiet) and which are not. */
class NetworkConditionsTest {
    @Test
    void clientAbortsAreLoggedAsInternalErrors() {
        assertThat(NetworkConditions.classify(new IOException("recvAddress(..) failed with error(-104): Connection reset by peer")))
                .contains(NetworkConditions.Kind.CLIENT_ABORT);
        assertThat(NetworkConditions.classify(new RuntimeException(new IOException("Broken pipe"))))
                .contains(NetworkConditions.Kind.CLIENT_ABORT);
        assertThat(NetworkConditions.classify(new ClosedChannelException())).contains(NetworkConditions.Kind.CLIENT_ABORT);
        assertThat(NetworkConditions.classify(new io.netty.handler.codec.DecoderException(new SSLHandshakeException("no cipher"))))
                .contains(NetworkConditions.Kind.TLS_HANDSHAKE);
        assertThat(NetworkConditions.classify(new io.netty.handler.ssl.NotSslRecordException("plain http")))
                .contains(NetworkConditions.Kind.TLS_HANDSHAKE);
    }

    @Test
    void realErrorsKeepTheirStackTrace() {
        assertThat(NetworkConditions.classify(new NullPointerException())).isEqualTo(Optional.empty());
        assertThat(NetworkConditions.classify(new IOException("No space left on device"))).isEmpty();
        assertThat(NetworkConditions.classify(new IllegalStateException("bug", new IOException("disk")))).isEmpty();
    }

    @Test
    void absorbedConditionsAreCounted() {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        NetworkConditions network = new NetworkConditions(registry);
        assertThat(network.absorb(new IOException("Connection reset by peer"), "test")).isTrue();
        assertThat(network.absorb(new NullPointerException(), "test")).isFalse();
        assertThat(registry.get("portcullis.network.events").tag("kind", "client_abort").counter().count()).isEqualTo(1.0);
        assertThat(registry.get("portcullis.network.events").tag("kind", "tls_handshake").counter().count()).isZero();
    }
}
