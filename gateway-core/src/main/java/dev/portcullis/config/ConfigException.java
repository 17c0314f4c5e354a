package dev.portcullis.config;

/**
 * A configuration value that is wrong. Thrown by the validating constructors of the config
 * records with the field (relative to the record) and what was expected; the loader adds the
 * file, the line and the full path, e.g. {@code gateway.yaml:14: routes[0].path: "mcp"
 * (expected: starts with "/")}.
 */
public final class ConfigException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final String field;

    public ConfigException(String field, String message) {
        super(message);
        this.field = field;
    }

    /** The field name within the record that failed, or empty when the record as a whole is wrong. */
    public String field() {
        return field;
    }

    static ConfigException expected(String field, Object actual, String expectation) {
        String shown = actual instanceof String s ? '"' + s + '"' : String.valueOf(actual);
        return new ConfigException(field, shown + " (expected: " + expectation + ")");
    }
}
