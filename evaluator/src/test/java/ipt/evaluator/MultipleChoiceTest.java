package ipt.evaluator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import ipt.model.ByteTokenizer;
import ipt.model.GptConfig;
import ipt.model.LanguageModel;
import ipt.model.Task;
import ipt.model.TrainConfig;
import ipt.model.Training;
import ipt.model.UserSuites;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A cloze suite from real text: the true continuation of a Europarl passage among three taken from other
 * passages. Written as a user suite file, loaded and scored as the evaluator does; a model trained on other
 * Europarl speeches picks the true one far more often than chance (1 in 4), an untrained one does not.
 */
class MultipleChoiceTest {
    private static final GptConfig MODEL = new GptConfig(ByteTokenizer.VOCAB_SIZE, 64, 64, 2, 4);

    @Test
    void aTrainedModelBeatsChanceOnAClozeSuiteFromRealText(@TempDir Path suites) throws Exception {
        List<String> speeches = Europarl.english(900);
        List<String> training = speeches.subList(0, 700);
        List<Task.Item> items = Europarl.cloze(speeches.subList(700, 900), 40, 16, 5);
        ObjectMapper json = new ObjectMapper();
        List<String> lines = new ArrayList<>();
        for (Task.Item item : items)
            lines.add(json.writeValueAsString(
                    Map.of("context", item.context(), "choices", item.choices(), "answer", item.answer())));
        Files.write(suites.resolve("cloze.jsonl"), lines, StandardCharsets.UTF_8);
        Task suite = UserSuites.load(suites).get(0);
        assertEquals("suite/cloze", suite.name());

        try (Training trainer = Training.create(MODEL, TrainConfig.defaults())) {
            LanguageModel model = trainer.model();
            double untrained = TaskScores.score(model, suite).metrics().get(TaskScores.ACC);
            byte[] text = String.join("\n", training).getBytes(StandardCharsets.UTF_8);
            SplittableRandom random = new SplittableRandom(3);
            for (int step = 0; step < 600; step++) {
                int[][] batch = new int[16][MODEL.contextLength() + 1];
                for (int[] row : batch) {
                    int at = random.nextInt(text.length - row.length);
                    for (int i = 0; i < row.length; i++) row[i] = text[at + i] & 0xff;
                }
                trainer.trainStep(batch, 3e-3f);
            }
            TaskScores.Score trained = TaskScores.score(model, suite);
            double acc = trained.metrics().get(TaskScores.ACC);
            double chanceBound = 0.25 + 3 * Math.sqrt(0.25 * 0.75 / items.size()); // chance plus 3 standard deviations
            System.out.printf(
                    "cloze suite, %d items of 4 choices: acc %.3f acc_norm %.3f trained, acc %.3f untrained "
                            + "(chance 0.25, bound %.3f)%n",
                    items.size(), acc, trained.metrics().get(TaskScores.ACC_NORM), untrained, chanceBound);
            assertEquals(items.size(), trained.count());
            assertTrue(acc > chanceBound, "trained acc " + acc + " beats chance (bound " + chanceBound + ")");
            assertTrue(untrained < chanceBound, "untrained acc " + untrained + " is at chance");
        }
    }
}
