package dev.portcullis.forward;

/**
 * {@code server-request-drop}: a 2026-07-28 stream loses every server-to-client request (V26-29; see
 * {@link ServerRequests}); notifications and responses pass untouched.
 */
final class ServerRequestDrop implements ReplyTransform {
    private final String route;

    /** @param route the route's name, for the log line naming a dropped request */
    ServerRequestDrop(String route) {
        this.route = route;
    }

    @Override
    public String name() {
        return "server-request-drop";
    }

    @Override
    public byte[] event(byte[] event) {
        byte[] kept = ServerRequests.withoutRequests(event, route);
        return kept == ServerRequests.DROPPED ? DROPPED : kept;
    }
}
