package dev.portcullis.policy;

/**
 * Something in a policy file that loads but is probably not what its author meant (a rule that can
 * never match, two rules that tie, a risky default). Printed as {@code file:line: field: message}.
 *
 * @param source  the file name
 * @param line    the line the warning is about
 * @param field   the field path, e.g. {@code tools."export_*"} (a rule's field path is its rule id)
 * @param message what is wrong and what happens because of it
 */
public record PolicyWarning(String source, int line, String field, String message) {
    @Override
    public String toString() {
        return source + ":" + line + ": " + field + ": " + message;
    }
}
