package dev.portcullis.config;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Tool definition pinning on one route (issue 17, docs/pinning.md): the definitions an operator reviewed, recorded by
 * {@code portcullis pin} in {@link #file}, are the only ones callers see; an item whose definition differs from its
 * pin is hidden from lists and its calls are refused.
 *
 * @param file     the pins file ({@code pins.yaml}, written by {@code portcullis pin}, reviewed in git); relative
 *                 paths resolve against the config file's directory
 * @param unpinned what callers see of an item the pins file does not name: {@code hide} (default: deny by default)
 *                 or {@code show}
 * @param kinds    which lists are pinned: {@code tools} (default), {@code prompts}, {@code resource-templates}
 */
public record PinningConfig(Path file, String unpinned, List<String> kinds) {
    /** The kinds a pins file may hold, in file order. */
    public static final List<String> KINDS = List.of("tools", "prompts", "resource-templates");

    public PinningConfig {
        Checks.required("file", file);
        unpinned = unpinned == null ? "hide" : unpinned;
        if (!unpinned.equals("hide") && !unpinned.equals("show")) {
            throw ConfigException.expected("unpinned", unpinned,
                    "hide (an item the pins file does not name is hidden and its calls refused) or show");
        }
        kinds = kinds == null ? List.of("tools") : List.copyOf(kinds);
        if (kinds.isEmpty()) {
            throw new ConfigException("kinds", "is empty (expected: one or more of " + String.join(", ", KINDS) + ")");
        }
        List<String> seen = new ArrayList<>();
        for (String kind : kinds) {
            if (!KINDS.contains(kind)) {
                throw ConfigException.expected("kinds", kind, "one or more of " + String.join(", ", KINDS));
            }
            if (seen.contains(kind)) {
                throw ConfigException.expected("kinds", kind, "each kind once");
            }
            seen.add(kind);
        }
    }

    /** Whether an item no pin names is hidden (and its calls refused). */
    public boolean hidesUnpinned() {
        return unpinned.equals("hide");
    }
}
