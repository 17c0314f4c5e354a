package dev.portcullis.authn;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.benmanes.caffeine.cache.Ticker;
import dev.portcullis.Step;
import dev.portcullis.config.IssuerConfig;
import dev.portcullis.config.RouteConfig;
import dev.portcullis.failure.GatewayFailure;
import dev.portcullis.failure.Reason;
import dev.portcullis.http.OutboundHttp;
import dev.portcullis.listen.ClientCertificate;
import dev.portcullis.listen.RequestHead;
import dev.portcullis.policy.Policy;
import dev.portcullis.route.Route;
import dev.portcullis.route.RoutedRequest;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * RFC 8705 certificate-bound tokens and SPIFFE agent identities in the authenticate stage (issue 16): the token's
 * {@code cnf["x5t#S256"]} must be the connection's client certificate, on every request, cached token or not; an
 * X.509-SVID's SPIFFE ID becomes the agent.
 */
class CertificateBoundTokenTest {
    private static final String CERT = "A".repeat(42) + "Q";      // 43 base64url characters: a SHA-256 thumbprint
    private static final String OTHER_CERT = "B".repeat(42) + "Q";

    private LocalIssuer idp;
    private OutboundHttp http;
    private Authenticate authenticate;
    private Route route;

    @BeforeEach
    void start() throws Exception {
        idp = new LocalIssuer();
        http = new OutboundHttp(Duration.ofSeconds(10), Duration.ofSeconds(10));
        IssuerConfig issuer = new IssuerConfig(idp.issuer(), idp.jwksUri(), List.of("RS256", "ES256"), "generic", null, null,
                null, null, true, Duration.ofHours(1), Duration.ofSeconds(30), false, null, null, null, null);
        TokenVerifier verifier = new TokenVerifier(List.of(new JwksCache(issuer, http, new ObjectMapper(), Ticker.systemTicker())),
                Clock.systemUTC(), Ticker.systemTicker(), 1000);
        authenticate = new Authenticate(verifier);
        RouteConfig config = new RouteConfig("r", "/mcp", "http://127.0.0.1:1/mcp", LocalIssuer.RESOURCE, null, null, null,
                null, null, null, null, null, null, null, null, null, null, null, null);
        route = Route.compile(config, List.of(idp.issuer()), Policy.authenticatedOnly(), List.of(issuer));
    }

    @AfterEach
    void stop() {
        idp.close();
        http.close();
    }

    private RoutedRequest request(String token, ClientCertificate certificate) {
        var headers = new DefaultHttpHeaders().set("Host", "gw.example.com").set("Authorization", "Bearer " + token);
        RequestHead head = RequestHead.of(HttpMethod.POST, "/mcp", headers);
        return new RoutedRequest(certificate == null ? head : head.withClientCertificate(certificate), route, "rid");
    }

    private AuthenticatedRequest accepted(RoutedRequest request) throws Exception {
        Step<AuthenticatedRequest> step = authenticate.apply(request);
        return step.ready() ? step.value() : step.future().get(5, TimeUnit.SECONDS);
    }

    private GatewayFailure refused(RoutedRequest request) {
        return AuthenticateSteps.failure(() -> authenticate.apply(request));
    }

    @Test
    void aCertificateBoundTokenIsAcceptedOverItsOwnCertificateOnly() throws Exception {
        String token = idp.rs256(Map.of("cnf", Map.of("x5t#S256", CERT)));
        assertThat(accepted(request(token, new ClientCertificate(CERT, null, "CN=agent"))).principal().subject()).isNotEmpty();

        // The token is now cached: the binding is still checked on every request.
        GatewayFailure other = refused(request(token, new ClientCertificate(OTHER_CERT, null, "CN=other")));
        assertThat(other.reason()).isEqualTo(Reason.INVALID_TOKEN);
        assertThat(other.code()).isEqualTo("certificate_mismatch");

        GatewayFailure none = refused(request(token, null));
        assertThat(none.reason()).isEqualTo(Reason.INVALID_TOKEN);
        assertThat(none.code()).isEqualTo("certificate_missing");
    }

    @Test
    void aTokenBoundTwoWaysOrWithAMalformedThumbprintIsRefused() throws Exception {
        String both = idp.rs256(Map.of("cnf", Map.of("x5t#S256", CERT, "jkt", OTHER_CERT)));
        assertThat(refused(request(both, new ClientCertificate(CERT, null, "CN=agent"))).code()).isEqualTo("bound_token_as_bearer");
        String malformed = idp.rs256(Map.of("cnf", Map.of("x5t#S256", "not-a-thumbprint")));
        assertThat(refused(request(malformed, new ClientCertificate(CERT, null, "CN=agent"))).code()).isEqualTo("bound_token_as_bearer");
    }

    @Test
    void aDpopBoundTokenIsNoBearerTokenEvenWithACertificate() throws Exception {
        String dpopBound = idp.rs256(Map.of("cnf", Map.of("jkt", CERT)));
        GatewayFailure refused = refused(request(dpopBound, new ClientCertificate(CERT, null, "CN=agent")));
        assertThat(refused.reason()).isEqualTo(Reason.INVALID_TOKEN);
        assertThat(refused.code()).isEqualTo("bound_token_as_bearer");
    }

    @Test
    void anSvidsSpiffeIdIsTheAgent() throws Exception {
        String token = idp.valid();
        AuthenticatedRequest viaSvid = accepted(request(token,
                new ClientCertificate(CERT, "spiffe://prod.acme/ns/agents/planner", "CN=agent")));
        assertThat(viaSvid.principal().agent()).isEqualTo("spiffe://prod.acme/ns/agents/planner");
        assertThat(viaSvid.principal().asSubject().agent()).isEqualTo("spiffe://prod.acme/ns/agents/planner");

        // Same (cached) token, a certificate without a SPIFFE identity: the token's own client is the agent again.
        AuthenticatedRequest plain = accepted(request(token, new ClientCertificate(CERT, null, "CN=laptop")));
        assertThat(plain.principal().agent()).isNotEqualTo("spiffe://prod.acme/ns/agents/planner");
    }
}
