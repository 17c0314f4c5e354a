package dev.portcullis.forward;

/**
 * What the upstream did with a forwarded request.
 *
 * @param status           the upstream's HTTP status (as relayed to the client)
 * @param sentNanos        {@link System#nanoTime()} when the request was handed to the upstream client
 * @param headersNanos     {@link System#nanoTime()} when the upstream's response headers arrived
 */
public record ForwardResult(int status, long sentNanos, long headersNanos) {}
