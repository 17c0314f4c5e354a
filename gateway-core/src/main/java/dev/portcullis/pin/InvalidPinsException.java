package dev.portcullis.pin;

import java.util.List;

/** A pins file that cannot be used: every problem, one line each, as {@code file:line: field: problem (expected: …)}. */
public final class InvalidPinsException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final List<String> problems;

    public InvalidPinsException(List<String> problems) {
        super(String.join("\n", problems), null, false, false);
        this.problems = List.copyOf(problems);
    }

    public List<String> problems() {
        return problems;
    }
}
