package dev.portcullis.policy;

import static dev.portcullis.policy.Policies.caller;
import static dev.portcullis.policy.Policies.policy;
import static dev.portcullis.policy.Policies.tool;
import static org.assertj.core.api.Assertions.assertThat;

import dev.portcullis.policy.Decision.Outcome;
import java.time.Duration;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Test;

/** Argument checks on tools/call and prompts/get: each kind, paths, absence, wrong types. */
class ArgumentConstraintTest {

    private static final CompiledPolicy POLICY = policy("""
            tools:
              export:
                scopes: [export]
                arguments:
                  limit:          { min: 1, max: 1000 }
                  format:         { one-of: [csv, json] }
                  mode:           { equals: fast, optional: true }
                  options.region: { pattern: 'eu-[a-z]+-[0-9]', optional: true }
                  title:          { max-length: 5, optional: true }
                  dry_run:        { equals: true, optional: true }
                  ratio:          { max: 0.5, optional: true }
            prompts:
              draft:
                arguments:
                  tone: { one-of: [neutral, formal] }
            """);

    private static Decision export(String argumentsJson) {
        return POLICY.decide(caller("export"), tool("export", argumentsJson));
    }

    private static void assertAllowed(String argumentsJson) {
        assertThat(export(argumentsJson).outcome()).as(argumentsJson).isEqualTo(Outcome.ALLOW);
    }

    private static void assertDenied(String argumentsJson, String reason) {
        Decision decision = export(argumentsJson);
        assertThat(decision.outcome()).as(argumentsJson).isEqualTo(Outcome.DENY);
        assertThat(decision.hidden()).as("an argument denial leaves the tool visible (JSONRPC-08b)").isFalse();
        assertThat(decision.ruleId()).isEqualTo("tools.export");
        assertThat(decision.reason()).isEqualTo("tool \"export\": " + reason);
    }

    @Test
    void argumentsWithinEveryLimitAreAllowed() {
        assertAllowed("{\"limit\":1000,\"format\":\"csv\"}");
        assertAllowed("{\"limit\":1,\"format\":\"json\",\"mode\":\"fast\",\"options\":{\"region\":\"eu-west-1\"},"
                + "\"title\":\"abcde\",\"dry_run\":true,\"ratio\":0.5}");
    }

    @Test
    void maxAndMinBoundTheNumberInclusively() {
        assertDenied("{\"limit\":1001,\"format\":\"csv\"}", "argument limit is above max 1000");
        assertDenied("{\"limit\":0,\"format\":\"csv\"}", "argument limit is below min 1");
        assertDenied("{\"limit\":1000.0001,\"format\":\"csv\"}", "argument limit is above max 1000");
        assertDenied("{\"limit\":1e400,\"format\":\"csv\"}", "argument limit is not a number"); // infinite as a double
        assertDenied("{\"limit\":5,\"format\":\"csv\",\"ratio\":0.50001}", "argument ratio is above max 0.5");
    }

    @Test
    void aNumberLimitRefusesAStringThatLooksLikeANumber() {
        assertDenied("{\"limit\":\"5\",\"format\":\"csv\"}", "argument limit is not a number");
        assertDenied("{\"limit\":null,\"format\":\"csv\"}", "argument limit is not a number");
    }

    @Test
    void oneOfAcceptsOnlyTheListedValuesExactly() {
        assertDenied("{\"limit\":5,\"format\":\"xml\"}", "argument format is not one of the allowed values");
        assertDenied("{\"limit\":5,\"format\":\"CSV\"}", "argument format is not one of the allowed values");
        assertDenied("{\"limit\":5,\"format\":[\"csv\"]}", "argument format is not one of the allowed values");
    }

    @Test
    void equalsComparesTypeAndValue() {
        assertDenied("{\"limit\":5,\"format\":\"csv\",\"mode\":\"slow\"}", "argument mode is not the allowed value");
        assertDenied("{\"limit\":5,\"format\":\"csv\",\"dry_run\":\"true\"}", "argument dry_run is not the allowed value");
        assertAllowed("{\"limit\":5.0,\"format\":\"csv\"}");
    }

    @Test
    void patternMustMatchTheWholeValue() {
        assertDenied("{\"limit\":5,\"format\":\"csv\",\"options\":{\"region\":\"eu-west-1; DROP\"}}",
                "argument options.region does not match pattern eu-[a-z]+-[0-9]");
        assertDenied("{\"limit\":5,\"format\":\"csv\",\"options\":{\"region\":7}}",
                "argument options.region is not a string");
    }

    @Test
    void maxLengthCountsCharactersNotUtf16Units() {
        assertAllowed("{\"limit\":5,\"format\":\"csv\",\"title\":\"\uD83D\uDE00\uD83D\uDE00\uD83D\uDE00\uD83D\uDE00\uD83D\uDE00\"}");
        assertDenied("{\"limit\":5,\"format\":\"csv\",\"title\":\"abcdef\"}", "argument title is longer than max-length 5");
    }

    @Test
    void nestedPathReachesIntoObjectsAndAnythingElseOnTheWayIsAbsence() {
        assertAllowed("{\"limit\":5,\"format\":\"csv\",\"options\":{}}");
        assertAllowed("{\"limit\":5,\"format\":\"csv\",\"options\":\"eu-west-1\"}");
        assertDenied("{\"limit\":5,\"format\":\"csv\",\"options\":{\"region\":\"us-east-1\"}}",
                "argument options.region does not match pattern eu-[a-z]+-[0-9]");
    }

    @Test
    void aMissingArgumentWithLimitsIsDeniedUnlessOptional() {
        assertDenied("{\"format\":\"csv\"}", "argument limit is missing (it has limits, so it must be sent)");
        assertDenied("{}", "argument limit is missing (it has limits, so it must be sent)");
        Decision noArguments = POLICY.decide(caller("export"), tool("export"));
        assertThat(noArguments.outcome()).isEqualTo(Outcome.DENY);
        assertThat(noArguments.hidden()).isFalse();
    }

    @Test
    void argumentsThatAreNotAnObjectCountAsNone() {
        assertDenied("[1000]", "argument limit is missing (it has limits, so it must be sent)");
    }

    @Test
    void scopesAreCheckedBeforeArgumentsSoAStepUpComesFirst() {
        Decision decision = POLICY.decide(caller(""), tool("export", "{\"limit\":999999}"));
        assertThat(decision.outcome()).isEqualTo(Outcome.STEP_UP);
    }

    @Test
    void promptArgumentsAreCheckedToo() {
        assertThat(POLICY.decide(caller(""), Operation.promptGet("draft", Policies.json("{\"tone\":\"formal\"}"))).allowed())
                .isTrue();
        Decision decision = POLICY.decide(caller(""), Operation.promptGet("draft", Policies.json("{\"tone\":\"angry\"}")));
        assertThat(decision.outcome()).isEqualTo(Outcome.DENY);
        assertThat(decision.reason()).isEqualTo("prompt \"draft\": argument tone is not one of the allowed values");
    }

    @Test
    void aCatastrophicPatternIsCutOffAndDenies() {
        CompiledPolicy slow = policy("tools: { t: { arguments: { q: { pattern: '(a+)+b' } } } }");
        String hostile = "{\"q\":\"" + "a".repeat(5000) + "\"}";
        Decision decision = Assertions.assertTimeoutPreemptively(Duration.ofSeconds(5),
                () -> slow.decide(caller(""), tool("t", hostile)));
        assertThat(decision.outcome()).isEqualTo(Outcome.DENY);
        assertThat(decision.reason()).contains("could not be checked against pattern (a+)+b (too many steps)");
    }

    @Test
    void describeListsEveryCheckForExplain() {
        Rule rule = POLICY.rule("tools.export").orElseThrow();
        assertThat(rule.arguments()).extracting(ArgumentConstraint::describe).containsExactly(
                "limit: min 1, max 1000",
                "format: one-of [\"csv\", \"json\"]",
                "mode: equals \"fast\", optional",
                "options.region: pattern eu-[a-z]+-[0-9], optional",
                "title: max-length 5, optional",
                "dry_run: equals true, optional",
                "ratio: max 0.5, optional");
    }
}
