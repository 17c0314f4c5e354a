package dev.portcullis.policy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Test;

class GlobTest {

    @Test
    void nameStarMatchesAnyRunIncludingNone() {
        Glob glob = Glob.name("export_*");
        assertThat(glob.matches("export_")).isTrue();
        assertThat(glob.matches("export_csv")).isTrue();
        assertThat(glob.matches("export_a/b c")).isTrue();
        assertThat(glob.matches("xexport_csv")).isFalse();
    }

    @Test
    void policy03NameMatchingIsExactCaseSensitiveUntrimmedUnnormalised() {
        Glob glob = Glob.name("delete_file");
        assertThat(glob.matches("delete_file")).isTrue();
        assertThat(glob.matches("Delete_File")).isFalse();
        assertThat(glob.matches("delete_file ")).isFalse();
        assertThat(glob.matches(" delete_file")).isFalse();
        // "é" precomposed vs e + combining acute: different names.
        assertThat(Glob.name("caf\u00e9").matches("cafe\u0301")).isFalse();
    }

    @Test
    void nameStarAlsoMatchesControlCharactersSoADenyAllCannotBeDodged() {
        assertThat(Glob.name("*").matches("drop\ntable")).isTrue();
        assertThat(Glob.name("a*z").matches("a\u0000\r\nz")).isTrue();
    }

    @Test
    void questionMarkMatchesExactlyOneCharacterCountingCodePoints() {
        Glob glob = Glob.name("delete_?");
        assertThat(glob.matches("delete_a")).isTrue();
        assertThat(glob.matches("delete_\uD83D\uDE00")).isTrue(); // one emoji, two UTF-16 units
        assertThat(glob.matches("delete_")).isFalse();
        assertThat(glob.matches("delete_ab")).isFalse();
    }

    @Test
    void uriStarStaysWithinOnePathSegment() {
        Glob glob = Glob.uri("file:///public/*");
        assertThat(glob.matches("file:///public/a.txt")).isTrue();
        assertThat(glob.matches("file:///public/")).isTrue();
        assertThat(glob.matches("file:///public/a/b.txt")).isFalse();
    }

    @Test
    void uriDoubleStarCrossesSegments() {
        Glob glob = Glob.uri("file:///public/**");
        assertThat(glob.matches("file:///public/a/b/c.txt")).isTrue();
        assertThat(glob.matches("file:///public/")).isTrue();
        assertThat(glob.matches("file:///private/a")).isFalse();
        assertThat(Glob.uri("**").matches("anything://at/all")).isTrue();
    }

    @Test
    void uriQuestionMarkIsLiteralBecauseUrisHaveQueries() {
        Glob glob = Glob.uri("https://api.example.com/search?q=*");
        assertThat(glob.matches("https://api.example.com/search?q=cats")).isTrue();
        assertThat(glob.matches("https://api.example.com/searchXq=cats")).isFalse();
        assertThat(Glob.uri("https://x/a?b").isExact()).isTrue();
    }

    @Test
    void invalidPatternsSayWhatWasExpected() {
        assertThatThrownBy(() -> Glob.name("")).hasMessageContaining("expected: a name");
        assertThatThrownBy(() -> Glob.name("export_**")).hasMessageContaining("** is for resource URIs");
        assertThatThrownBy(() -> Glob.uri("file:///***")).hasMessageContaining("not ***");
        assertThatThrownBy(() -> Glob.uri("")).hasMessageContaining("expected: a URI");
    }

    @Test
    void specificityCountsLiteralsAndDoubleStars() {
        assertThat(Glob.name("export_*").literalCount()).isEqualTo(7);
        assertThat(Glob.name("export_csv").isExact()).isTrue();
        assertThat(Glob.uri("file:///a/**").anyRunCount()).isEqualTo(1);
        assertThat(Glob.uri("file:///a/*").anyRunCount()).isZero();
    }

    @Test
    void overlapIsDecidedWithoutEnumeratingNames() {
        assertThat(Glob.name("export_*").overlaps(Glob.name("*_csv"))).isTrue();
        assertThat(Glob.name("a*").overlaps(Glob.name("b*"))).isFalse();
        assertThat(Glob.name("a?c").overlaps(Glob.name("*bc"))).isTrue();
        assertThat(Glob.uri("file:///a/*").overlaps(Glob.uri("file:///*/b"))).isTrue();
        assertThat(Glob.uri("file:///a/*").overlaps(Glob.uri("file:///a/b/c"))).isFalse();
        assertThat(Glob.uri("file:///a/**").overlaps(Glob.uri("file:///a/b/c"))).isTrue();
    }

    @Test
    void uriTemplateExpressionsStandForTheUrisTheyProduce() {
        Glob simple = Glob.uriTemplate("file:///public/{name}");
        assertThat(simple.overlaps(Glob.uri("file:///public/*"))).isTrue();
        assertThat(simple.overlaps(Glob.uri("file:///**"))).isTrue();
        assertThat(simple.overlaps(Glob.uri("file:///private/*"))).isFalse();
        assertThat(simple.overlaps(Glob.uri("file:///public/a/b"))).isFalse(); // {name} never holds "/"
        Glob reserved = Glob.uriTemplate("file:///public/{+path}");
        assertThat(reserved.overlaps(Glob.uri("file:///public/a/b"))).isTrue();
    }

    @Test
    void matchingTimeIsLinearSoAHostileNameCannotStallTheGateway() {
        String hostile = "a".repeat(200_000);
        Glob glob = Glob.name("*a*a*a*a*a*a*b");
        Assertions.assertTimeoutPreemptively(Duration.ofSeconds(2), () -> assertThat(glob.matches(hostile)).isFalse());
    }
}
