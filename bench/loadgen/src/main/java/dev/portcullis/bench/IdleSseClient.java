package dev.portcullis.bench;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpVersion;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Opens {@code --streams} SSE streams ({@code GET} with {@code Accept: text/event-stream}) and holds
 * them idle for {@code --hold} seconds, for the gateway's memory at steady state.
 *
 * <p>A stream counts as established once its {@code 200} headers and its first bytes of event data
 * have arrived, i.e. the gateway relayed the upstream's first event. At most {@code --parallel}
 * streams are being opened at a time. Prints two JSON lines: {@code {"phase": "open", ...}} when
 * every stream is established or has failed (the orchestrator samples the gateway then), and
 * {@code {"phase": "done", ...}} after the hold, with how many streams the server ended meanwhile.
 */
final class IdleSseClient {
    private final URI url;
    private final int streams;
    private final int parallel;
    private final double holdSeconds;
    private final double openTimeoutSeconds;
    private final List<String> tokens;

    // Event-loop state.
    private EventLoop loop;
    private Bootstrap bootstrap;
    private int started;
    private int opening;
    private int established;
    private int failed;
    private int endedWhileHeld;
    private final Map<String, Integer> failures = new TreeMap<>();
    private final List<Channel> channels = new ArrayList<>();
    private final CompletableFuture<Void> allOpened = new CompletableFuture<>();

    private IdleSseClient(Options o) throws Exception {
        url = URI.create(o.required("url"));
        streams = o.getInt("streams", 1000);
        parallel = o.getInt("parallel", 256);
        holdSeconds = o.getDouble("hold", 20);
        openTimeoutSeconds = o.getDouble("open-timeout", 120);
        tokens = Files.readAllLines(Path.of(o.required("tokens"))).stream().filter(s -> !s.isBlank()).toList();
    }

    static void run(Options options) throws Exception {
        new IdleSseClient(options).execute();
    }

    private void execute() throws Exception {
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        try {
            loop = group.next();
            bootstrap = new Bootstrap().group(loop).channel(NioSocketChannel.class)
                    .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, 10_000)
                    .handler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel ch) {
                            ch.pipeline().addLast(new HttpClientCodec(), new Stream());
                        }
                    });
            long begin = System.nanoTime();
            loop.execute(this::openMore);
            try {
                allOpened.get((long) (openTimeoutSeconds * 1000), TimeUnit.MILLISECONDS);
            } catch (java.util.concurrent.TimeoutException e) {
                // reported: established + failed < streams
            }
            double openSeconds = (System.nanoTime() - begin) / 1e9;
            System.out.println(loop.submit(() -> report("open", openSeconds)).get());
            System.out.flush();
            Thread.sleep((long) (holdSeconds * 1000));
            System.out.println(loop.submit(() -> report("done", openSeconds)).get());
            loop.submit(() -> channels.forEach(Channel::close)).get();
        } finally {
            group.shutdownGracefully(0, 2, TimeUnit.SECONDS).await(10, TimeUnit.SECONDS);
        }
    }

    private String report(String phase, double openSeconds) {
        StringBuilder f = new StringBuilder("{");
        failures.forEach((k, v) -> f.append(f.length() > 1 ? ", " : "").append('"').append(k).append("\": ").append(v));
        f.append('}');
        return String.format(Locale.ROOT, "{\"phase\": \"%s\", \"requested\": %d, \"established\": %d, \"failed\": %d, "
                        + "\"failures\": %s, \"ended_while_held\": %d, \"open_seconds\": %.1f, \"hold_seconds\": %.1f}",
                phase, streams, established, failed, f, endedWhileHeld, openSeconds, holdSeconds);
    }

    /** On the event loop: keep up to {@code --parallel} streams opening until all were started. */
    private void openMore() {
        while (opening < parallel && started < streams) {
            String token = tokens.get(started % tokens.size());
            started++;
            opening++;
            int port = url.getPort() > 0 ? url.getPort() : 80;
            bootstrap.connect(url.getHost(), port).addListener((io.netty.channel.ChannelFuture f) -> {
                if (f.isSuccess()) {
                    channels.add(f.channel());
                    f.channel().pipeline().get(Stream.class).open(token);
                } else {
                    settle(false, "connect: " + f.cause().getClass().getSimpleName());
                }
            });
        }
    }

    private void settle(boolean ok, String failure) {
        opening--;
        if (ok) {
            established++;
        } else {
            failed++;
            failures.merge(failure, 1, Integer::sum);
        }
        if (established + failed == streams) {
            allOpened.complete(null);
        } else {
            openMore();
        }
    }

    private final class Stream extends SimpleChannelInboundHandler<HttpObject> {
        private boolean settled;
        private int status;

        void open(String token) {
            FullHttpRequest get = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, url.getRawPath());
            get.headers()
                    .set(HttpHeaderNames.HOST, url.getHost() + (url.getPort() > 0 ? ":" + url.getPort() : ""))
                    .set(HttpHeaderNames.ACCEPT, "text/event-stream")
                    .set("MCP-Protocol-Version", "2025-11-25")
                    .set(HttpHeaderNames.AUTHORIZATION, "Bearer " + token);
            channelOf().writeAndFlush(get);
        }

        private Channel channel;

        private Channel channelOf() {
            return channel;
        }

        @Override
        public void handlerAdded(ChannelHandlerContext ctx) {
            // Not channelActive: a connect future's listeners run before channelActive fires.
            channel = ctx.channel();
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, HttpObject msg) {
            if (msg instanceof HttpResponse response) {
                status = response.status().code();
                if (status != 200 && !settled) {
                    settled = true;
                    settle(false, "status " + status);
                    ctx.close();
                    return;
                }
            }
            if (msg instanceof HttpContent content && content.content().isReadable() && !settled && status == 200) {
                settled = true;
                settle(true, null);
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            if (!settled) {
                settled = true;
                settle(false, status == 0 ? "closed before response" : "closed before first event");
            } else if (status == 200) {
                endedWhileHeld++;
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }
}
