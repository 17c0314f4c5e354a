package dev.portcullis.listen;

import dev.portcullis.config.ListenConfig;
import dev.portcullis.config.TlsConfig;
import io.netty.channel.group.ChannelGroup;
import java.time.Duration;
import java.util.function.BiFunction;
import org.reactivestreams.Publisher;
import reactor.netty.DisposableServer;
import reactor.netty.http.Http11SslContextSpec;
import reactor.netty.http.server.HttpServer;
import reactor.netty.http.server.HttpServerRequest;
import reactor.netty.http.server.HttpServerResponse;

/**
 * Stage 1: the public listener. Reactor Netty {@link HttpServer} with TLS 1.2/1.3 termination
 * from PEM files (or plain HTTP), header limits (431 beyond), an idle timeout for kept-alive
 * connections, and a bound on how long a request may take to arrive (slow clients).
 */
public final class GatewayServer {
    private GatewayServer() {}

    /**
     * @param connections every accepted connection joins this group: graceful shutdown waits for them
     *                    (Reactor Netty's {@code disposeNow} only waits when a group is set) and then
     *                    closes the ones still open after the grace period
     */
    public static DisposableServer bind(ListenConfig config, ChannelGroup connections,
                                        BiFunction<HttpServerRequest, HttpServerResponse, Publisher<Void>> handler) {
        HttpServer server = HttpServer.create()
                .channelGroup(connections)
                .host(config.host())
                .port(config.port())
                .idleTimeout(config.idleTimeout())
                .readTimeout(config.requestTimeout())
                .requestTimeout(config.requestTimeout())
                .httpRequestDecoder(spec -> spec
                        .maxHeaderSize((int) config.maxHeaderSize().bytes())
                        .maxInitialLineLength(8192)
                        .validateHeaders(true))
                .handle(handler);
        TlsConfig tls = config.tls();
        if (tls != null) {
            Http11SslContextSpec spec = Http11SslContextSpec
                    .forServer(tls.certificate().toFile(), tls.privateKey().toFile())
                    .configure(builder -> builder.protocols("TLSv1.3", "TLSv1.2"));
            server = server.secure(ssl -> ssl.sslContext(spec));
        }
        return server.bindNow(Duration.ofSeconds(15));
    }
}
