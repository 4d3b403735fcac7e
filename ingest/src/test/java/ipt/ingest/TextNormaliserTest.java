package ipt.ingest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class TextNormaliserTest {
    @Test
    void composesToNfc() {
        assertEquals("\u00e9", TextNormaliser.normalise("e\u0301"));
        assertEquals("\uAC00", TextNormaliser.normalise("\u1100\u1161"), "Hangul jamo compose");
    }

    @Test
    void unifiesLineEndsAndDropsControlsButNewlineAndTab() {
        assertEquals("a\nb\nc\n\nd", TextNormaliser.normalise("a\r\nb\rc\n\r\nd"));
        assertEquals("a\tb", TextNormaliser.normalise("a\u0000\tb\u0007\u001b\u007f\u0085"));
    }

    @Test
    void stripsTrailingBlanksOfEveryLineButNotLeadingOnes() {
        assertEquals("  a\n\tb\nc", TextNormaliser.normalise("  a  \n\tb\t\u00a0\nc \u3000"));
    }

    @Test
    void dropsBlankLinesAroundTheTextButKeepsTheFirstLinesIndentation() {
        assertEquals("  a\nb", TextNormaliser.normalise("\n \r\n  a\nb\n\n \t\n"));
    }

    @Test
    void controlCharacterBetweenLetterAndMarkNoLongerSeparatesThem() {
        assertEquals("\u00e9", TextNormaliser.normalise("e\u0000\u0301"));
    }

    @Test
    void isIdempotent() {
        for (String s : List.of("e\u0301 \r\n x\u0000y \t", "plain", "", "\r\r\n", "日本語 \u3000\n", "a\u0301\u0327")) {
            String once = TextNormaliser.normalise(s);
            assertEquals(once, TextNormaliser.normalise(once), s);
        }
    }

    @Test
    void emptyMeansWhiteSpaceOnly() {
        assertTrue(TextNormaliser.isEmpty(""));
        assertTrue(TextNormaliser.isEmpty(" \n\t\u00a0\u2003"));
        assertFalse(TextNormaliser.isEmpty(" . "));
    }

    @Test
    void zeroWidthCharactersAloneAreEmptyText() {
        assertTrue(TextNormaliser.isEmpty("\u200b\u200c\u200d \u2060\ufeff\u00ad\n\u200b"));
        assertFalse(TextNormaliser.isEmpty("\u200b a \u200b"));
        assertFalse(TextNormaliser.isEmpty("\ud83d\udc69\u200d\ud83d\udcbb"), "an emoji joined by a ZWJ is visible");
    }
}
