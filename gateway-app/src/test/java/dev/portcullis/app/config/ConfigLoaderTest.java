package dev.portcullis.app.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.portcullis.config.GatewayConfig;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ConfigLoaderTest {
    private static final String VALID = """
            listen:
              host: 127.0.0.1
              port: 8080
              max-body-size: 1MiB
            issuers:
              - issuer: https://idp.example.com
                algorithms: [RS256]
            routes:
              - name: todo
                path: /mcp
                upstream: http://127.0.0.1:3000/mcp
                resource: https://gw.example.com/mcp
                scopes: [mcp:tools]
            """;

    private static String error(String yaml) {
        return assertThatThrownBy(() -> ConfigLoader.parse(yaml, "gateway.yaml", null, Map.of("SECRET", "s3cr3t-value")::get))
                .isInstanceOf(ConfigLoader.InvalidConfigException.class)
                .actual().getMessage();
    }

    @Test
    void validConfigLoadsWithDefaults() {
        GatewayConfig config = ConfigLoader.parse(VALID, "gateway.yaml");
        assertThat(config.listen().port()).isEqualTo(8080);
        assertThat(config.listen().maxBodySize().bytes()).isEqualTo(1024 * 1024);
        assertThat(config.admin().host()).isEqualTo("127.0.0.1");
        assertThat(config.issuers().get(0).clockSkew()).isEqualTo(Duration.ofSeconds(30));
        assertThat(config.issuers().get(0).requireAccessTokenType()).isTrue();
        assertThat(config.routes().get(0).upstreamAuth().type()).isEqualTo("none");
    }

    @Test
    void exampleConfigInTheRepositoryIsValid() {
        GatewayConfig config = ConfigLoader.load(Path.of("..", "config", "gateway.yaml"));
        assertThat(config.routes()).hasSize(1);
        assertThat(config.listen().tls()).isNull();
        assertThat(config.issuers().get(0).preset()).isEqualTo(dev.portcullis.config.ClaimsPreset.KEYCLOAK);
    }

    @Test
    void badValueNamesFileLineFieldAndExpectation() {
        String message = error(VALID.replace("path: /mcp", "path: mcp"));
        assertThat(message).startsWith("gateway.yaml:10: routes[0].path: \"mcp\" (expected: starts with \"/\"");
    }

    /** POLICY-07: how a batch with refused elements is handled is per route; partial by default. */
    @Test
    void policy07BatchesIsPartialByDefaultAndNamesFileLineFieldWhenWrong() {
        assertThat(ConfigLoader.parse(VALID, "gateway.yaml").routes().get(0).partialBatches()).isTrue();
        assertThat(ConfigLoader.parse(VALID + "    batches: reject-whole\n", "gateway.yaml").routes().get(0).partialBatches())
                .isFalse();
        String message = error(VALID + "    batches: sometimes\n");
        assertThat(message).startsWith("gateway.yaml:14: routes[0].batches: \"sometimes\" (expected: partial");
    }

    /** Issue 15: tracing is off unless asked for, and a bad value names file, line and field. */
    @Test
    void tracingIsOffByDefaultAndItsValuesNameFileLineField() {
        assertThat(ConfigLoader.parse(VALID, "gateway.yaml").tracing().enabled()).isNull();
        assertThat(error(VALID + "tracing:\n  enabled: true\n  sampling-ratio: 1.5\n"))
                .startsWith("gateway.yaml:16: tracing.sampling-ratio: 1.5 (expected: a number from 0 to 1)");
        assertThat(error(VALID + "tracing:\n  endpoint: ftp://collector:4318\n"))
                .startsWith("gateway.yaml:15: tracing.endpoint: \"ftp://collector:4318\" (expected: an http(s) URL");
        assertThat(error(VALID + "tracing:\n  headers-file: /no/such/otlp-headers\n"))
                .startsWith("gateway.yaml:15: tracing.headers-file:");
        assertThat(error(VALID + "audit:\n  output: syslog\n"))
                .startsWith("gateway.yaml:15: audit.output: \"syslog\" (expected: stdout, stderr or file)");
    }

    @Test
    void unknownKeyIsAnError() {
        String message = error(VALID.replace("    scopes: [mcp:tools]", "    scopes: [mcp:tools]\n    upstrem: x"));
        assertThat(message).startsWith("gateway.yaml:14: routes[0].upstrem: unknown key (expected one of:")
                .contains("upstream");
    }

    @Test
    void wrongTypeIsAnError() {
        String message = error(VALID.replace("port: 8080", "port: eighty"));
        assertThat(message).startsWith("gateway.yaml:3: listen.port:").contains("expected");
    }

    @Test
    void badDurationAndSizeSayWhatWasExpected() {
        assertThat(error(VALID.replace("max-body-size: 1MiB", "max-body-size: lots")))
                .startsWith("gateway.yaml:4: listen.max-body-size: \"lots\" (expected: a size");
        assertThat(error(VALID.replace("    algorithms: [RS256]", "    algorithms: [RS256]\n    clock-skew: 5 minutes")))
                .startsWith("gateway.yaml:8: issuers[0].clock-skew: \"5 minutes\" (expected: a duration");
    }

    @Test
    void authn04SymmetricAndNoneAlgorithmsCannotBeConfigured() {
        assertThat(error(VALID.replace("[RS256]", "[HS256]")))
                .startsWith("gateway.yaml:7: issuers[0].algorithms: \"HS256\" (expected: one of");
        assertThat(error(VALID.replace("[RS256]", "[none]"))).contains("none and HS* are never accepted");
    }

    @Test
    void exchange10PassthroughIsNotAMode() {
        String yaml = VALID.replace("    scopes: [mcp:tools]", "    scopes: [mcp:tools]\n    upstream-auth: { type: passthrough }");
        assertThat(error(yaml)).startsWith("gateway.yaml:14: routes[0].upstream-auth.type: \"passthrough\"")
                .contains("there is no passthrough mode");
    }

    @Test
    void plainHttpResourceOnAPublicHostIsRefused() {
        assertThat(error(VALID.replace("resource: https://gw.example.com/mcp", "resource: http://gw.example.com/mcp")))
                .startsWith("gateway.yaml:12: routes[0].resource:").contains("https");
    }

    @Test
    void missingSectionsAndDuplicatesAreErrors() {
        assertThat(error("listen: { port: 1 }\n")).contains("issuers: is required");
        String twice = VALID + """
                  - name: todo
                    path: /other
                    upstream: http://127.0.0.1:3001/mcp
                    resource: https://gw.example.com/other
                """;
        assertThat(error(twice)).contains("routes[1].name: \"todo\" is used twice");
    }

    @Test
    void environmentVariablesAreExpandedAndValuesNeverPrinted() {
        String yaml = VALID.replace("path: /mcp", "path: ${SECRET}");
        String message = error(yaml);
        assertThat(message).doesNotContain("s3cr3t-value").startsWith("gateway.yaml:10: routes[0].path: \"${SECRET}\"");
        assertThat(error(VALID.replace("name: todo", "name: ${UNSET_VARIABLE}")))
                .isEqualTo("gateway.yaml:9: routes[0].name: ${UNSET_VARIABLE} is not set (expected: an environment"
                        + " variable; write $${ for a literal ${)");
    }

    // ---- issue 12 item 11: ${NAME} is substituted into parsed scalar values, never into the YAML text ----

    private static GatewayConfig parseWith(String yaml, Map<String, String> env) {
        return ConfigLoader.parse(yaml, "gateway.yaml", null, env::get);
    }

    @Test
    void envValueWithANewlineCannotInjectAKey() {
        // Spliced into the text, this value added "allow-insecure-upstream: true" to the route.
        String yaml = VALID.replace("upstream: http://127.0.0.1:3000/mcp", "upstream: http://upstream.example.com/mcp")
                .replace("    scopes: [mcp:tools]", "    scopes: [mcp:tools]\n    resource-name: ${NAME}");
        Map<String, String> env = Map.of("NAME", "Files\n    allow-insecure-upstream: true");
        assertThatThrownBy(() -> parseWith(yaml, env)).hasMessageContaining("routes[0].upstream:")
                .hasMessageContaining("https");
        GatewayConfig ok = parseWith(VALID.replace("    scopes: [mcp:tools]", "    scopes: [mcp:tools]\n    resource-name: ${NAME}"), env);
        assertThat(ok.routes().get(0).resourceName()).isEqualTo("Files\n    allow-insecure-upstream: true");
        assertThat(ok.routes().get(0).allowInsecureUpstream()).isFalse();
    }

    @Test
    void envValueWithSpaceHashIsNotTruncatedAsAComment() {
        GatewayConfig config = parseWith(VALID.replace("    scopes: [mcp:tools]",
                "    scopes: [mcp:tools]\n    resource-name: ${NAME} # a comment"), Map.of("NAME", "Files #1"));
        assertThat(config.routes().get(0).resourceName()).isEqualTo("Files #1");
    }

    @Test
    void aOneLetterSecretNeitherGarblesMessagesNorRevealsItself() {
        // The old loader replaced every "e" in every message with ${SECRET}.
        String yaml = VALID.replace("path: /mcp", "path: mcp") + """
                    upstream-auth:
                      type: client-credentials
                      token-endpoint: https://idp.example.com/token
                      client-id: portcullis
                      client-secret: ${SECRET}
                """;
        String message = assertThatThrownBy(() -> parseWith(yaml, Map.of("SECRET", "e")))
                .isInstanceOf(ConfigLoader.InvalidConfigException.class).actual().getMessage();
        assertThat(message).isEqualTo("gateway.yaml:10: routes[0].path: \"mcp\" (expected: starts with \"/\", no trailing"
                + " \"/\", no query, not under /.well-known)");
        String own = assertThatThrownBy(() -> parseWith(VALID.replace("path: /mcp", "path: ${SECRET}"), Map.of("SECRET", "e")))
                .actual().getMessage();
        assertThat(own).startsWith("gateway.yaml:10: routes[0].path: ").contains("${SECRET}").doesNotContain("\"e\"");
        String longer = assertThatThrownBy(() -> parseWith(VALID.replace("path: /mcp", "path: ${SECRET}"),
                Map.of("SECRET", "no-slash-secret"))).actual().getMessage();
        assertThat(longer).isEqualTo("gateway.yaml:10: routes[0].path: \"${SECRET}\" (expected: starts with \"/\","
                + " no trailing \"/\", no query, not under /.well-known)");
    }

    @Test
    void dollarDollarBraceIsALiteralAndABrokenReferenceIsAnError() {
        GatewayConfig config = parseWith(VALID.replace("    scopes: [mcp:tools]",
                "    scopes: [mcp:tools]\n    resource-name: \"costs $${NOT_A_VAR} and ${A}${B}\""), Map.of("A", "1", "B", "2"));
        assertThat(config.routes().get(0).resourceName()).isEqualTo("costs ${NOT_A_VAR} and 12");
        assertThat(error(VALID.replace("name: todo", "name: ${1X}")))
                .startsWith("gateway.yaml:9: routes[0].name: \"${1X}\": \"${\" that is not a reference");
        assertThat(error(VALID.replace("name: todo", "name: ${A:-b}"))).contains("write $${ for a literal ${");
    }

    @Test
    void aWholeReferenceTakesItsPlainScalarTypeSoPortsAndFlagsWork() {
        GatewayConfig config = parseWith(VALID.replace("port: 8080", "port: ${PORT}"), Map.of("PORT", "9443"));
        assertThat(config.listen().port()).isEqualTo(9443);
        GatewayConfig named = parseWith(VALID.replace("name: todo", "name: ${N}"), Map.of("N", "42"));
        assertThat(named.routes().get(0).name()).isEqualTo("42");
        assertThat(parseWith(VALID.replace("    scopes: [mcp:tools]", "    scopes: [mcp:tools]\n    resource-name: ${N}"),
                Map.of("N", "true")).routes().get(0).resourceName()).isEqualTo("true");
        GatewayConfig flag = parseWith(VALID.replace("upstream: http://127.0.0.1:3000/mcp",
                "upstream: http://upstream.example.com/mcp\n    allow-insecure-upstream: ${DEV}"), Map.of("DEV", "true"));
        assertThat(flag.routes().get(0).allowInsecureUpstream()).isTrue();
    }

    @Test
    void everyUnsetVariableIsReportedAtOnceWithItsFieldAndLine() {
        ConfigLoader.InvalidConfigException e = (ConfigLoader.InvalidConfigException) assertThatThrownBy(() -> parseWith(
                VALID.replace("name: todo", "name: ${ONE}").replace("path: /mcp", "path: /${TWO}"), Map.of()))
                .actual();
        assertThat(e.problems()).containsExactly(
                "gateway.yaml:9: routes[0].name: ${ONE} is not set (expected: an environment variable; write $${ for a literal ${)",
                "gateway.yaml:10: routes[0].path: ${TWO} is not set (expected: an environment variable; write $${ for a literal ${)");
    }

    @Test
    void commentsAndKeysAreNeverSubstituted() {
        GatewayConfig config = parseWith("# ${UNSET_IN_A_COMMENT}\n" + VALID, Map.of());
        assertThat(config.routes()).hasSize(1);
        assertThat(error(VALID.replace("    scopes:", "    ${KEY}: x\n    scopes:"))).contains("routes[0].${KEY}: unknown key");
    }

    // ---- issue 12 item 12: a key written twice is an error, never "the last one wins" ----

    @Test
    void duplicateKeyInGatewayYamlIsAnErrorNamingBothLines() {
        String twice = VALID.replace("    upstream: http://127.0.0.1:3000/mcp",
                "    upstream: http://127.0.0.1:3000/mcp\n    upstream: http://evil.example.com/mcp");
        assertThat(error(twice)).isEqualTo("gateway.yaml:12: routes[0].upstream: written twice in one mapping"
                + " (first at line 11; expected: each key once)");
        ConfigLoader.InvalidConfigException e = (ConfigLoader.InvalidConfigException) assertThatThrownBy(() ->
                ConfigLoader.parse(VALID.replace("  port: 8080", "  port: 8080\n  port: 9090") + "routes: []\n", "gateway.yaml"))
                .actual();
        assertThat(e.problems()).containsExactly(
                "gateway.yaml:4: listen.port: written twice in one mapping (first at line 3; expected: each key once)",
                "gateway.yaml:15: routes: written twice in one mapping (first at line 9; expected: each key once)");
        assertThat(error(VALID.replace("    algorithms: [RS256]", "    algorithms: [RS256]\n    issuer: https://other.example.com")))
                .startsWith("gateway.yaml:8: issuers[0].issuer: written twice");
    }

    @Test
    void yamlAliasesAreRefusedNotReadAsTheirName() {
        String yaml = VALID.replace("  port: 8080", "  port: &p 8080").replace("    scopes: [mcp:tools]",
                "    scopes: [mcp:tools]\n    resource-name: *p");
        assertThat(error(yaml)).contains("routes[0].resource-name: YAML alias *p");
    }

    // ---- issue 12 item 15: every error in one run ----

    @Test
    void everyBrokenSectionIssuerAndRouteIsReportedInOneRun() {
        String yaml = VALID.replace("max-body-size: 1MiB", "max-body-size: lots")
                .replace("[RS256]", "[HS256]")
                .replace("path: /mcp", "path: mcp")
                + """
                  - name: second
                    path: /two
                    upstream: http://127.0.0.1:3000/mcp
                    resource: https://gw.example.com/two
                    upstrem: typo
                """;
        ConfigLoader.InvalidConfigException e = (ConfigLoader.InvalidConfigException) assertThatThrownBy(() ->
                ConfigLoader.parse(yaml, "gateway.yaml")).actual();
        assertThat(e.problems()).hasSize(4);
        assertThat(e.problems().get(0)).startsWith("gateway.yaml:4: listen.max-body-size:");
        assertThat(e.problems().get(1)).startsWith("gateway.yaml:7: issuers[0].algorithms:");
        assertThat(e.problems().get(2)).startsWith("gateway.yaml:10: routes[0].path:");
        assertThat(e.problems().get(3)).startsWith("gateway.yaml:18: routes[1].upstrem: unknown key");
    }

    @Test
    void unreadableFileIsNamed() {
        assertThatThrownBy(() -> ConfigLoader.load(Path.of("no-such-file.yaml")))
                .hasMessageStartingWith("no-such-file.yaml: cannot be read");
    }

    private static final String EXCHANGE = VALID + """
                upstream-auth:
                  type: token-exchange
                  token-endpoint: https://idp.example.com/token
                  client-id: portcullis
                  client-secret: ${SECRET}
                  audience: todo-server
                  scopes: [todo:read]
            """;

    @Test
    void upstreamAuthTokenExchangeLoadsWithDefaultsAndHidesTheSecret() {
        GatewayConfig config = ConfigLoader.parse(EXCHANGE, "gateway.yaml", null, Map.of("SECRET", "s3cr3t-value")::get);
        var auth = config.routes().get(0).upstreamAuth();
        assertThat(auth.parsedType()).isEqualTo(dev.portcullis.config.UpstreamAuthConfig.Type.TOKEN_EXCHANGE);
        assertThat(auth.clientSecret()).isEqualTo("s3cr3t-value");
        assertThat(auth.timeout()).isEqualTo(Duration.ofSeconds(5));
        assertThat(config.toString()).doesNotContain("s3cr3t-value");
    }

    @Test
    void upstreamAuthErrorsNameLineAndFieldAndNeverTheSecret() {
        assertThat(error(EXCHANGE.replace("https://idp.example.com/token", "http://idp.example.com/token")))
                .startsWith("gateway.yaml:16: routes[0].upstream-auth.token-endpoint: \"http://idp.example.com/token\" (expected: https (plain http only for loopback hosts: EXCHANGE-09)");
        assertThat(error(EXCHANGE.replace("client-secret: ${SECRET}", "client-secret-file: /no/such/secret")))
                .startsWith("gateway.yaml:18: routes[0].upstream-auth.client-secret-file: \"/no/such/secret\" (expected: a readable file");
        assertThat(error(EXCHANGE.replace("      client-id: portcullis\n", "")))
                .startsWith("gateway.yaml:").contains("routes[0].upstream-auth.client-id: is required");
        assertThat(error(EXCHANGE.replace("type: token-exchange", "type: token-exchange\n      client-auth: private_key_jwt")))
                .contains("routes[0].upstream-auth.client-secret: is set (expected: no client secret with client-auth private_key_jwt)");
        assertThat(error(EXCHANGE.replace("audience: todo-server", "audience: todo-server\n      acto-token: true")))
                .contains("routes[0].upstream-auth.acto-token: unknown key (expected one of:").contains("actor-token");
        assertThat(error(EXCHANGE.replace("client-secret: ${SECRET}", "client-secret: literal-secret-1\n      flavor: nope")))
                .contains("upstream-auth.flavor: \"nope\"").doesNotContain("literal-secret-1");
        assertThat(error(VALID.replace("    scopes: [mcp:tools]", "    scopes: [mcp:tools]\n    upstream-auth: { type: none, audience: x }")))
                .contains("routes[0].upstream-auth.audience: is set (expected: only with type token-exchange or client-credentials)");
    }
}
