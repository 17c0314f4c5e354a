package dev.portcullis.policy;

import java.util.List;

/**
 * A policy file that cannot be used. Every problem found is listed, each ready to show to the
 * operator as {@code file:line: field: problem (expected: …)}; the message is all of them, one per line.
 */
public final class InvalidPolicyException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final List<String> problems;

    InvalidPolicyException(List<String> problems) {
        super(String.join("\n", problems), null, false, false);
        this.problems = List.copyOf(problems);
    }

    InvalidPolicyException(String problem) {
        this(List.of(problem));
    }

    /** One line per problem, in file order. */
    public List<String> problems() {
        return problems;
    }
}
