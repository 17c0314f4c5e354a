package dev.portcullis.config;

import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** A size in bytes, written in config as {@code 4096}, {@code 16KiB}, {@code 4MiB} or {@code 1GiB}. */
public record DataSize(long bytes) {
    private static final Pattern FORM = Pattern.compile("(\\d{1,12})\\s*(B|KiB|MiB|GiB)?");

    public static DataSize ofKibibytes(long n) {
        return new DataSize(n * 1024);
    }

    public static DataSize ofMebibytes(long n) {
        return new DataSize(n * 1024 * 1024);
    }

    /** Parses the config form; the message says what was expected. */
    public static DataSize parse(String text) {
        Matcher m = FORM.matcher(text.trim());
        if (!m.matches()) {
            throw new IllegalArgumentException('"' + text + "\" (expected: a size such as 4096, 16KiB, 4MiB)");
        }
        long n = Long.parseLong(m.group(1));
        String unit = m.group(2) == null ? "B" : m.group(2);
        long factor = switch (unit.toUpperCase(Locale.ROOT)) {
            case "KIB" -> 1024L;
            case "MIB" -> 1024L * 1024;
            case "GIB" -> 1024L * 1024 * 1024;
            default -> 1L;
        };
        return new DataSize(Math.multiplyExact(n, factor));
    }

    @Override
    public String toString() {
        return bytes % (1024 * 1024) == 0 ? bytes / (1024 * 1024) + "MiB"
                : bytes % 1024 == 0 ? bytes / 1024 + "KiB" : Long.toString(bytes);
    }
}
