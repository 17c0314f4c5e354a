package dev.portcullis.policy;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The rules of one section, ordered by specificity: the most specific rule that matches a name
 * decides it. An exact name beats every glob; among globs, more literal characters win; at equal
 * literal count, fewer {@code **} win; what is still equal goes to the rule written first.
 */
final class RuleSet {
    /** A rule with its compiled pattern and its position in the file. */
    record Entry(Rule rule, Glob glob, int order) {}

    /** Most specific first. */
    static final Comparator<Entry> SPECIFICITY = Comparator
            .comparing((Entry e) -> !e.glob().isExact())
            .thenComparing(e -> -e.glob().literalCount())
            .thenComparingInt(e -> e.glob().anyRunCount())
            .thenComparingInt(Entry::order);

    private final Map<String, Entry> exact;
    private final List<Entry> globs;
    private final List<Entry> byPriority;

    RuleSet(List<Entry> entries) {
        Map<String, Entry> exactNames = new LinkedHashMap<>();
        List<Entry> patterns = new ArrayList<>();
        for (Entry entry : entries) {
            if (entry.glob().isExact()) {
                exactNames.putIfAbsent(entry.glob().text(), entry);
            } else {
                patterns.add(entry);
            }
        }
        patterns.sort(SPECIFICITY);
        List<Entry> all = new ArrayList<>(entries);
        all.sort(SPECIFICITY);
        this.exact = Map.copyOf(exactNames);
        this.globs = List.copyOf(patterns);
        this.byPriority = List.copyOf(all);
    }

    /** The most specific rule matching {@code name}. */
    Optional<Rule> match(String name) {
        Entry hit = exact.get(name);
        if (hit != null) {
            return Optional.of(hit.rule());
        }
        return matchGlob(name);
    }

    /** The rule naming exactly {@code name}. */
    Optional<Rule> exact(String name) {
        return Optional.ofNullable(exact.get(name)).map(Entry::rule);
    }

    /** The most specific glob rule matching {@code name}, ignoring exact names. */
    Optional<Rule> matchGlob(String name) {
        for (Entry entry : globs) {
            if (entry.glob().matches(name)) {
                return Optional.of(entry.rule());
            }
        }
        return Optional.empty();
    }

    /** Every rule, most specific first. */
    List<Entry> byPriority() {
        return byPriority;
    }
}
