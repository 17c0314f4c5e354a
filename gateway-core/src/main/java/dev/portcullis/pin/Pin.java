package dev.portcullis.pin;

import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * One reviewed definition (issue 17).
 *
 * @param name       the item's name ({@code uriTemplate} for a resource template)
 * @param sha256     SHA-256 (hex) of the definition's canonical JSON ({@link Definitions#sha256})
 * @param definition the definition the reviewer approved
 */
public record Pin(String name, String sha256, ObjectNode definition) {
    /** The pin of {@code definition} as it stands. */
    public static Pin of(PinKind kind, ObjectNode definition) {
        return new Pin(definition.path(kind.nameField()).asText(), Definitions.sha256(definition), definition);
    }
}
