package dev.portcullis.app;

import static dev.portcullis.app.GatewayHarness.RESOURCE;
import static org.assertj.core.api.Assertions.assertThat;

import dev.portcullis.testing.McpClients;
import dev.portcullis.testing.TestIdp;
import dev.portcullis.testing.TestMcpServer;
import io.modelcontextprotocol.client.McpSyncClient;
import io.modelcontextprotocol.spec.McpSchema;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.Comparator;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.openqa.selenium.By;
import org.openqa.selenium.Dimension;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.ExpectedConditions;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * Issue 17 in a real browser: Debian's headless Chromium (through Selenium and Debian's chromedriver, never a
 * downloaded one) opens the approval URL a Java SDK client was given, signs in at the IdP's interactive login
 * (OpenID Connect code + PKCE), reads the held call and approves it. The call then succeeds exactly once. The
 * screenshot of the page is {@code docs/approvals-page.png}.
 */
class ApprovalBrowserTest {
    static final String CHROMIUM = "/usr/lib/chromium/chromium";
    static final String CHROMEDRIVER = "/usr/bin/chromedriver";

    @RegisterExtension
    static final GatewayExtension peers = GatewayExtension.builder().idp(TestIdp::startInteractive)
            .policy(ApprovalFlowTest.POLICY).config(ext -> ApprovalFlowTest.config(ext, ApprovalBrowserTest.PAGE_PORT)).build();
    static final int PAGE_PORT = GatewayHarness.freePort();

    private final TestIdp idp = peers.idp();
    private final TestMcpServer upstream = peers.upstream();
    private final GatewayHarness gw = peers.gateway();

    private long upstreamEchoCalls() {
        return upstream.requests().stream().filter(r -> r.body().contains("\"tools/call\"") && r.body().contains("\"echo\"")).count();
    }

    /** The flags that work here (docs/../TEST-PEERS: root, no sandbox, a throw-away profile with its own TMPDIR). */
    static WebDriver chromium(Path profile) throws Exception {
        Path tmp = Files.createDirectories(profile.resolve("tmp"));
        ChromeOptions options = new ChromeOptions();
        options.setBinary(CHROMIUM);
        options.addArguments("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--remote-debugging-pipe",
                "--disable-background-networking", "--disable-component-update", "--disable-quic",
                "--user-data-dir=" + profile.resolve("profile"), "--window-size=1100,1400", "--lang=en-US");
        ChromeDriverService service = new ChromeDriverService.Builder().usingDriverExecutable(new File(CHROMEDRIVER))
                .usingAnyFreePort().withEnvironment(Map.of("TMPDIR", tmp.toString())).build();
        return new ChromeDriver(service, options);
    }

    @Test
    void anApproverSignsInApprovesInTheBrowserAndTheHeldCallSucceedsOnce() throws Exception {
        assertThat(Path.of(CHROMIUM)).as("Debian's chromium (.ci/run installs it)").exists();
        assertThat(Path.of(CHROMEDRIVER)).as("Debian's chromium-driver (.ci/run installs it)").exists();
        Path profile = Files.createTempDirectory("portcullis-chromium");
        try (McpSyncClient client = McpClients.streamable(gw.baseUrl(), "/mcp", idp.accessToken(RESOURCE, "mcp:tools"))) {
            client.initialize();
            String url = ApprovalFlowTest.approvalUrl(ApprovalFlowTest.held(client, "echo",
                    Map.of("text", "pay 4200 EUR to ACME Corp <invoice #77>")));
            assertThat(upstreamEchoCalls()).isZero();

            WebDriver browser = chromium(profile);
            try {
                browser.manage().window().setSize(new Dimension(1100, 1400));
                WebDriverWait wait = new WebDriverWait(browser, Duration.ofSeconds(20));
                browser.get(url);
                // The IdP's sign-in form (mock-oauth2-server interactive login).
                wait.until(ExpectedConditions.presenceOfElementLocated(By.name("username")));
                browser.findElement(By.name("username")).sendKeys("bob");
                browser.findElement(By.name("claims")).sendKeys(
                        "{\"roles\": [\"approver\"], \"preferred_username\": \"bob.lee\", \"name\": \"Bob Lee\"}");
                browser.findElement(By.cssSelector("input[type=submit]")).click();
                // Back on the approval page, signed in.
                wait.until(ExpectedConditions.presenceOfElementLocated(By.name("comment")));
                assertThat(browser.getTitle()).isEqualTo("Approve echo? · Portcullis");
                String text = browser.findElement(By.tagName("main")).getText();
                assertThat(text).contains("pay 4200 EUR to ACME Corp <invoice #77>").contains(TestIdp.SUBJECT)
                        .contains(TestIdp.CLIENT_ID).contains("tools.echo").contains("Waiting for approval");
                assertThat(browser.findElement(By.className("who")).getText()).isEqualTo("Signed in as bob.lee");
                browser.findElement(By.name("comment")).sendKeys("Invoice 77 checked against the PO.");
                screenshot(browser);
                browser.findElement(By.cssSelector("button.approve")).click();
                wait.until(ExpectedConditions.presenceOfElementLocated(By.className("notice-ok")));
                assertThat(browser.findElement(By.className("notice-ok")).getText()).startsWith("Approved.");
                assertThat(browser.findElement(By.tagName("main")).getText()).contains("Invoice 77 checked against the PO.")
                        .contains("Approved by bob.lee");
            } finally {
                browser.quit();
            }

            McpSchema.CallToolResult result = client.callTool(new McpSchema.CallToolRequest("echo",
                    Map.of("text", "pay 4200 EUR to ACME Corp <invoice #77>")));
            assertThat(McpClients.text(result)).contains("pay 4200 EUR to ACME Corp");
            assertThat(upstreamEchoCalls()).isEqualTo(1);
            ApprovalFlowTest.held(client, "echo", Map.of("text", "pay 4200 EUR to ACME Corp <invoice #77>"));
            assertThat(upstreamEchoCalls()).as("the approval was used once").isEqualTo(1);
        } finally {
            try (Stream<Path> files = Files.walk(profile)) {
                files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    /**
     * The page as approvers see it: always {@code target/interop/approvals-page.png}; with
     * {@code -Dportcullis.screenshots=true} also {@code docs/approvals-page.png} (for docs/approvals.md), so an
     * ordinary build does not rewrite a tracked file.
     */
    private static void screenshot(WebDriver browser) throws Exception {
        File shot = ((TakesScreenshot) browser).getScreenshotAs(OutputType.FILE);
        assertThat(shot.length()).isGreaterThan(10_000);
        Path out = Files.createDirectories(Path.of("target", "interop"));
        Files.copy(shot.toPath(), out.resolve("approvals-page.png"), StandardCopyOption.REPLACE_EXISTING);
        Path docs = Path.of("..", "docs");
        if (Boolean.getBoolean("portcullis.screenshots") && Files.isDirectory(docs)) {
            Files.copy(shot.toPath(), docs.resolve("approvals-page.png"), StandardCopyOption.REPLACE_EXISTING);
        }
    }
}
