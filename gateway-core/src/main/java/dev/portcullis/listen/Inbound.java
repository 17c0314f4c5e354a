package dev.portcullis.listen;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;

/**
 * One request on an inbound connection and the way to answer it: once, whole ({@link #respond}), or as a
 * stream ({@link #start}, {@link #send}, {@link #end}). Confined to the connection's event loop: every method
 * must be called there.
 */
public final class Inbound {
    /** How much of the body arrived. */
    public enum BodyState {
        /** The whole body, within the limits. */
        COMPLETE,
        /** Larger than {@code max-body-size}: not kept (the rest is read and dropped). */
        TOO_LARGE,
        /** Not complete within {@code request-timeout}. */
        TIMED_OUT
    }

    private static final byte[] NO_BODY = new byte[0];

    private final HttpEdge edge;
    private final RequestHead head;
    private final boolean http11;
    byte[] body = NO_BODY;
    BodyState bodyState = BodyState.COMPLETE;
    /** The whole request (head and body) has been read off the connection. */
    boolean requestRead;
    /** The response head has been written. */
    private boolean started;
    /** The response has been written to its end (or the connection is gone). */
    boolean finished;
    /** Close the connection after this response. */
    boolean closeAfter;
    private Runnable onWritable;
    private Runnable onClose;

    Inbound(HttpEdge edge, RequestHead head, boolean http11) {
        this.edge = edge;
        this.head = head;
        this.http11 = http11;
        this.closeAfter = !head.keepAlive();
    }

    public RequestHead head() {
        return head;
    }

    /** The request body (empty when there was none, or when {@link #bodyState()} is not COMPLETE). */
    public byte[] body() {
        return body;
    }

    public BodyState bodyState() {
        return bodyState;
    }

    public EventLoop loop() {
        return edge.channel().eventLoop();
    }

    public Channel channel() {
        return edge.channel();
    }

    /** Whether the response head has been written (its status can no longer change). */
    public boolean started() {
        return started;
    }

    /** Whether this request still waits for (more of) its answer on an open connection. */
    public boolean open() {
        return !finished && edge.channel().isActive();
    }

    /** The whole answer in one write (head and body together). */
    public void respond(FullHttpResponse response) {
        if (finished || started) {
            ReferenceCountUtil.release(response);
            return;
        }
        started = true;
        edge.respond(this, response);
    }

    /**
     * Starts a streamed answer: a response without Content-Length is sent chunked. {@code flush} sends the
     * head now (an event stream); otherwise it leaves with the first piece of the body.
     */
    public void start(HttpResponse response, boolean flush) {
        if (finished || started) {
            return;
        }
        started = true;
        if (!response.headers().contains("Content-Length")) {
            if (http11) {
                response.headers().set("Transfer-Encoding", "chunked");
            } else {
                closeAfter = true;
            }
        }
        edge.write(this, response, flush);
    }

    /** Sends what was written so far. */
    public void flush() {
        if (!finished) {
            edge.flush(this);
        }
    }

    /** One piece of a streamed answer; {@code flush} sends it now. Takes ownership of {@code chunk}. */
    public void send(ByteBuf chunk, boolean flush) {
        if (finished || !started) {
            chunk.release();
            return;
        }
        edge.write(this, new DefaultHttpContent(chunk), flush);
    }

    /** Ends a streamed answer cleanly. */
    public void end() {
        if (finished || !started) {
            return;
        }
        edge.end(this, LastHttpContent.EMPTY_LAST_CONTENT);
    }

    /** Gives up on the answer: the connection is closed (the client sees the response cut, not completed). */
    public void abort() {
        if (!finished) {
            finished = true;
            edge.abort(this);
        }
    }

    /** Whether the client connection takes more bytes without queueing them. */
    public boolean writable() {
        return edge.channel().isWritable();
    }

    /** Runs {@code action} (on the event loop) each time the client connection becomes writable again. */
    public void onWritable(Runnable action) {
        this.onWritable = action;
    }

    /** Runs {@code action} (on the event loop) if the client connection closes before the answer ended. */
    public void onClose(Runnable action) {
        this.onClose = action;
    }

    void writabilityChanged(boolean writable) {
        if (writable && onWritable != null) {
            onWritable.run();
        }
    }

    void closed() {
        if (!finished) {
            finished = true;
            Runnable action = onClose;
            if (action != null) {
                action.run();
            }
        }
    }
}
