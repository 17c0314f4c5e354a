package dev.portcullis.policy;

import java.util.ArrayDeque;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedSet;
import java.util.TreeSet;

/**
 * Which scopes imply which (V26-39): a token holding a broader scope satisfies every narrower scope
 * it implies, directly or through a chain ({@code todo:admin → todo:write → todo:read}). Comparison
 * is exact and case-sensitive (AUTHN-12). Cycles are allowed and harmless.
 */
public final class ScopeHierarchy {
    private static final ScopeHierarchy NONE = new ScopeHierarchy(Map.of());

    /** scope → every scope it implies, transitively, excluding itself unless on a cycle. */
    private final Map<String, Set<String>> implied;

    private ScopeHierarchy(Map<String, Set<String>> implied) {
        this.implied = implied;
    }

    public static ScopeHierarchy none() {
        return NONE;
    }

    /** @param implies broader scope → the narrower scopes it directly implies */
    public static ScopeHierarchy of(Map<String, ? extends Collection<String>> implies) {
        Map<String, Collection<String>> direct = Map.copyOf(implies);
        Map<String, Set<String>> closure = new LinkedHashMap<>();
        for (String scope : direct.keySet()) {
            Set<String> reached = new TreeSet<>();
            ArrayDeque<String> todo = new ArrayDeque<>(direct.get(scope));
            while (!todo.isEmpty()) {
                String next = todo.poll();
                if (reached.add(next)) {
                    todo.addAll(direct.getOrDefault(next, List.of()));
                }
            }
            closure.put(scope, Collections.unmodifiableSet(reached));
        }
        return new ScopeHierarchy(Map.copyOf(closure));
    }

    /** The granted scopes plus every scope they imply, sorted. */
    public SortedSet<String> effective(Set<String> granted) {
        SortedSet<String> out = new TreeSet<>(granted);
        for (String scope : granted) {
            out.addAll(implied.getOrDefault(scope, Set.of()));
        }
        return Collections.unmodifiableSortedSet(out);
    }

    /** The required scopes that neither the granted scopes nor anything they imply cover, sorted. */
    public SortedSet<String> missing(Set<String> required, Set<String> granted) {
        Set<String> have = effective(granted);
        SortedSet<String> out = new TreeSet<>();
        for (String scope : required) {
            if (!have.contains(scope)) out.add(scope);
        }
        return Collections.unmodifiableSortedSet(out);
    }

    /** The scopes {@code scope} implies (transitively), sorted; empty when it implies none. */
    public Set<String> impliedBy(String scope) {
        return implied.getOrDefault(scope, Set.of());
    }

    public boolean isEmpty() {
        return implied.isEmpty();
    }
}
