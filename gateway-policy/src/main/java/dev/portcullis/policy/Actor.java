package dev.portcullis.policy;

import java.util.Set;

/**
 * One link of a token's delegation chain (RFC 8693 §4.1 {@code act}, nested): who acted. The chain is read from the
 * validated token only (POLICY-06).
 *
 * @param subject  the actor's {@code sub}
 * @param clientId the actor's {@code client_id}, or ""
 * @param scopes   the scopes this link declares ({@code scope}, space-separated, or {@code scp}), or null when it
 *                 declares none (then it does not take part in the narrowing check)
 */
public record Actor(String subject, String clientId, Set<String> scopes) {
    public Actor {
        subject = subject == null ? "" : subject;
        clientId = clientId == null ? "" : clientId;
        scopes = scopes == null ? null : Set.copyOf(scopes);
    }

    /**
     * The chain of an {@code act} claim as a JSON-like map (Nimbus's or Jackson's reading): the current actor first,
     * then the one before it, and so on. At most {@code limit} links are read (deeper nesting is reported by
     * {@link #chainDepth}).
     */
    public static java.util.List<Actor> chain(Object act, int limit) {
        java.util.List<Actor> out = new java.util.ArrayList<>();
        Object link = act;
        while (link instanceof java.util.Map<?, ?> map && out.size() < limit) {
            out.add(new Actor(text(map.get("sub")), text(map.get("client_id")), scopes(map)));
            link = map.get("act");
        }
        return java.util.List.copyOf(out);
    }

    /** How deep {@code act} nests (0: no delegation), counted up to {@code limit + 1}. */
    public static int chainDepth(Object act, int limit) {
        int depth = 0;
        Object link = act;
        while (link instanceof java.util.Map<?, ?> map && depth <= limit) {
            depth++;
            link = map.get("act");
        }
        return depth;
    }

    private static String text(Object value) {
        return value instanceof String s ? s : "";
    }

    private static Set<String> scopes(java.util.Map<?, ?> link) {
        Object scope = link.get("scope");
        if (scope instanceof String s) {
            java.util.Set<String> out = new java.util.LinkedHashSet<>();
            for (String word : s.split(" ")) {
                if (!word.isEmpty()) {
                    out.add(word);
                }
            }
            return out;
        }
        Object scp = link.get("scp");
        if (scp instanceof java.util.Collection<?> list) {
            java.util.Set<String> out = new java.util.LinkedHashSet<>();
            for (Object word : list) {
                if (word instanceof String w && !w.isEmpty()) {
                    out.add(w);
                }
            }
            return out;
        }
        return null;
    }
}
