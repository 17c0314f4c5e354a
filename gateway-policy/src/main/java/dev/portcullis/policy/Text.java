package dev.portcullis.policy;

import java.util.Collection;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/** Formatting shared by reasons, rule ids and error messages. */
final class Text {
    private static final Pattern PLAIN_KEY = Pattern.compile("[A-Za-z0-9_-]+");
    private static final int MAX_SHOWN = 120;

    private Text() {}

    /**
     * A name from a request, for a reason line: in double quotes, with anything outside printable
     * ASCII escaped (so a log line stays one line and look-alike characters show as what they are)
     * and cut after {@value #MAX_SHOWN} characters.
     */
    static String quoted(String value) {
        return quoted(value, MAX_SHOWN);
    }

    private static String quoted(String value, int limit) {
        StringBuilder out = new StringBuilder("\"");
        int shown = 0;
        for (int i = 0; i < value.length(); i++) {
            if (shown++ == limit) {
                out.append("…(").append(value.length()).append(" chars)");
                break;
            }
            char c = value.charAt(i);
            if (c == '"' || c == '\\') {
                out.append('\\').append(c);
            } else if (c >= 0x20 && c < 0x7f) {
                out.append(c);
            } else {
                out.append(String.format("\\u%04x", (int) c));
            }
        }
        return out.append('"').toString();
    }

    /** One segment of a field path or rule id: plain keys as they are, others quoted (never cut). */
    static String key(String key) {
        return PLAIN_KEY.matcher(key).matches() ? key : quoted(key, Integer.MAX_VALUE);
    }

    /** {@code tools."export_*".arguments.limit.max} from its segments (Strings and Integers). */
    static String path(List<?> segments) {
        StringBuilder out = new StringBuilder();
        for (Object segment : segments) {
            if (segment instanceof Integer index) {
                out.append('[').append(index).append(']');
            } else {
                if (out.length() > 0) out.append('.');
                out.append(key(segment.toString()));
            }
        }
        return out.toString();
    }

    static String list(Collection<String> values) {
        return values.stream().sorted().collect(Collectors.joining(", "));
    }

    static String plural(int count, String one, String many) {
        return count == 1 ? one : many;
    }
}
