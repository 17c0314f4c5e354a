package dev.portcullis.policy;

import com.fasterxml.jackson.databind.JsonNode;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.regex.Pattern;

/**
 * The checks one rule puts on one argument of a {@code tools/call} or {@code prompts/get}
 * ({@code params.arguments}), addressed by a top-level name or a dotted path into nested objects
 * ({@code options.format}). All checks must hold. An absent argument fails unless the constraint
 * says {@code optional: true}: the upstream's default for an argument it did not get is unknown to
 * the gateway, so limits are enforced on what is sent and nothing else.
 *
 * <p>Violations name the argument and the limit, never the value sent (arguments may be secret:
 * POLICY-10).
 */
public final class ArgumentConstraint {
    /** Regex steps allowed per check, so an unlucky pattern cannot stall a request. */
    private static final int REGEX_BUDGET = 1_000_000;

    private final String path;
    private final List<String> segments;
    private final JsonNode equalTo;
    private final List<JsonNode> oneOf;
    private final BigDecimal min;
    private final BigDecimal max;
    private final Pattern pattern;
    private final Integer maxLength;
    private final boolean optional;

    ArgumentConstraint(String path, JsonNode equalTo, List<JsonNode> oneOf, BigDecimal min, BigDecimal max,
                       Pattern pattern, Integer maxLength, boolean optional) {
        this.path = path;
        this.segments = List.of(path.split("\\.", -1));
        this.equalTo = equalTo;
        this.oneOf = oneOf == null ? null : List.copyOf(oneOf);
        this.min = min;
        this.max = max;
        this.pattern = pattern;
        this.maxLength = maxLength;
        this.optional = optional;
    }

    /**
     * Issue 17: this condition as an approval's {@code when} uses it: an argument the call does not send
     * counts as matching (the upstream's default is unknown, so the call is held).
     */
    ArgumentConstraint absentMatches() {
        return new ArgumentConstraint(path, equalTo, oneOf, min, max, pattern, maxLength, true);
    }

    /** The argument's name or dotted path, as written in the policy. */
    public String path() {
        return path;
    }

    public Optional<JsonNode> equalTo() {
        return Optional.ofNullable(equalTo);
    }

    public List<JsonNode> oneOf() {
        return oneOf == null ? List.of() : oneOf;
    }

    public Optional<BigDecimal> min() {
        return Optional.ofNullable(min);
    }

    public Optional<BigDecimal> max() {
        return Optional.ofNullable(max);
    }

    public Optional<Pattern> pattern() {
        return Optional.ofNullable(pattern);
    }

    public OptionalInt maxLength() {
        return maxLength == null ? OptionalInt.empty() : OptionalInt.of(maxLength);
    }

    public boolean optional() {
        return optional;
    }

    /**
     * Why {@code arguments} breaks this constraint, or empty when it holds.
     *
     * @param arguments {@code params.arguments}; missing, null or not an object means no arguments
     */
    public Optional<String> violation(JsonNode arguments) {
        JsonNode value = at(arguments);
        String name = "argument " + path;
        if (value == null || value.isMissingNode()) {
            return optional ? Optional.empty() : Optional.of(name + " is missing (it has limits, so it must be sent)");
        }
        if (equalTo != null && !JsonValues.same(value, equalTo)) {
            return Optional.of(name + " is not the allowed value");
        }
        if (oneOf != null && oneOf.stream().noneMatch(allowed -> JsonValues.same(value, allowed))) {
            return Optional.of(name + " is not one of the allowed values");
        }
        if (min != null || max != null) {
            Optional<BigDecimal> number = JsonValues.decimal(value);
            if (number.isEmpty()) {
                return Optional.of(name + " is not a number");
            }
            if (min != null && number.get().compareTo(min) < 0) {
                return Optional.of(name + " is below min " + min.toPlainString());
            }
            if (max != null && number.get().compareTo(max) > 0) {
                return Optional.of(name + " is above max " + max.toPlainString());
            }
        }
        if (pattern != null || maxLength != null) {
            if (!value.isTextual()) {
                return Optional.of(name + " is not a string");
            }
            String text = value.textValue();
            if (maxLength != null && text.codePointCount(0, text.length()) > maxLength) {
                return Optional.of(name + " is longer than max-length " + maxLength);
            }
            if (pattern != null) {
                try {
                    if (!pattern.matcher(new BudgetedText(text, REGEX_BUDGET)).matches()) {
                        return Optional.of(name + " does not match pattern " + pattern.pattern());
                    }
                } catch (BudgetedText.Exhausted e) {
                    return Optional.of(name + " could not be checked against pattern " + pattern.pattern()
                            + " (too many steps)");
                }
            }
        }
        return Optional.empty();
    }

    /** The argument at this constraint's path, or null when absent (or an object on the way is not one). */
    private JsonNode at(JsonNode arguments) {
        JsonNode value = arguments;
        for (String segment : segments) {
            value = value != null && value.isObject() ? value.get(segment) : null;
        }
        return value;
    }

    /** e.g. {@code limit: max 1000}, {@code format: one-of ["csv", "json"]} */
    public String describe() {
        List<String> checks = new ArrayList<>();
        if (equalTo != null) checks.add("equals " + equalTo);
        if (oneOf != null) checks.add("one-of " + oneOf);
        if (min != null) checks.add("min " + min.toPlainString());
        if (max != null) checks.add("max " + max.toPlainString());
        if (pattern != null) checks.add("pattern " + pattern.pattern());
        if (maxLength != null) checks.add("max-length " + maxLength);
        if (optional) checks.add("optional");
        return path + ": " + String.join(", ", checks);
    }

    @Override
    public String toString() {
        return describe();
    }

    /** A string that stops a runaway regex after a fixed number of character reads. */
    private static final class BudgetedText implements CharSequence {
        static final class Exhausted extends RuntimeException {
            private static final long serialVersionUID = 1L;

            Exhausted() {
                super(null, null, false, false);
            }
        }

        private final String text;
        private final int[] budget;

        BudgetedText(String text, int budget) {
            this(text, new int[] {budget});
        }

        private BudgetedText(String text, int[] budget) {
            this.text = text;
            this.budget = budget;
        }

        @Override
        public char charAt(int index) {
            if (--budget[0] < 0) throw new Exhausted();
            return text.charAt(index);
        }

        @Override
        public int length() {
            return text.length();
        }

        @Override
        public CharSequence subSequence(int start, int end) {
            return new BudgetedText(text.substring(start, end), budget);
        }

        @Override
        public String toString() {
            return text;
        }
    }
}
