package dev.portcullis.policy;

import com.fasterxml.jackson.databind.node.MissingNode;
import java.util.Optional;

/** The kinds of item a list response carries, each with the method that uses one (POLICY-05). */
public enum ItemKind {
    TOOL("tool", "tools/list"),
    RESOURCE("resource", "resources/list"),
    RESOURCE_TEMPLATE("resource-template", "resources/templates/list"),
    PROMPT("prompt", "prompts/list");

    private final String text;
    private final String listMethod;

    ItemKind(String text, String listMethod) {
        this.text = text;
        this.listMethod = listMethod;
    }

    /** {@code tool}, {@code resource}, {@code resource-template} or {@code prompt}. */
    public String text() {
        return text;
    }

    /** The list method whose results hold items of this kind, e.g. {@code tools/list}. */
    public String listMethod() {
        return listMethod;
    }

    /** @throws IllegalArgumentException for anything but the four kind names */
    public static ItemKind of(String text) {
        for (ItemKind kind : values()) {
            if (kind.text.equals(text)) {
                return kind;
            }
        }
        throw new IllegalArgumentException("unknown item kind " + text
                + " (expected: tool, resource, resource-template or prompt)");
    }

    /** The kind listed by {@code method} ({@code tools/list} → TOOL …), or empty for other methods. */
    public static Optional<ItemKind> listedBy(String method) {
        for (ItemKind kind : values()) {
            if (kind.listMethod.equals(method)) {
                return Optional.of(kind);
            }
        }
        return Optional.empty();
    }

    /**
     * The call that uses an item of this kind, without arguments: {@code tools/call},
     * {@code resources/read} (for a template: the template text as the URI) or {@code prompts/get}.
     */
    Operation use(String name) {
        return switch (this) {
            case TOOL -> Operation.toolCall(name, MissingNode.getInstance());
            case RESOURCE, RESOURCE_TEMPLATE -> Operation.resourceRead(name);
            case PROMPT -> Operation.promptGet(name, MissingNode.getInstance());
        };
    }
}
