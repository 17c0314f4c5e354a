package dev.portcullis.policy;

import java.util.Collections;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;

/**
 * One rule of a policy file, as loaded: what a caller must have to use the tools, resources,
 * prompts or methods its pattern matches.
 *
 * @param id        {@code <section>.<pattern>}, the pattern quoted unless it is plain
 *                  ({@code tools.delete_todo}, {@code tools."export_*"}, {@code methods."logging/setLevel"})
 * @param section   where the rule stands in the file
 * @param pattern   the name, URI or glob exactly as written
 * @param line      the line of the rule in the file
 * @param deny      {@code deny: true}: nobody may use what it matches (it then has no other checks)
 * @param scopes    all of these are required (a broader scope that implies one counts), sorted
 * @param roles     at least one of these is required when not empty, sorted
 * @param agents    the caller's agent ({@code client_id}/{@code azp}) must be one of these when not empty, sorted
 * @param arguments checks on {@code params.arguments}; tools and prompts only
 */
public record Rule(String id, Section section, String pattern, int line, boolean deny, Set<String> scopes,
                   Set<String> roles, Set<String> agents, List<ArgumentConstraint> arguments) {

    /** The four rule sections of a policy file. */
    public enum Section {
        TOOLS("tools", "tool"),
        RESOURCES("resources", "resource"),
        PROMPTS("prompts", "prompt"),
        METHODS("methods", "method");

        private final String key;
        private final String noun;

        Section(String key, String noun) {
            this.key = key;
            this.noun = noun;
        }

        /** The key in the policy file, e.g. {@code tools}. */
        public String key() {
            return key;
        }

        /** What one entry is, e.g. {@code tool}. */
        public String noun() {
            return noun;
        }
    }

    public Rule {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(section, "section");
        Objects.requireNonNull(pattern, "pattern");
        scopes = sorted(scopes);
        roles = sorted(roles);
        agents = sorted(agents);
        arguments = List.copyOf(arguments);
    }

    static String idOf(Section section, String pattern) {
        return section.key() + "." + Text.key(pattern);
    }

    private static Set<String> sorted(Set<String> values) {
        return Collections.unmodifiableSortedSet(new TreeSet<>(values));
    }
}
