package dev.portcullis.forward;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.ReferenceCountUtil;

/** The end of an upstream connection's pipeline: hands what arrives to the call using the connection. */
final class UpstreamHandler extends ChannelInboundHandlerAdapter {
    private final UpstreamPool pool;
    private final String origin;
    /** The call using this connection; null while it is idle in the pool. */
    UpstreamCall call;

    UpstreamHandler(UpstreamPool pool, String origin) {
        this.pool = pool;
        this.origin = origin;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        UpstreamCall c = call;
        if (c == null) {
            ReferenceCountUtil.release(msg);
            ctx.close(); // an idle connection has nothing to say
            return;
        }
        c.upstreamRead(msg);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        UpstreamCall c = call;
        call = null;
        if (c != null) {
            c.upstreamClosed(null);
        } else {
            pool.closed(origin, ctx.channel());
        }
        ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        UpstreamCall c = call;
        call = null;
        if (c != null) {
            c.upstreamClosed(cause);
        }
        ctx.close();
    }
}
