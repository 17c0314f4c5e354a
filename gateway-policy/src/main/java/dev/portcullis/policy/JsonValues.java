package dev.portcullis.policy;

import com.fasterxml.jackson.databind.JsonNode;
import java.math.BigDecimal;
import java.util.Optional;

/** Comparing JSON scalars the way a policy author means them. */
final class JsonValues {
    private JsonValues() {}

    /**
     * Same type and value: strings exactly, booleans, and numbers by value ({@code 5} equals
     * {@code 5.0}). A string never equals a number ({@code "5"} is not {@code 5}).
     */
    static boolean same(JsonNode a, JsonNode b) {
        if (a.isNumber() && b.isNumber()) {
            Optional<BigDecimal> x = decimal(a);
            Optional<BigDecimal> y = decimal(b);
            return x.isPresent() && y.isPresent() && x.get().compareTo(y.get()) == 0;
        }
        if (a.isTextual() && b.isTextual()) return a.textValue().equals(b.textValue());
        if (a.isBoolean() && b.isBoolean()) return a.booleanValue() == b.booleanValue();
        return false;
    }

    /** The exact value of a finite JSON number; empty for anything else (strings included). */
    static Optional<BigDecimal> decimal(JsonNode node) {
        if (!node.isNumber()) return Optional.empty();
        if ((node.isDouble() || node.isFloat()) && !Double.isFinite(node.doubleValue())) return Optional.empty();
        return Optional.of(node.decimalValue());
    }

    static boolean isScalar(JsonNode node) {
        return node.isTextual() || node.isNumber() || node.isBoolean();
    }
}
