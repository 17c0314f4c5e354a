package dev.portcullis.forward;

import dev.portcullis.listen.Transport;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.resolver.AddressResolverGroup;
import io.netty.resolver.dns.DnsAddressResolverGroup;
import io.netty.resolver.dns.DnsNameResolverBuilder;
import io.netty.util.AttributeKey;
import io.netty.util.NetUtil;
import io.netty.util.concurrent.FastThreadLocal;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.URI;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLParameters;

/**
 * Keep-alive connections to upstreams, kept per event loop (an upstream connection lives on the loop of
 * the inbound connection that opened it, so a proxied request never changes threads) and per origin.
 * Only its own loop touches a loop's idle connections: no locks. Idle connections are closed after
 * {@value #MAX_IDLE_MILLIS} ms or when the upstream closes them; at most {@value #MAX_IDLE_PER_ORIGIN}
 * are kept per origin and loop.
 */
final class UpstreamPool {
    static final long MAX_IDLE_MILLIS = 30_000;
    static final int MAX_IDLE_PER_ORIGIN = 256;
    static final AttributeKey<UpstreamHandler> HANDLER = AttributeKey.valueOf("portcullis.upstream");
    private static final AttributeKey<Long> IDLE_SINCE = AttributeKey.valueOf("portcullis.idleSince");

    private final FastThreadLocal<Map<String, ArrayDeque<Channel>>> idle = new FastThreadLocal<>() {
        @Override
        protected Map<String, ArrayDeque<Channel>> initialValue() {
            return new HashMap<>();
        }
    };
    private final AddressResolverGroup<InetSocketAddress> names = new DnsAddressResolverGroup(
            new DnsNameResolverBuilder().datagramChannelType(Transport.datagramChannel()));
    private volatile SslContext tls;

    UpstreamPool() {
        // Reading /etc/resolv.conf and /etc/hosts is blocking file I/O: done here, at start, not on an
        // event loop the first time an upstream is named by host name.
        io.netty.resolver.dns.DnsServerAddressStreamProviders.platformDefault();
        io.netty.resolver.HostsFileEntriesResolver.DEFAULT.address("localhost", io.netty.resolver.ResolvedAddressTypes.IPV4_PREFERRED);
    }

    /** The key of an upstream origin: scheme, host and port. */
    static String origin(URI target) {
        return target.getScheme().toLowerCase(Locale.ROOT) + "://" + target.getHost() + ":" + port(target);
    }

    static int port(URI target) {
        return target.getPort() > 0 ? target.getPort() : "https".equalsIgnoreCase(target.getScheme()) ? 443 : 80;
    }

    /** An idle connection to {@code origin} on {@code loop}'s pool, or null. Call on {@code loop}. */
    Channel idle(String origin) {
        ArrayDeque<Channel> channels = idle.get().get(origin);
        if (channels == null) {
            return null;
        }
        long now = System.currentTimeMillis();
        Channel channel;
        while ((channel = channels.pollLast()) != null) {
            Long since = channel.attr(IDLE_SINCE).get();
            if (channel.isActive() && since != null && now - since < MAX_IDLE_MILLIS) {
                return channel;
            }
            channel.close();
        }
        return null;
    }

    /** Gives a connection whose last response was read to its end back to its loop's pool. Call on its loop. */
    void release(String origin, Channel channel) {
        if (!channel.isActive()) {
            return;
        }
        channel.config().setAutoRead(true);
        ArrayDeque<Channel> channels = idle.get().computeIfAbsent(origin, o -> new ArrayDeque<>());
        if (channels.size() >= MAX_IDLE_PER_ORIGIN) {
            channel.close();
            return;
        }
        channel.attr(IDLE_SINCE).set(System.currentTimeMillis());
        channels.addLast(channel);
    }

    /** Forgets a pooled connection the upstream closed. Runs on the connection's loop. */
    void closed(String origin, Channel channel) {
        ArrayDeque<Channel> channels = idle.get().get(origin);
        if (channels != null) {
            channels.remove(channel);
        }
    }

    /** Opens a connection to {@code target} on {@code loop}. */
    ChannelFuture connect(EventLoop loop, URI target, int connectTimeoutMillis) {
        boolean secure = "https".equalsIgnoreCase(target.getScheme());
        String host = target.getHost();
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        int port = port(target);
        String origin = origin(target);
        SslContext context = secure ? tls() : null;
        String sniHost = host;
        Bootstrap bootstrap = new Bootstrap()
                .group(loop)
                .channel(Transport.socketChannel())
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, connectTimeoutMillis)
                .option(ChannelOption.TCP_NODELAY, true)
                .handler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel channel) {
                        if (context != null) {
                            SSLEngine engine = context.newEngine(channel.alloc(), sniHost, port);
                            SSLParameters parameters = engine.getSSLParameters();
                            parameters.setEndpointIdentificationAlgorithm("HTTPS");
                            engine.setSSLParameters(parameters);
                            channel.pipeline().addLast("tls", new io.netty.handler.ssl.SslHandler(engine));
                        }
                        UpstreamHandler handler = new UpstreamHandler(UpstreamPool.this, origin);
                        channel.attr(HANDLER).set(handler);
                        channel.pipeline().addLast("http", new HttpClientCodec());
                        channel.pipeline().addLast("upstream", handler);
                    }
                });
        byte[] literal = NetUtil.createByteArrayFromIpAddressString(host);
        SocketAddress address;
        if (literal != null) {
            try {
                address = new InetSocketAddress(InetAddress.getByAddress(host, literal), port);
            } catch (java.net.UnknownHostException e) {
                throw new IllegalStateException(e);
            }
        } else {
            bootstrap.resolver(names);
            address = InetSocketAddress.createUnresolved(host, port);
        }
        return bootstrap.connect(address);
    }

    private SslContext tls() {
        SslContext context = tls;
        if (context == null) {
            synchronized (this) {
                if (tls == null) {
                    try {
                        tls = SslContextBuilder.forClient().protocols("TLSv1.3", "TLSv1.2").build();
                    } catch (SSLException e) {
                        throw new IllegalStateException(e);
                    }
                }
                context = tls;
            }
        }
        return context;
    }

    void close() {
        names.close();
    }
}
