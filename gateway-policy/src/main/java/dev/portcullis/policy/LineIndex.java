package dev.portcullis.policy;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLParser;
import java.io.IOException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Where each key and list element of a YAML document stands: a path of segments (String keys,
 * Integer list indexes) → line number. Keys are kept as segments, never joined, so a tool named
 * {@code a.b} cannot be confused with a nested key. Also records keys written twice in one mapping.
 * (The same idea as the gateway config loader's index, without depending on gateway-app.) Public for the pins file
 * reader (issue 17), whose errors name file, line and field the same way.
 */
public final class LineIndex {
    /** A key written twice in one mapping; the later value is the one that counts. */
    public record Duplicate(List<Object> path, int firstLine, int line) {}

    /** A YAML alias ({@code *name}); the tree sees only its name, so the loader refuses it. */
    public record Alias(List<Object> path, int line, String name) {}

    private final Map<List<Object>, Integer> lines;
    private final List<Duplicate> duplicates;
    private final List<Alias> aliases;

    private LineIndex(Map<List<Object>, Integer> lines, List<Duplicate> duplicates, List<Alias> aliases) {
        this.lines = lines;
        this.duplicates = duplicates;
        this.aliases = aliases;
    }

    public static LineIndex of(String yaml) {
        Map<List<Object>, Integer> lines = new HashMap<>();
        List<Duplicate> duplicates = new ArrayList<>();
        List<Alias> aliases = new ArrayList<>();
        try (JsonParser p = new YAMLFactory().createParser(yaml)) {
            // One frame per open container: its path, and the next index for a list (-1 for a mapping).
            ArrayDeque<Frame> open = new ArrayDeque<>();
            String field = null;
            JsonToken t;
            while ((t = p.nextToken()) != null) {
                int line = p.currentTokenLocation().getLineNr();
                if (t == JsonToken.FIELD_NAME) {
                    field = p.currentName();
                    List<Object> path = open.peek().child(field);
                    Integer before = lines.get(path);
                    if (before != null) {
                        duplicates.add(new Duplicate(path, before, line));
                        lines.keySet().removeIf(key -> key.size() > path.size() && key.subList(0, path.size()).equals(path));
                    }
                    lines.put(path, line);
                    continue;
                }
                if (t == JsonToken.END_OBJECT || t == JsonToken.END_ARRAY) {
                    open.pop();
                    field = null;
                    continue;
                }
                List<Object> path = open.isEmpty() ? List.of() : open.peek().nextChild(field);
                if (open.peek() != null && open.peek().isList()) {
                    lines.putIfAbsent(path, line);
                }
                if (p instanceof YAMLParser yamlParser && yamlParser.isCurrentAlias()) {
                    aliases.add(new Alias(path, line, p.getText()));
                }
                if (t == JsonToken.START_OBJECT || t == JsonToken.START_ARRAY) {
                    open.push(new Frame(path, t == JsonToken.START_ARRAY));
                }
                field = null;
            }
        } catch (IOException | RuntimeException e) {
            // The real parse reports YAML errors; the index is best effort.
        }
        return new LineIndex(lines, List.copyOf(duplicates), List.copyOf(aliases));
    }

    private static final class Frame {
        private final List<Object> path;
        private int next;

        Frame(List<Object> path, boolean list) {
            this.path = path;
            this.next = list ? 0 : -1;
        }

        boolean isList() {
            return next >= 0;
        }

        List<Object> child(Object key) {
            List<Object> out = new ArrayList<>(path);
            out.add(key);
            return List.copyOf(out);
        }

        /** The path of the value token just read: the current key's, or the next list index. */
        List<Object> nextChild(String field) {
            if (isList()) return child(next++);
            return field == null ? path : child(field);
        }
    }

    /** The line of {@code path}, or of its nearest ancestor that has one; 0 when none does. */
    public int lineOf(List<?> path) {
        for (int n = path.size(); n > 0; n--) {
            Integer line = lines.get(List.copyOf(path.subList(0, n)));
            if (line != null) return line;
        }
        return 0;
    }

    public List<Duplicate> duplicates() {
        return duplicates;
    }

    public List<Alias> aliases() {
        return aliases;
    }
}
