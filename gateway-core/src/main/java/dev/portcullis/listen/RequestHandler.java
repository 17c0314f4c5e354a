package dev.portcullis.listen;

/** What the listener runs for each request once its head (and, normally, its whole body) has arrived. */
@FunctionalInterface
public interface RequestHandler {
    /** Called on the connection's event loop; must not block. Answers through {@code inbound}. */
    void handle(Inbound inbound);
}
