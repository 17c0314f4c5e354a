package dev.portcullis.policy;

import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * What one caller may see of one kind of item under one policy, as a value (V26-5, V26-34). Two
 * policies that give equal values for a caller show that caller exactly the same items of that
 * kind, whatever the upstream lists: the most specific rule decides a name, specificity depends
 * only on the patterns, and each pattern's verdict for this caller is recorded here.
 *
 * @param listable       whether the caller may call the list method of this kind at all
 * @param defaultVisible whether a name no rule covers is visible to the caller
 * @param rules          each rule pattern of the kind's section with whether what it decides is visible
 *                       to this caller (argument constraints ignored, as in lists: POLICY-05)
 */
public record Visibility(boolean listable, boolean defaultVisible, SortedMap<String, Boolean> rules) {
    public Visibility {
        rules = java.util.Collections.unmodifiableSortedMap(new TreeMap<>(rules));
    }

    /** Nothing of the kind is ever visible to the caller. */
    public static Visibility none() {
        return new Visibility(false, false, new TreeMap<>());
    }

    /** Everything of the kind is visible when the list method is allowed (a policy without per-item rules). */
    public static Visibility everything(boolean listable) {
        return new Visibility(listable, listable, new TreeMap<>());
    }

    /**
     * Whether the caller could ever see an item of this kind: it may list them, and some rule (or the
     * default) lets it see something. Conservative: a visible rule counts even if more specific rules
     * shadow every name it matches.
     */
    public boolean any() {
        return listable && (defaultVisible || rules.containsValue(Boolean.TRUE));
    }

    static Visibility of(boolean listable, boolean defaultVisible, Map<String, Boolean> rules) {
        return new Visibility(listable, defaultVisible, new TreeMap<>(rules));
    }
}
