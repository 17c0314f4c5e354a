package dev.portcullis.route;

import java.util.Comparator;
import java.util.List;
import java.util.Optional;

/** Picks the route for a request path: the longest matching prefix wins. Immutable. */
public final class RouteTable {
    private final List<Route> routes;

    public RouteTable(List<Route> routes) {
        this.routes = routes.stream()
                .sorted(Comparator.comparingInt((Route r) -> r.path().length()).reversed())
                .toList();
    }

    public Optional<Route> select(String path) {
        for (Route route : routes) {
            if (route.matches(path)) {
                return Optional.of(route);
            }
        }
        return Optional.empty();
    }

    /** The route whose Protected Resource Metadata lives at {@code path}, if any (PRM-01). */
    public Optional<Route> byMetadataPath(String path) {
        for (Route route : routes) {
            if (route.metadataPath().equals(path)) {
                return Optional.of(route);
            }
        }
        // PRM-06: the root document only when there is a single endpoint, so it cannot be ambiguous.
        if (routes.size() == 1 && path.equals(ProtectedResourceMetadata.WELL_KNOWN)) {
            return Optional.of(routes.get(0));
        }
        return Optional.empty();
    }

    public List<Route> routes() {
        return routes;
    }
}
