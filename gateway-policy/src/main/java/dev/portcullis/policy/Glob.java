package dev.portcullis.policy;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;

/**
 * A name or URI pattern from a policy file, matched exactly: case-sensitive, code point by code
 * point, no trimming, no Unicode normalisation (POLICY-03).
 *
 * <ul>
 *   <li>{@link #name}: tool, prompt and method names. {@code *} matches any run of characters
 *       (including none), {@code ?} exactly one character. Everything else is literal.</li>
 *   <li>{@link #uri}: resource URIs. {@code *} matches any run of characters except {@code /} (within
 *       one path segment), {@code **} any run at all. {@code ?} is literal (URIs have queries).</li>
 *   <li>{@link #uriTemplate}: an RFC 6570 template from {@code resources/templates/list}, read as the
 *       set of URIs it can produce: {@code {var}} is a run without {@code /}, any other expression
 *       ({@code {+path}}, {@code {/segments*}}, …) any run.</li>
 * </ul>
 *
 * <p>Matching simulates the pattern's automaton (time linear in the input times the pattern), so
 * no tool name a caller sends can make matching slow. Two patterns can be tested for overlap
 * (some string matches both), which load-time warnings and template visibility use.
 */
final class Glob {
    private static final byte LITERAL = 0;
    private static final byte ONE = 1;        // any one character
    private static final byte ANY = 2;        // any run (name "*", uri "**", template "{+x}")
    private static final byte SEGMENT = 3;    // any run without '/' (uri "*", template "{x}")

    private final String text;
    private final byte[] kinds;
    private final int[] chars;
    private final int literals;
    private final int anyRuns;

    private Glob(String text, List<Byte> kinds, List<Integer> chars) {
        this.text = text;
        this.kinds = new byte[kinds.size()];
        this.chars = new int[chars.size()];
        int literalCount = 0;
        int anyCount = 0;
        for (int i = 0; i < this.kinds.length; i++) {
            this.kinds[i] = kinds.get(i);
            this.chars[i] = chars.get(i);
            if (this.kinds[i] == LITERAL) literalCount++;
            if (this.kinds[i] == ANY) anyCount++;
        }
        this.literals = literalCount;
        this.anyRuns = anyCount;
    }

    /**
     * A tool, prompt or method name pattern.
     *
     * @throws IllegalArgumentException naming what was expected
     */
    static Glob name(String pattern) {
        if (pattern.isEmpty()) {
            throw new IllegalArgumentException("expected: a name or a glob with * and ?");
        }
        if (pattern.contains("**")) {
            throw new IllegalArgumentException("expected: * or ? in a name; ** is for resource URIs");
        }
        List<Byte> kinds = new ArrayList<>();
        List<Integer> chars = new ArrayList<>();
        pattern.codePoints().forEach(c -> add(kinds, chars, c == '*' ? ANY : c == '?' ? ONE : LITERAL, c));
        return new Glob(pattern, kinds, chars);
    }

    /**
     * A resource URI pattern.
     *
     * @throws IllegalArgumentException naming what was expected
     */
    static Glob uri(String pattern) {
        if (pattern.isEmpty()) {
            throw new IllegalArgumentException("expected: a URI or a URI glob with * and **");
        }
        if (pattern.contains("***")) {
            throw new IllegalArgumentException("expected: * within a path segment or ** across segments, not ***");
        }
        List<Byte> kinds = new ArrayList<>();
        List<Integer> chars = new ArrayList<>();
        int[] cps = pattern.codePoints().toArray();
        for (int i = 0; i < cps.length; i++) {
            if (cps[i] == '*' && i + 1 < cps.length && cps[i + 1] == '*') {
                add(kinds, chars, ANY, '*');
                i++;
            } else {
                add(kinds, chars, cps[i] == '*' ? SEGMENT : LITERAL, cps[i]);
            }
        }
        return new Glob(pattern, kinds, chars);
    }

    /** An RFC 6570 URI template as a pattern; a malformed expression is read literally. */
    static Glob uriTemplate(String template) {
        List<Byte> kinds = new ArrayList<>();
        List<Integer> chars = new ArrayList<>();
        int[] cps = template.codePoints().toArray();
        for (int i = 0; i < cps.length; i++) {
            int close = cps[i] == '{' ? indexOf(cps, '}', i + 1) : -1;
            if (close > i + 1) {
                boolean simple = Character.isLetterOrDigit(cps[i + 1]) || cps[i + 1] == '_' || cps[i + 1] == '%';
                add(kinds, chars, simple ? SEGMENT : ANY, '*');
                i = close;
            } else {
                add(kinds, chars, LITERAL, cps[i]);
            }
        }
        return new Glob(template, kinds, chars);
    }

    private static int indexOf(int[] cps, int c, int from) {
        for (int i = from; i < cps.length; i++) {
            if (cps[i] == c) return i;
        }
        return -1;
    }

    private static void add(List<Byte> kinds, List<Integer> chars, byte kind, int c) {
        // Consecutive runs are one run: a** == a*, and the automaton stays small.
        if (kind != LITERAL && kind != ONE && !kinds.isEmpty() && kinds.get(kinds.size() - 1) == kind) {
            return;
        }
        kinds.add(kind);
        chars.add(c);
    }

    /** The pattern as written. */
    String text() {
        return text;
    }

    /** True when the pattern has no wildcard: it matches exactly its own text. */
    boolean isExact() {
        return literals == kinds.length;
    }

    /** How many literal characters the pattern has: more is more specific. */
    int literalCount() {
        return literals;
    }

    /** How many {@code **} runs the pattern has: at equal literal count, fewer is more specific. */
    int anyRunCount() {
        return anyRuns;
    }

    /** The literal text before the first wildcard. */
    String literalPrefix() {
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < kinds.length && kinds[i] == LITERAL; i++) {
            out.appendCodePoint(chars[i]);
        }
        return out.toString();
    }

    boolean matches(String input) {
        int n = kinds.length;
        BitSet states = new BitSet(n + 1);
        states.set(0);
        close(states);
        int[] cps = input.codePoints().toArray();
        for (int c : cps) {
            BitSet next = new BitSet(n + 1);
            for (int i = states.nextSetBit(0); i >= 0 && i < n; i = states.nextSetBit(i + 1)) {
                if (accepts(i, c)) {
                    next.set(loops(i) ? i : i + 1);
                }
            }
            close(next);
            if (next.isEmpty()) {
                return false;
            }
            states = next;
        }
        return states.get(n);
    }

    /** Whether some string matches both this pattern and {@code other}. */
    boolean overlaps(Glob other) {
        int n = kinds.length;
        int m = other.kinds.length;
        boolean[] seen = new boolean[(n + 1) * (m + 1)];
        ArrayDeque<int[]> queue = new ArrayDeque<>();
        queue.add(new int[] {0, 0});
        while (!queue.isEmpty()) {
            int[] at = queue.poll();
            int i = at[0];
            int j = at[1];
            if (seen[i * (m + 1) + j]) continue;
            seen[i * (m + 1) + j] = true;
            if (i == n && j == m) return true;
            if (i < n && loops(i)) queue.add(new int[] {i + 1, j});
            if (j < m && other.loops(j)) queue.add(new int[] {i, j + 1});
            if (i < n && j < m && someCharBoth(i, other, j)) {
                queue.add(new int[] {loops(i) ? i : i + 1, other.loops(j) ? j : j + 1});
            }
        }
        return false;
    }

    private boolean someCharBoth(int i, Glob other, int j) {
        if (kinds[i] == LITERAL) return other.accepts(j, chars[i]);
        if (other.kinds[j] == LITERAL) return accepts(i, other.chars[j]);
        return true; // two wildcards: both accept e.g. 'a'
    }

    private boolean loops(int i) {
        return kinds[i] == ANY || kinds[i] == SEGMENT;
    }

    private boolean accepts(int i, int c) {
        return switch (kinds[i]) {
            case LITERAL -> chars[i] == c;
            case SEGMENT -> c != '/';
            default -> true;
        };
    }

    /** Adds the states reachable by letting runs match nothing. */
    private void close(BitSet states) {
        for (int i = 0; i < kinds.length; i++) {
            if (states.get(i) && loops(i)) states.set(i + 1);
        }
    }

    @Override
    public String toString() {
        return text;
    }
}
