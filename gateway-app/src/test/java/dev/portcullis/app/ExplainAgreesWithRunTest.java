package dev.portcullis.app;

import static dev.portcullis.app.GatewayHarness.RESOURCE;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.portcullis.app.config.ConfigLoader;
import dev.portcullis.testing.TestIdp;
import dev.portcullis.testing.TestMcpServer;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 12 item 14: {@code explain} ignored the issuer's claim preset (a Keycloak token with
 * {@code realm_access.roles: [admin]} was DENY in explain and allowed by the gateway). For a table of
 * tokens and calls, the same config decides through the running gateway and through
 * {@code explain --config}; the outcomes must agree, case by case.
 */
class ExplainAgreesWithRunTest {
    /** The IdP and upstream of the gateway that explain is compared with (it starts from a config file). */
    @RegisterExtension
    static final GatewayExtension peers = GatewayExtension.builder().noGateway().build();
    private final TestIdp idp = peers.idp();
    private final TestMcpServer upstream = peers.upstream();

    private static final String POLICY = """
            default: deny
            tools:
              echo:          { roles: [admin] }
              whoami:        { scopes: [mcp:admin] }
              slow_progress: { agents: [trusted-agent] }
            """;

    @TempDir
    Path dir;

    private record Case(String name, Map<String, Object> claims, String tool, String expected) {}

    /** Keycloak-shaped claims: Keycloak's access tokens say typ: Bearer (the keycloak preset's access-token mark). */
    private static Map<String, Object> claims(Object... pairs) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("typ", "Bearer");
        for (int i = 0; i < pairs.length; i += 2) {
            out.put((String) pairs[i], pairs[i + 1]);
        }
        return out;
    }

    @Test
    void explainAndTheGatewayDecideAlikeUnderTheKeycloakPreset() throws Exception {
        List<Case> cases = List.of(
                new Case("keycloak realm role admin", claims("realm_access", Map.of("roles", List.of("admin"))), "echo", "ALLOW"),
                new Case("top-level roles claim is not keycloak's", claims("roles", List.of("admin")), "echo", "DENY"),
                new Case("no roles", claims(), "echo", "DENY"),
                new Case("realm role other", claims("realm_access", Map.of("roles", List.of("user"))), "echo", "DENY"),
                new Case("scope granted", claims("scope", "mcp:tools mcp:admin"), "whoami", "ALLOW"),
                new Case("scope missing", claims("scope", "mcp:tools"), "whoami", "STEP_UP"),
                new Case("agent from azp first", claims("azp", "trusted-agent", "client_id", "other"), "slow_progress", "ALLOW"),
                new Case("client_id is only the fallback", claims("azp", "other", "client_id", "trusted-agent"), "slow_progress", "DENY"),
                new Case("unknown tool", claims("realm_access", Map.of("roles", List.of("admin"))), "nope", "DENY"));
        Path policy = Files.writeString(dir.resolve("policy.yaml"), POLICY);
        ObjectMapper json = new ObjectMapper();
        Path config = Files.writeString(dir.resolve("gateway.yaml"), """
                listen: { host: 127.0.0.1, port: 0, allowed-hosts: [127.0.0.1], max-body-size: 64KiB }
                admin: { host: 127.0.0.1, port: 0 }
                issuers: [ { issuer: "%s", claims: keycloak, require-access-token-type: false, algorithms: [RS256] } ]
                routes:
                  - { name: files, path: /mcp, upstream: "%s", resource: "%s", policy: policy.yaml }
                """.formatted(idp.issuer(), upstream.url(), RESOURCE));
        List<String> disagreements = new ArrayList<>();
        try (GatewayHarness gw = GatewayHarness.wrap(Gateway.start(ConfigLoader.load(config)))) {
            gw.awaitReady();
            for (Case c : cases) {
                String token = idp.accessToken(RESOURCE, "mcp:tools", c.claims());
                upstream.clearRequests();
                HttpResponse<String> response = gw.send(gw.post(GatewayHarness.toolCall(1, c.tool()))
                        .header("Authorization", "Bearer " + token).build());
                boolean forwarded = upstream.requests().stream().anyMatch(r -> r.body().contains("\"tools/call\""));
                String gateway = forwarded ? "ALLOW" : response.statusCode() == 403 ? "STEP_UP"
                        : json.readTree(response.body()).has("error") ? "DENY" : "?" + response.statusCode();

                // explain gets the token's own claims, as an operator would paste a decoded token.
                String payload = new String(Base64.getUrlDecoder().decode(token.split("\\.")[1]));
                Path claimsFile = Files.writeString(dir.resolve("claims.json"), payload);
                Cli explained = Cli.run("explain", "--config", config.toString(), "--claims", claimsFile.toString(),
                        "--tool", c.tool(), "--arguments", "{\"text\":\"hi\"}");
                assertThat(explained.exit()).as(c.name() + ": " + explained.err()).isZero();
                String explain = explained.out().lines().filter(l -> l.startsWith("decision:"))
                        .map(l -> l.substring("decision:".length()).strip().split(" ")[0]).findFirst().orElse("?");
                if (!gateway.equals(c.expected()) || !explain.equals(c.expected())) {
                    disagreements.add(c.name() + ": expected " + c.expected() + ", gateway " + gateway + ", explain " + explain);
                }
            }
        }
        assertThat(disagreements).isEmpty();
    }

    @Test
    void explainSaysWhenTheTokenWouldNotReachThePolicy() throws Exception {
        Path policy = Files.writeString(dir.resolve("policy.yaml"), POLICY);
        Path config = Files.writeString(dir.resolve("gateway.yaml"), """
                issuers: [ { issuer: "https://idp.example.com/realms/acme", claims: keycloak } ]
                routes:
                  - { name: files, path: /mcp, upstream: "http://127.0.0.1:9/mcp", resource: "%s",
                      resource-aliases: [mcp-gateway], policy: %s }
                """.formatted(RESOURCE, policy));
        Path claims = Files.writeString(dir.resolve("claims.json"), """
                {"iss": "https://idp.example.com/realms/acme", "sub": "alice", "aud": "account",
                 "realm_access": {"roles": ["admin"]}}""");
        Cli result = Cli.run("explain", "--config", config.toString(), "--claims", claims.toString(), "--tool", "echo");
        assertThat(result.exit()).as(result.err()).isZero();
        assertThat(result.out()).contains("roles from realm_access.roles", "roles:           admin",
                "decision:        ALLOW", "aud [account] is not accepted by this route");
        Path foreign = Files.writeString(dir.resolve("foreign.json"), "{\"iss\": \"https://evil.example.com\", \"sub\": \"a\"}");
        Cli refused = Cli.run("explain", "--config", config.toString(), "--claims", foreign.toString(), "--tool", "echo");
        assertThat(refused.exit()).isEqualTo(1);
        assertThat(refused.err()).startsWith(foreign + ": iss \"https://evil.example.com\" is not configured");
    }

    /** Issue 15: explain finds a multi-tenant Entra issuer as run does (template filled, tid agreeing). */
    @Test
    void explainFindsAMultiTenantIssuerAsRunDoes() throws Exception {
        String tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47";
        Path policy = Files.writeString(dir.resolve("policy.yaml"), POLICY);
        Path config = Files.writeString(dir.resolve("gateway.yaml"), """
                issuers:
                  - { issuer: "https://login.microsoftonline.com/{tenantid}/v2.0", claims: entra, multi-tenant: true,
                      tenants: ["%s"], jwks-uri: "https://login.microsoftonline.com/common/discovery/v2.0/keys" }
                routes:
                  - { name: files, path: /mcp, upstream: "http://127.0.0.1:9/mcp", resource: "%s", policy: %s }
                """.formatted(tenant, RESOURCE, policy));
        Path claims = Files.writeString(dir.resolve("claims.json"), """
                {"iss": "https://login.microsoftonline.com/%s/v2.0", "tid": "%s", "sub": "alice", "aud": "%s",
                 "azp": "agent", "roles": ["admin"]}""".formatted(tenant, tenant, RESOURCE));
        Cli result = Cli.run("explain", "--config", config.toString(), "--claims", claims.toString(), "--tool", "echo");
        assertThat(result.exit()).as(result.err()).isZero();
        Path otherTid = Files.writeString(dir.resolve("other.json"), """
                {"iss": "https://login.microsoftonline.com/%s/v2.0", "tid": "9188040d-6c67-4c5b-b112-36a304b66dad",
                 "sub": "alice"}""".formatted(tenant));
        Cli refused = Cli.run("explain", "--config", config.toString(), "--claims", otherTid.toString(), "--tool", "echo");
        assertThat(refused.exit()).isEqualTo(1);
        assertThat(refused.err()).contains("is not configured");
    }
}
