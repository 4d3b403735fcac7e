package ipt.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ipt.model.ByteTokenizer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TaskAwareReplayTest {
    private static final String GERMAN =
            "Frau Präsidentin, im Namen des Ausschusses möchte ich der Berichterstatterin für ihre Arbeit danken. ";
    private static final String JAVA = "public static int hashCode(Object value) { return value == null ? 0 : 31; } ";

    @TempDir
    Path dir;

    private static List<ReplayStore.Entry> entries(String domain, String text, int count) {
        List<ReplayStore.Entry> out = new ArrayList<>();
        int[] all = ByteTokenizer.encode(text.repeat(count));
        for (int i = 0; i < count; i++) {
            int[] window = java.util.Arrays.copyOfRange(all, i * 7, i * 7 + 64);
            out.add(new ReplayStore.Entry(domain, 1, i, window));
        }
        return out;
    }

    @Test
    void sequencesLikeTheSuitesWeighMoreAndAreDrawnMoreWithoutReplacement() {
        List<ReplayStore.Entry> german = entries("de", GERMAN, 40);
        List<ReplayStore.Entry> java = entries("java", JAVA, 40);
        List<int[]> store = new ArrayList<>();
        german.forEach(e -> store.add(e.tokens()));
        java.forEach(e -> store.add(e.tokens()));
        TaskAwareReplay replay = TaskAwareReplay.fit(
                List.of(ByteTokenizer.encode("Der Ausschuss dankt der Kommission für ihre Antwort. ".repeat(5))),
                store);
        assertTrue(replay.logWeight(german.get(0).tokens())
                > replay.logWeight(java.get(0).tokens()));

        List<ReplayStore.Entry> pool = new ArrayList<>(german.subList(0, 20));
        pool.addAll(java.subList(0, 20));
        List<ReplayStore.Entry> chosen = replay.choose(pool, 10, new SplittableRandom(3));
        assertEquals(10, chosen.size());
        assertEquals(10, new HashSet<>(chosen).size(), "drawn without replacement");
        long fromGerman = chosen.stream().filter(e -> e.domain().equals("de")).count();
        assertTrue(fromGerman >= 9, fromGerman + " of 10 from the domain the suite is about");
        assertEquals(chosen, replay.choose(pool, 10, new SplittableRandom(3)), "the seed decides the draw");
    }

    @Test
    void suiteTextsAreReadAsTheEvaluatorReadsThem() throws Exception {
        Files.writeString(dir.resolve("notes.txt"), "plain text suite");
        Files.writeString(
                dir.resolve("cloze.jsonl"),
                "{\"context\": \"The cat sat on the\", \"choices\": [\" sky\", \" mat\"], \"answer\": 1}\n\n");
        Files.writeString(dir.resolve("documents.jsonl"), "{\"text\": \"a document\"}\n");
        Files.writeString(dir.resolve("..data"), "a ConfigMap's link, not a suite");
        assertEquals(
                List.of("The cat sat on the mat", "a document", "plain text suite"), TaskAwareReplay.suiteTexts(dir));
        Path empty = Files.createDirectories(dir.resolve("empty"));
        IllegalArgumentException e =
                assertThrows(IllegalArgumentException.class, () -> TaskAwareReplay.suiteTexts(empty));
        assertTrue(e.getMessage().contains("no suite text"), e.getMessage());
    }
}
