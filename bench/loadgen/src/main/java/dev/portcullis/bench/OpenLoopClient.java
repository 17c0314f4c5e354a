package dev.portcullis.bench;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.Unpooled;
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
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * An open-loop HTTP/1.1 load generator: requests are sent on a fixed schedule (request i at
 * {@code start + i / rate}), whatever the server does, and each latency is counted from the
 * request's <em>scheduled</em> send time, not from when a connection was free to send it. A server
 * that stalls therefore shows its stall in every request scheduled behind it (the correction for
 * coordinated omission that wrk2 makes; Debian has no wrk2).
 *
 * <p>It schedules requests, not connections: a keep-alive pool of {@code --connections} is shared,
 * a due request goes out on any idle connection, and when none is idle it waits in a queue, the
 * wait counted in its latency. {@code max_queue_wait_us} in the result says whether that happened.
 *
 * <p>Threads: one Netty event loop owns all state and is its own scheduler: it sends what is due, then
 * sleeps until the next send time (a scheduled task; with epoll, a timer of nanosecond resolution). An
 * earlier version parked a second thread and handed due requests over: on the load generator's one
 * CPU, the two threads' wake-ups (and the JIT's compiler threads) put the client's own lag at a p99 of
 * 4–6 ms at 1,000 req/s, above the latencies it was there to measure (bench/RESULTS.md, 2026-12-06).
 *
 * <p>Output (stdout, one JSON object): requests scheduled and completed in the measured window,
 * status counts, p50/p90/p99/p99.9/max latency in microseconds, the achieved rate, and the client's
 * own lag ({@code client_lag_*}: how late the event loop took a request up after its send time). A
 * large client lag means the load generator itself fell behind (a starved CPU), and the latencies
 * then say more about the client than about the server.
 */
final class OpenLoopClient {
    private final URI url;
    private final double rate;
    private final long warmupCount;
    private final long measuredCount;
    private final byte[] body;
    private final List<String> tokens;
    private final int tokenOffset;
    private final Map<String, String> headers;
    private final int connections;

    // Event-loop state.
    private EventLoop loop;
    private Bootstrap bootstrap;
    private long reconnects;
    private final ArrayDeque<Connection> idle = new ArrayDeque<>();
    private final java.util.Set<Connection> open = new java.util.HashSet<>();
    private final ArrayDeque<long[]> queued = new ArrayDeque<>();
    private final long[] latencies;
    private int recorded;
    /** How late the event loop picked each measured request up: the client's own lag, not the server's. */
    private final long[] lags;
    private int lagged;
    private long completed;
    private long failures;
    private long maxQueueWaitNanos;
    private long scheduledSoFar;
    private long inFlight;
    private final Map<Integer, Long> statuses = new TreeMap<>();
    private final CompletableFuture<Void> drained = new CompletableFuture<>();
    private boolean schedulingDone;
    private long measuredStartNanos;
    private long measuredEndNanos;

    private OpenLoopClient(Options o) throws Exception {
        url = URI.create(o.required("url"));
        rate = o.getDouble("rate", 1000);
        double warmup = o.getDouble("warmup", 1);
        double duration = o.getDouble("duration", 10);
        warmupCount = Math.round(rate * warmup);
        measuredCount = Math.round(rate * duration);
        body = Files.readAllBytes(Path.of(o.required("body")));
        tokens = Files.readAllLines(Path.of(o.required("tokens"))).stream().filter(s -> !s.isBlank()).toList();
        tokenOffset = o.getInt("token-offset", 0);
        connections = o.getInt("connections", 16);
        headers = new TreeMap<>(String.CASE_INSENSITIVE_ORDER);
        for (String h : o.all("header")) {
            int colon = h.indexOf(':');
            headers.put(h.substring(0, colon).strip(), h.substring(colon + 1).strip());
        }
        latencies = new long[(int) measuredCount];
        lags = new long[(int) measuredCount];
    }

    static void run(Options options) throws Exception {
        new OpenLoopClient(options).execute();
    }

    private void execute() throws Exception {
        boolean epoll = io.netty.channel.epoll.Epoll.isAvailable();
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1,
                epoll ? io.netty.channel.epoll.EpollIoHandler.newFactory() : NioIoHandler.newFactory());
        try {
            loop = group.next();
            bootstrap = new Bootstrap().group(loop)
                    .channel(epoll ? io.netty.channel.epoll.EpollSocketChannel.class : NioSocketChannel.class)
                    .option(ChannelOption.TCP_NODELAY, true)
                    .handler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel ch) {
                            ch.pipeline().addLast(new HttpClientCodec(), new HttpObjectAggregator(4 * 1024 * 1024),
                                    new Connection());
                        }
                    });
            int port = url.getPort() > 0 ? url.getPort() : 80;
            for (int i = 0; i < connections; i++) {
                Channel ch = bootstrap.connect(url.getHost(), port).sync().channel();
                Connection c = ch.pipeline().get(Connection.class);
                loop.submit(() -> ready(c)).sync();
            }
            schedule();
            // Requests still unanswered this long after the last send are counted as unfinished.
            try {
                drained.get((long) ((warmupCount + measuredCount) / rate * 1000) + 10_000, TimeUnit.MILLISECONDS);
            } catch (java.util.concurrent.TimeoutException e) {
                // reported below
            }
            String result = loop.submit(this::summary).get();
            System.out.println(result);
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        }
    }

    // The schedule, owned by the event loop.
    private long total;
    private double interval;
    private long start;
    private long next;

    /** Starts the schedule on the event loop: request i is due at {@code start + i / rate}. */
    private void schedule() {
        total = warmupCount + measuredCount;
        interval = 1e9 / rate;
        start = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(20);
        measuredStartNanos = start + (long) (warmupCount * interval);
        measuredEndNanos = start + (long) (total * interval);
        loop.execute(this::tick);
    }

    /** On the event loop: sends every request due by now, then sleeps until the next one is due. */
    private void tick() {
        long now = System.nanoTime();
        long due = now < start ? 0 : (long) ((now - start) / interval) + 1; // requests due by now
        long upTo = Math.min(total, Math.max(next, due));
        for (long i = next; i < upTo; i++) {
            dispatch(start + (long) (i * interval), i);
        }
        next = upTo;
        if (next < total) {
            loop.schedule(this::tick, Math.max(0, start + (long) (next * interval) - System.nanoTime()), TimeUnit.NANOSECONDS);
        } else {
            schedulingDone = true;
            completeIfDrained();
        }
    }

    /** On the event loop: send request {@code index} now, or queue it until a connection is idle. */
    private void dispatch(long scheduledNanos, long index) {
        if (index >= warmupCount && lagged < lags.length) {
            lags[lagged++] = System.nanoTime() - scheduledNanos;
        }
        scheduledSoFar++;
        inFlight++;
        Connection c = idle.poll();
        if (c == null) {
            queued.add(new long[] {scheduledNanos, index});
        } else {
            c.send(scheduledNanos, index);
        }
    }

    /** A connection that can take a request: the oldest queued one, or it waits in the idle pool. */
    private void ready(Connection c) {
        long[] next = queued.poll();
        if (next != null) {
            c.send(next[0], next[1]);
        } else {
            idle.push(c);
        }
    }

    /** Keeps the pool at {@code --connections} when a server closes one (e.g. a keep-alive request limit). */
    private void replace() {
        if (schedulingDone && queued.isEmpty()) {
            return;
        }
        reconnects++;
        int port = url.getPort() > 0 ? url.getPort() : 80;
        bootstrap.connect(url.getHost(), port).addListener((io.netty.channel.ChannelFuture f) -> {
            if (f.isSuccess()) {
                ready(f.channel().pipeline().get(Connection.class));
            }
        });
    }

    private void completed(Connection c, long scheduledNanos, long index, int status, boolean keepAlive) {
        long now = System.nanoTime();
        inFlight--;
        if (index >= warmupCount) {
            completed++;
            statuses.merge(status, 1L, Long::sum);
            if (status != 200) {
                failures++;
            }
            if (recorded < latencies.length) {
                latencies[recorded++] = now - scheduledNanos;
            }
        }
        if (keepAlive && c.channel.isActive()) {
            ready(c);
        } else {
            c.channel.close(); // its channelInactive opens a replacement
        }
        completeIfDrained();
    }

    private void completeIfDrained() {
        if (schedulingDone && inFlight == 0) {
            drained.complete(null);
        }
    }

    private String summary() {
        long unfinished = inFlight;
        long now = System.nanoTime();
        // An unanswered request's latency is at least its age now: count it, so stalls are not hidden.
        for (long[] q : queued) {
            if (q[1] >= warmupCount && recorded < latencies.length) {
                latencies[recorded++] = now - q[0];
            }
        }
        for (Connection c : open) {
            if (c.index >= warmupCount && recorded < latencies.length) {
                latencies[recorded++] = now - c.scheduledNanos;
            }
        }
        long[] sorted = Arrays.copyOf(latencies, recorded);
        Arrays.sort(sorted);
        long[] sortedLags = Arrays.copyOf(lags, lagged);
        Arrays.sort(sortedLags);
        double seconds = (measuredEndNanos - measuredStartNanos) / 1e9;
        StringBuilder status = new StringBuilder("{");
        statuses.forEach((k, v) -> status.append(status.length() > 1 ? ", " : "").append('"').append(k).append("\": ").append(v));
        status.append('}');
        return String.format(Locale.ROOT, "{\"rate\": %.1f, \"duration_s\": %.3f, \"connections\": %d, \"scheduled\": %d, "
                        + "\"completed\": %d, \"non_200\": %d, \"unfinished\": %d, \"statuses\": %s, "
                        + "\"achieved_rps\": %.1f, \"p50_us\": %.1f, \"p90_us\": %.1f, \"p99_us\": %.1f, \"p999_us\": %.1f, "
                        + "\"max_us\": %.1f, \"mean_us\": %.1f, \"max_queue_wait_us\": %.1f, \"distinct_tokens\": %d, \"reconnects\": %d, "
                        + "\"client_lag_p99_us\": %.1f, \"client_lag_max_us\": %.1f}",
                rate, seconds, connections, measuredCount, completed, failures, unfinished, status,
                completed / seconds, pct(sorted, 0.50), pct(sorted, 0.90), pct(sorted, 0.99), pct(sorted, 0.999),
                sorted.length == 0 ? 0 : sorted[sorted.length - 1] / 1e3, mean(sorted), maxQueueWaitNanos / 1e3,
                Math.min(tokens.size(), warmupCount + measuredCount), reconnects,
                pct(sortedLags, 0.99), sortedLags.length == 0 ? 0 : sortedLags[sortedLags.length - 1] / 1e3);
    }

    private static double pct(long[] sorted, double p) {
        if (sorted.length == 0) {
            return 0;
        }
        int i = (int) Math.ceil(p * sorted.length) - 1;
        return sorted[Math.max(0, Math.min(sorted.length - 1, i))] / 1e3;
    }

    private static double mean(long[] sorted) {
        return sorted.length == 0 ? 0 : Arrays.stream(sorted).average().orElse(0) / 1e3;
    }

    /** One keep-alive connection with at most one request in flight. */
    private final class Connection extends SimpleChannelInboundHandler<FullHttpResponse> {
        private Channel channel;
        private long scheduledNanos;
        private long index = -1;

        @Override
        public void handlerAdded(ChannelHandlerContext ctx) {
            // Not channelActive: a connect future's listeners run before channelActive fires.
            channel = ctx.channel();
            open.add(this);
        }

        void send(long scheduled, long requestIndex) {
            scheduledNanos = scheduled;
            index = requestIndex;
            long wait = System.nanoTime() - scheduled;
            if (requestIndex >= warmupCount && wait > maxQueueWaitNanos) {
                maxQueueWaitNanos = wait;
            }
            String token = tokens.get((int) ((tokenOffset + requestIndex) % tokens.size()));
            FullHttpRequest request = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST,
                    url.getRawPath(), Unpooled.wrappedBuffer(body));
            request.headers()
                    .set(HttpHeaderNames.HOST, url.getHost() + (url.getPort() > 0 ? ":" + url.getPort() : ""))
                    .set(HttpHeaderNames.CONTENT_TYPE, "application/json")
                    .set(HttpHeaderNames.ACCEPT, "application/json, text/event-stream")
                    .set(HttpHeaderNames.CONTENT_LENGTH, body.length)
                    .set(HttpHeaderNames.AUTHORIZATION, "Bearer " + token);
            headers.forEach((k, v) -> request.headers().set(k, v));
            channel.writeAndFlush(request);
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpResponse response) {
            long i = index;
            index = -1;
            completed(this, scheduledNanos, i, response.status().code(), HttpUtil.isKeepAlive(response));
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            idle.remove(this);
            open.remove(this);
            if (index >= 0) {
                long i = index;
                index = -1;
                completed(this, scheduledNanos, i, 599, false); // closed mid-request: counted as a failure
            }
            replace();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }
}
