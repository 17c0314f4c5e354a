package dev.portcullis.policy;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class ScopeHierarchyTest {
    private final ScopeHierarchy hierarchy = ScopeHierarchy.of(Map.of(
            "todo:admin", List.of("todo:write"),
            "todo:write", List.of("todo:read")));

    @Test
    void v2639BroaderScopeImpliesNarrowerOnesTransitively() {
        assertThat(hierarchy.effective(Set.of("todo:admin"))).containsExactly("todo:admin", "todo:read", "todo:write");
        assertThat(hierarchy.missing(Set.of("todo:read", "todo:write"), Set.of("todo:admin"))).isEmpty();
    }

    @Test
    void impliesPointsOneWayOnly() {
        assertThat(hierarchy.missing(Set.of("todo:admin"), Set.of("todo:write"))).containsExactly("todo:admin");
    }

    @Test
    void missingScopesAreSortedAndComparedCaseSensitively() {
        assertThat(hierarchy.missing(Set.of("b", "a", "todo:read"), Set.of("TODO:WRITE"))).containsExactly("a", "b", "todo:read");
    }

    @Test
    void cyclesAreHarmless() {
        ScopeHierarchy cycle = ScopeHierarchy.of(Map.of("a", List.of("b"), "b", List.of("a")));
        assertThat(cycle.effective(Set.of("a"))).containsExactly("a", "b");
    }
}
