package dev.portcullis.policy;

import java.util.Set;

/**
 * How policy names agents ({@code agents.allow}, a rule's {@code agents}): an exact agent id — an OAuth
 * {@code client_id}, a CIMD client-id URL ({@code https://client.example.com/metadata.json}), a SPIFFE ID from a
 * client certificate — or a prefix pattern ending in {@code /*} that admits every id below that path
 * ({@code spiffe://prod.acme/ns/agents/*}, {@code https://agents.example.com/*}). No other wildcard exists: a
 * {@code *} anywhere else is a load error. Ids are compared as strings, never fetched or resolved (issue 16); an id
 * with an empty, {@code .} or {@code ..} path segment never matches a pattern, only itself exactly.
 */
public final class AgentIds {
    private AgentIds() {}

    /** The expectation a bad pattern's error message names. */
    public static final String EXPECTED = "an agent id (client_id, a CIMD client-id URL or a SPIFFE ID), or a prefix"
            + " ending in /* such as spiffe://prod.acme/ns/agents/*";

    /** Whether {@code pattern} may appear in a policy. */
    public static boolean valid(String pattern) {
        if (pattern.isBlank()) {
            return false;
        }
        int star = pattern.indexOf('*');
        if (star < 0) {
            return true;
        }
        // Only a trailing "/*" (the first star is the last character), after something to be below.
        return star == pattern.length() - 1 && pattern.endsWith("/*") && pattern.length() > 2;
    }

    /** Whether {@code agent} is one of {@code patterns}. */
    public static boolean matches(Set<String> patterns, String agent) {
        if (patterns.contains(agent)) {
            return true;
        }
        for (String pattern : patterns) {
            if (pattern.endsWith("/*") && below(pattern.substring(0, pattern.length() - 1), agent)) {
                return true;
            }
        }
        return false;
    }

    /** {@code agent} is {@code prefix} (ending in '/') plus one or more clean path segments. */
    private static boolean below(String prefix, String agent) {
        if (agent.length() <= prefix.length() || !agent.startsWith(prefix)) {
            return false;
        }
        for (String segment : agent.substring(prefix.length()).split("/", -1)) {
            if (segment.isEmpty() || segment.equals(".") || segment.equals("..") || segment.contains("?")
                    || segment.contains("#") || segment.contains("%")) {
                return false;
            }
        }
        return true;
    }
}
