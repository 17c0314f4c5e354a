package dev.portcullis.forward;

import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;

/**
 * The open 2024-11-05 HTTP+SSE streams of this process, by the upstream endpoint they announced.
 * In that transport every answer travels on the stream, not in the POST's response; so when the
 * gateway itself answers a POSTed request (a policy denial), it delivers the JSON-RPC error as an
 * {@code event: message} on the caller's stream, and the POST gets 202 like any other.
 */
public final class LegacyStreams implements dev.portcullis.revision.McpRevision.CallerStreams {
    private final Map<String, Consumer<byte[]>> streams = new ConcurrentHashMap<>();

    /** {@code sink} takes whole events for the stream (from any thread) and writes them between upstream events. */
    void register(String upstreamEndpoint, Consumer<byte[]> sink) {
        streams.put(upstreamEndpoint, sink);
    }

    void unregister(String upstreamEndpoint, Consumer<byte[]> sink) {
        streams.remove(upstreamEndpoint, sink);
    }

    /** Puts a JSON-RPC message on the stream of {@code upstreamEndpoint}; false when no such stream is open here. */
    @Override
    public boolean deliver(String upstreamEndpoint, byte[] jsonRpc) {
        Consumer<byte[]> sink = streams.get(upstreamEndpoint);
        if (sink == null) {
            return false;
        }
        sink.accept(("event: message\ndata: " + new String(jsonRpc, StandardCharsets.UTF_8) + "\n\n")
                .getBytes(StandardCharsets.UTF_8));
        return true;
    }
}
