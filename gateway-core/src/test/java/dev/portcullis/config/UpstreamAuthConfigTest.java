package dev.portcullis.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPairGenerator;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Validation of {@code upstream-auth}: every problem names its field and never shows a secret. */
class UpstreamAuthConfigTest {
    private static final String ENDPOINT = "https://idp.example.com/token";
    private static final String SECRET = "s3cr3t-Value-42";

    @TempDir
    Path dir;

    /** A builder-ish helper: token-exchange with client_secret_basic unless fields are overridden. */
    private static final class Fields {
        String type = "token-exchange";
        String flavor;
        String tokenEndpoint = ENDPOINT;
        String clientId = "portcullis";
        String clientAuth;
        String clientSecret = SECRET;
        Path clientSecretFile;
        Path privateKeyFile;
        String keyId;
        String algorithm;
        String audience = "todo";
        String resource;
        List<String> scopes = List.of("todo:read");
        Boolean actorToken;
        Duration timeout;
        Duration safetyMargin;
        Duration negativeCache;

        UpstreamAuthConfig build() {
            return new UpstreamAuthConfig(type, flavor, tokenEndpoint, clientId, clientAuth, clientSecret, clientSecretFile,
                    privateKeyFile, keyId, algorithm, audience, resource, scopes, actorToken, timeout, safetyMargin, negativeCache);
        }
    }

    private static ConfigException error(Fields fields) {
        ConfigException e = catchThrowableOfType(ConfigException.class, fields::build);
        assertThat(e).as("a config error").isNotNull();
        assertThat(e.getMessage()).doesNotContain(SECRET);
        return e;
    }

    @Test
    void tokenExchangeDefaults() {
        UpstreamAuthConfig config = new Fields().build();
        assertThat(config.parsedType()).isEqualTo(UpstreamAuthConfig.Type.TOKEN_EXCHANGE);
        assertThat(config.parsedFlavor()).isEqualTo(UpstreamAuthConfig.Flavor.RFC8693);
        assertThat(config.parsedClientAuth()).isEqualTo(UpstreamAuthConfig.ClientAuth.CLIENT_SECRET_BASIC);
        assertThat(config.timeout()).isEqualTo(Duration.ofSeconds(5));
        assertThat(config.safetyMargin()).isEqualTo(Duration.ofSeconds(30));
        assertThat(config.negativeCache()).isEqualTo(Duration.ofSeconds(5));
        assertThat(config.actorToken()).isFalse();
        assertThat(config.toString()).doesNotContain(SECRET).contains("clientSecret=<redacted>");
    }

    @Test
    void exchange10PassthroughAndUnknownModesAreRefused() {
        Fields f = new Fields();
        f.type = "passthrough";
        assertThat(error(f).field()).isEqualTo("type");
        assertThat(error(f).getMessage()).contains("there is no passthrough mode");
    }

    @Test
    void typeNoneTakesNoOtherKeys() {
        assertThat(UpstreamAuthConfig.none().parsedType()).isEqualTo(UpstreamAuthConfig.Type.NONE);
        Fields f = new Fields();
        f.type = "none";
        ConfigException e = error(f);
        assertThat(e.field()).isEqualTo("token-endpoint");
        assertThat(e.getMessage()).contains("only with type token-exchange or client-credentials");
    }

    @Test
    void tokenEndpointMustBeHttpsOutsideLoopback() {
        Fields f = new Fields();
        f.tokenEndpoint = "http://idp.example.com/token";
        assertThat(error(f).field()).isEqualTo("token-endpoint");
        f.tokenEndpoint = "http://127.0.0.1:8080/token";
        assertThat(f.build().tokenEndpoint()).isEqualTo("http://127.0.0.1:8080/token");
        // Without one, the token endpoint comes from the issuer's metadata; GatewayConfig checks that an issuer
        // can be named (IdpOnboardingConfigTest).
        f.tokenEndpoint = null;
        assertThat(f.build().discoversTokenEndpoint()).isTrue();
        assertThat(f.build().parsedClientAuth()).as("chosen from token_endpoint_auth_methods_supported").isNull();
    }

    @Test
    void requiredAndUnknownValuesNameTheirField() {
        Fields noClient = new Fields();
        noClient.clientId = null;
        assertThat(error(noClient).field()).isEqualTo("client-id");

        Fields badAuth = new Fields();
        badAuth.clientAuth = "tls_client_auth";
        assertThat(error(badAuth).field()).isEqualTo("client-auth");

        Fields badFlavor = new Fields();
        badFlavor.flavor = "okta";
        assertThat(error(badFlavor).getMessage()).contains("rfc8693, entra-obo or id-jag");

        Fields noTarget = new Fields();
        noTarget.audience = null;
        assertThat(error(noTarget).getMessage()).contains("audience and/or resource");

        Fields badScope = new Fields();
        badScope.scopes = List.of("two words");
        assertThat(error(badScope).field()).isEqualTo("scopes");

        Fields badResource = new Fields();
        badResource.resource = "todo.internal/mcp";
        assertThat(error(badResource).field()).isEqualTo("resource");

        Fields slow = new Fields();
        slow.timeout = Duration.ofMinutes(5);
        assertThat(error(slow).field()).isEqualTo("timeout");
    }

    @Test
    void secretsComeFromOneSourceAndFilesAreReadAtLoad() throws Exception {
        Fields none = new Fields();
        none.clientSecret = null;
        assertThat(error(none).field()).isEqualTo("client-secret");

        Path file = dir.resolve("secret");
        Files.writeString(file, SECRET + "\n");
        Fields fromFile = new Fields();
        fromFile.clientSecret = null;
        fromFile.clientSecretFile = file;
        assertThat(fromFile.build().clientSecret()).isEqualTo(SECRET);

        Fields both = new Fields();
        both.clientSecretFile = file;
        assertThat(error(both).field()).isEqualTo("client-secret-file");

        Fields missing = new Fields();
        missing.clientSecret = null;
        missing.clientSecretFile = dir.resolve("no-such-file");
        ConfigException e = error(missing);
        assertThat(e.field()).isEqualTo("client-secret-file");
        assertThat(e.getMessage()).contains("no-such-file").contains("readable file");
    }

    @Test
    void privateKeyJwtNeedsAUsableKeyAndNoSecret() throws Exception {
        var rsa = KeyPairGenerator.getInstance("RSA");
        rsa.initialize(2048);
        Path pem = dir.resolve("key.pem");
        Files.writeString(pem, "-----BEGIN PRIVATE KEY-----\n"
                + Base64.getMimeEncoder().encodeToString(rsa.generateKeyPair().getPrivate().getEncoded()) + "\n-----END PRIVATE KEY-----\n");

        Fields ok = new Fields();
        ok.clientAuth = "private_key_jwt";
        ok.clientSecret = null;
        ok.privateKeyFile = pem;
        assertThat(ok.build().parsedClientAuth()).isEqualTo(UpstreamAuthConfig.ClientAuth.PRIVATE_KEY_JWT);

        Fields withSecret = new Fields();
        withSecret.clientAuth = "private_key_jwt";
        withSecret.privateKeyFile = pem;
        assertThat(error(withSecret).field()).isEqualTo("client-secret");

        Fields noKey = new Fields();
        noKey.clientAuth = "private_key_jwt";
        noKey.clientSecret = null;
        assertThat(error(noKey).field()).isEqualTo("private-key-file");

        Fields ecAlgorithmOnRsa = new Fields();
        ecAlgorithmOnRsa.clientAuth = "private_key_jwt";
        ecAlgorithmOnRsa.clientSecret = null;
        ecAlgorithmOnRsa.privateKeyFile = pem;
        ecAlgorithmOnRsa.algorithm = "ES256";
        assertThat(error(ecAlgorithmOnRsa).getMessage()).contains("RSA algorithms").contains("RS256");

        Path pkcs1 = dir.resolve("pkcs1.pem");
        Files.writeString(pkcs1, "-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----\n");
        Fields wrongFormat = new Fields();
        wrongFormat.clientAuth = "private_key_jwt";
        wrongFormat.clientSecret = null;
        wrongFormat.privateKeyFile = pkcs1;
        assertThat(error(wrongFormat).getMessage()).contains("PKCS#8").contains("openssl pkcs8");

        Path garbage = dir.resolve("garbage.pem");
        Files.writeString(garbage, "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n");
        wrongFormat.privateKeyFile = garbage;
        assertThat(error(wrongFormat).field()).isEqualTo("private-key-file");

        Fields secretOptions = new Fields();
        secretOptions.keyId = "k1";
        assertThat(error(secretOptions).field()).isEqualTo("key-id");
    }

    @Test
    void entraOnBehalfOfNamesTheUpstreamInScopes() {
        Fields entra = new Fields();
        entra.flavor = "entra-obo";
        entra.audience = null;
        entra.scopes = List.of("api://todo/.default");
        assertThat(entra.build().parsedFlavor()).isEqualTo(UpstreamAuthConfig.Flavor.ENTRA_OBO);

        entra.audience = "todo";
        assertThat(error(entra).getMessage()).contains("flavor entra-obo");

        Fields noScopes = new Fields();
        noScopes.flavor = "entra-obo";
        noScopes.audience = null;
        noScopes.scopes = List.of();
        assertThat(error(noScopes).field()).isEqualTo("scopes");

        Fields actor = new Fields();
        actor.flavor = "entra-obo";
        actor.audience = null;
        actor.actorToken = true;
        assertThat(error(actor).field()).isEqualTo("actor-token");
    }

    @Test
    void clientCredentialsNeedsNoAudienceAndTakesNoActorOrFlavor() {
        Fields cc = new Fields();
        cc.type = "client-credentials";
        cc.audience = null;
        assertThat(cc.build().parsedType()).isEqualTo(UpstreamAuthConfig.Type.CLIENT_CREDENTIALS);
        cc.flavor = "rfc8693";
        assertThat(error(cc).field()).isEqualTo("flavor");
        cc.flavor = null;
        cc.actorToken = true;
        assertThat(error(cc).field()).isEqualTo("actor-token");
    }
}
