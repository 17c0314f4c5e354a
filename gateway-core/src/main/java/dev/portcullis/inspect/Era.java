package dev.portcullis.inspect;

import java.util.List;
import java.util.Set;

/**
 * Which MCP revision's rules a request follows, decided from its body (V26-1): a message whose
 * {@code params._meta} carries {@code io.modelcontextprotocol/protocolVersion} is modern
 * (2026-07-28: stateless, mirrored headers); everything else — {@code initialize}, in-session
 * traffic, batches, posted responses, GET and DELETE — is legacy (2024-11-05 … 2025-11-25).
 */
public enum Era {
    LEGACY, MODERN;

    /** The {@code _meta} key that makes a request modern. */
    public static final String VERSION_KEY = "io.modelcontextprotocol/protocolVersion";
    public static final String CAPABILITIES_KEY = "io.modelcontextprotocol/clientCapabilities";
    /** Modern revisions the gateway can parse and police. */
    public static final List<String> MODERN_VERSIONS = List.of("2026-07-28");
    /** Legacy revisions accepted in {@code MCP-Protocol-Version} (TRANSPORT-09). */
    public static final Set<String> LEGACY_VERSIONS = Set.of("2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05");
}
