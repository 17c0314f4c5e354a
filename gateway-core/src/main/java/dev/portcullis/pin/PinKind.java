package dev.portcullis.pin;

import dev.portcullis.policy.ItemKind;
import java.util.List;
import java.util.Optional;

/**
 * The kinds of definition a route can pin (issue 17): each with its list method, the member of the list result that
 * holds the items, the field that names an item, and the fields that make up its definition (what is hashed and
 * shown to the reviewer). Fields outside the definition ({@code icons}, {@code _meta}, {@code execution} …) may
 * change without a drift.
 */
public enum PinKind {
    TOOLS("tools", "tool", ItemKind.TOOL, "tools/list", "tools", "name", "tools/call",
            List.of("name", "title", "description", "inputSchema", "outputSchema", "annotations")),
    PROMPTS("prompts", "prompt", ItemKind.PROMPT, "prompts/list", "prompts", "name", "prompts/get",
            List.of("name", "title", "description", "arguments")),
    RESOURCE_TEMPLATES("resource-templates", "resource template", ItemKind.RESOURCE_TEMPLATE, "resources/templates/list",
            "resourceTemplates", "uriTemplate", null,
            List.of("uriTemplate", "name", "title", "description", "mimeType", "annotations"));

    private final String text;
    private final String singular;
    private final ItemKind itemKind;
    private final String listMethod;
    private final String listField;
    private final String nameField;
    private final String callMethod;
    private final List<String> fields;

    PinKind(String text, String singular, ItemKind itemKind, String listMethod, String listField, String nameField,
            String callMethod, List<String> fields) {
        this.text = text;
        this.singular = singular;
        this.itemKind = itemKind;
        this.listMethod = listMethod;
        this.listField = listField;
        this.nameField = nameField;
        this.callMethod = callMethod;
        this.fields = fields;
    }

    /** {@code tools}, {@code prompts} or {@code resource-templates}: config, pins file, metric label. */
    public String text() {
        return text;
    }

    /** {@code tool}, {@code prompt}, {@code resource template}: messages. */
    public String singular() {
        return singular;
    }

    public ItemKind itemKind() {
        return itemKind;
    }

    public String listMethod() {
        return listMethod;
    }

    /** The member of a list result holding the items ({@code tools}, {@code prompts}, {@code resourceTemplates}). */
    public String listField() {
        return listField;
    }

    /** The field naming an item ({@code name}; {@code uriTemplate} for resource templates). */
    public String nameField() {
        return nameField;
    }

    /** The call that uses one item by name ({@code tools/call}, {@code prompts/get}); null for resource templates. */
    public String callMethod() {
        return callMethod;
    }

    /** The fields of an item that make up its pinned definition. */
    public List<String> fields() {
        return fields;
    }

    /** @throws IllegalArgumentException for anything but {@code tools}, {@code prompts}, {@code resource-templates} */
    public static PinKind of(String text) {
        for (PinKind kind : values()) {
            if (kind.text.equals(text)) {
                return kind;
            }
        }
        throw new IllegalArgumentException("unknown kind " + text + " (expected: tools, prompts or resource-templates)");
    }

    /** The pin kind of a list item kind; empty for resources (a resource is content, not a definition). */
    public static Optional<PinKind> of(ItemKind kind) {
        for (PinKind each : values()) {
            if (each.itemKind == kind) {
                return Optional.of(each);
            }
        }
        return Optional.empty();
    }

    /** The kind whose items {@code method} uses by name ({@code tools/call} → TOOLS), or empty. */
    public static Optional<PinKind> calledBy(String method) {
        for (PinKind each : values()) {
            if (each.callMethod != null && each.callMethod.equals(method)) {
                return Optional.of(each);
            }
        }
        return Optional.empty();
    }
}
