package dev.portcullis.listen;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollDatagramChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.DatagramChannel;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioDatagramChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.util.concurrent.DefaultThreadFactory;

/**
 * The socket transport of the request path: Linux epoll when its native library loads, NIO otherwise
 * ({@code -Dportcullis.transport=nio} forces NIO). The listener and the upstream connections use the same
 * one, so an upstream channel can live on its inbound channel's event loop.
 */
public final class Transport {
    /** Whether the native epoll transport is in use. */
    public static final boolean EPOLL = !"nio".equalsIgnoreCase(System.getProperty("portcullis.transport"))
            && Epoll.isAvailable();

    private Transport() {}

    static IoHandlerFactory ioHandler() {
        return EPOLL ? EpollIoHandler.newFactory() : NioIoHandler.newFactory();
    }

    /** Event loops named {@code portcullis-<name>-N}; Netty threads, so BlockHound's Netty integration watches them. */
    public static EventLoopGroup group(String name, int threads) {
        return new MultiThreadIoEventLoopGroup(threads, new DefaultThreadFactory("portcullis-" + name, true), ioHandler());
    }

    static Class<? extends ServerChannel> serverChannel() {
        return EPOLL ? EpollServerSocketChannel.class : NioServerSocketChannel.class;
    }

    public static Class<? extends SocketChannel> socketChannel() {
        return EPOLL ? EpollSocketChannel.class : NioSocketChannel.class;
    }

    public static Class<? extends DatagramChannel> datagramChannel() {
        return EPOLL ? EpollDatagramChannel.class : NioDatagramChannel.class;
    }

    public static String name() {
        return EPOLL ? "epoll" : "nio";
    }
}
