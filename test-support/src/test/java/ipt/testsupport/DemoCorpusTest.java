package ipt.testsupport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class DemoCorpusTest {
    @Test
    void tellsEuroparlLanguagesApart() {
        assertEquals(
                "en",
                DemoCorpus.languageOf("The Commission is of the opinion that this is not the right way to proceed."));
        assertEquals(
                "de",
                DemoCorpus.languageOf(
                        "Die Kommission ist der Ansicht, dass dies nicht der richtige Weg ist und wir das ablehnen."));
        assertNull(DemoCorpus.languageOf("12345 67890"));
    }

    @Test
    void readsRealTextFromTheResolvedArtifacts() {
        List<DemoCorpus.Text> english = DemoCorpus.europarl("en", 50_000);
        assertTrue(english.size() > 20);
        assertTrue(english.stream()
                .allMatch(t -> t.domain().equals("en") && t.text().length() >= 200));
        assertTrue(english.stream().mapToInt(t -> t.text().length()).sum() >= 50_000);

        List<DemoCorpus.Text> java = DemoCorpus.java(30_000);
        assertTrue(java.stream()
                .allMatch(t -> t.text().length() <= 3000 + 200 || !t.text().contains("\n")));
        assertTrue(java.stream().anyMatch(t -> t.text().contains("public ")), "real Java source");
        assertEquals(
                java.size(), java.stream().map(DemoCorpus.Text::id).distinct().count(), "ids are unique");
    }
}
