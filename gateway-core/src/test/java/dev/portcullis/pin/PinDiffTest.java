package dev.portcullis.pin;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Issue 17: what {@code check --against-upstream} and a re-pin report, item by item. */
class PinDiffTest {
    private static Pin pin(String json) {
        return Pin.of(PinKind.TOOLS, Definitions.of(PinKind.TOOLS, RoutePinsTest.item(json)));
    }

    private static Map<String, Pin> byName(Pin... pins) {
        Map<String, Pin> out = new LinkedHashMap<>();
        for (Pin pin : pins) {
            out.put(pin.name(), pin);
        }
        return out;
    }

    @Test
    void changedUnpinnedAndNoLongerListedItemsAreEachOneLine() {
        PinSet pinned = new PinSet("r", "u", Map.of(PinKind.TOOLS, byName(pin(RoutePinsTest.ECHO),
                pin("{\"name\":\"old\",\"description\":\"gone\"}"), pin("{\"name\":\"same\"}"))));
        Map<PinKind, Map<String, Pin>> live = Map.of(PinKind.TOOLS, byName(pin(RoutePinsTest.ECHO_DRIFTED),
                pin("{\"name\":\"same\"}"), pin("{\"name\":\"new tool\"}")));
        PinDiff diff = PinDiff.of(pinned, live, List.of(PinKind.TOOLS));
        assertThat(diff.changes()).extracting(PinDiff.Change::describe).containsExactly(
                "tools.echo: definition changed since it was pinned (description)",
                "tools.\"new tool\": listed by the upstream, not pinned",
                "tools.old: pinned, no longer listed by the upstream");
        assertThat(PinDiff.of(pinned, Map.of(PinKind.TOOLS, pinned.of(PinKind.TOOLS)), List.of(PinKind.TOOLS)).isEmpty())
                .isTrue();
        assertThat(PinDiff.of(pinned, live, List.of(PinKind.PROMPTS)).isEmpty()).as("only the kinds asked for").isTrue();
    }
}
