package dev.portcullis.bench;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import java.util.ArrayDeque;

/**
 * A reference point, not a product: the plainest HTTP/1.1 reverse proxy Netty makes, with no gateway logic at all
 * (no authentication, no JSON, no policy, no audit, no log). Issue 13 measured one like it as the floor of a JVM proxy
 * on plain Netty. Per downstream connection it opens one upstream connection on the same event loop (the Netty proxy
 * example's pattern), keeps both alive, aggregates each message, removes the caller's {@code Authorization} (as every
 * bench target does), and answers with one {@code writeAndFlush}. One event loop; run it on the target CPU with the
 * gateway's JVM options, so the difference to {@code portcullis-full} is the gateway's own work.
 *
 * <pre>java -jar portcullis-bench.jar netty-proxy --port P --upstream-port U</pre>
 */
final class NettyProxy {
    private static final int MAX_BODY = 4 * 1024 * 1024;

    private NettyProxy() {}

    static void run(Options options) throws InterruptedException {
        int port = options.getInt("port", 0);
        int upstreamPort = options.getInt("upstream-port", 0);
        EventLoopGroup loop = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
        Bootstrap upstream = new Bootstrap().group(loop).channel(EpollSocketChannel.class)
                .option(ChannelOption.TCP_NODELAY, true);
        Channel server = new ServerBootstrap().group(loop).channel(EpollServerSocketChannel.class)
                .option(ChannelOption.SO_BACKLOG, 4096).childOption(ChannelOption.TCP_NODELAY, true)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline().addLast(new HttpServerCodec(), new HttpObjectAggregator(MAX_BODY),
                                new Downstream(upstream, upstreamPort));
                    }
                }).bind("127.0.0.1", port).sync().channel();
        System.out.println("{\"listening\": " + port + "}");
        server.closeFuture().sync();
    }

    /** One caller's connection: its requests go out on one upstream connection, in order (HTTP/1.1, no pipelining beyond order). */
    private static final class Downstream extends SimpleChannelInboundHandler<FullHttpRequest> {
        private final Bootstrap bootstrap;
        private final int upstreamPort;
        private final ArrayDeque<Boolean> keepAlive = new ArrayDeque<>();
        private Channel upstream;

        Downstream(Bootstrap bootstrap, int upstreamPort) {
            this.bootstrap = bootstrap;
            this.upstreamPort = upstreamPort;
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            Channel downstream = ctx.channel();
            downstream.config().setAutoRead(false); // nothing is read until the upstream connection is up
            upstream = bootstrap.clone(downstream.eventLoop()).handler(new ChannelInitializer<SocketChannel>() {
                @Override
                protected void initChannel(SocketChannel ch) {
                    ch.pipeline().addLast(new HttpClientCodec(), new HttpObjectAggregator(MAX_BODY),
                            new SimpleChannelInboundHandler<FullHttpResponse>() {
                                @Override
                                protected void channelRead0(ChannelHandlerContext up, FullHttpResponse response) {
                                    boolean alive = Boolean.TRUE.equals(keepAlive.poll());
                                    FullHttpResponse answer = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
                                            response.status(), response.content().retain(), response.headers(),
                                            response.trailingHeaders());
                                    HttpUtil.setKeepAlive(answer, alive);
                                    var written = downstream.writeAndFlush(answer);
                                    if (!alive) {
                                        written.addListener(ChannelFutureListener.CLOSE);
                                    }
                                }

                                @Override
                                public void channelInactive(ChannelHandlerContext up) {
                                    downstream.close();
                                }
                            });
                }
            }).connect("127.0.0.1", upstreamPort).addListener(connected -> {
                if (connected.isSuccess()) {
                    downstream.config().setAutoRead(true);
                } else {
                    downstream.close();
                }
            }).channel();
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
            keepAlive.add(HttpUtil.isKeepAlive(request));
            request.headers().remove(HttpHeaderNames.AUTHORIZATION);
            HttpUtil.setKeepAlive(request, true);
            upstream.writeAndFlush(request.retain()).addListener(f -> {
                if (!f.isSuccess()) {
                    ctx.writeAndFlush(new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.BAD_GATEWAY))
                            .addListener(ChannelFutureListener.CLOSE);
                }
            });
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            if (upstream != null) {
                upstream.close();
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }
}
