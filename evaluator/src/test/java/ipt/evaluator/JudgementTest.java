package ipt.evaluator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ipt.checkpoints.Checkpoint;
import ipt.checkpoints.CheckpointStore;
import ipt.model.ByteTokenizer;
import ipt.model.GptConfig;
import ipt.model.Task;
import ipt.model.TrainConfig;
import ipt.model.Training;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The evaluator's decision on a candidate, on real checkpoints of a tiny model, without Kafka. */
class JudgementTest {
    private static final GptConfig TINY = new GptConfig(ByteTokenizer.VOCAB_SIZE, 16, 16, 1, 2);
    private static final Task.Text ENGLISH = new Task.Text(
            "heldout/en",
            List.of(
                    "Madam President, on behalf of the committee I would like to thank the rapporteur for her work.",
                    "The proposal before us today is a balanced compromise between the positions of the Council."));
    private static final PromotionGate GATE = new PromotionGate(GatePolicy.rules(GateRules.defaults(0.02), null));
    private static final PromotionGate.History ENGLISH_LEARNED =
            PromotionGate.History.of(Map.of("en", 1L), List.of("heldout/en"), Map.of());

    @TempDir
    Path root;

    private Checkpoint write(String name, float lr) throws Exception {
        try (Training model = Training.create(TINY, TrainConfig.defaults())) {
            model.trainStep(new int[2][17], lr);
            return Checkpoint.write(
                    root,
                    name,
                    new Checkpoint.Manifest(
                            Checkpoint.FORMAT_VERSION,
                            "main",
                            1,
                            null,
                            TINY,
                            model.model().architecture(),
                            model.step(),
                            34,
                            Map.of(),
                            5.0,
                            0L,
                            Map.of()),
                    model,
                    Map.of());
        }
    }

    private CheckpointAccess access(Checkpoint c, String sha256) {
        return CheckpointAccess.open(
                CheckpointStore.of(root.toString(), root.resolveSibling("cache"), Map.of()),
                c.dir().toString(),
                sha256);
    }

    @Test
    void aLineagesFirstReadableCheckpointIsScoredAndPromoted() throws Exception {
        Checkpoint c = write("v1", 1e-3f);
        Judgement.Result r = Judgement.judge(
                "main",
                access(c, c.sha256()),
                List.of(ENGLISH),
                null,
                GATE,
                "heldout/en",
                ENGLISH_LEARNED,
                () -> false);
        try (var model = r.model()) {
            assertTrue(r.verdict().promote(), r.verdict().reason());
            assertEquals("first-checkpoint", r.verdict().rule());
            assertNotNull(r.scores().get("heldout/en"));
            // loss, bits per byte and nats per character of the one task, none with a champion's value
            assertEquals(
                    List.of("loss", "bits_per_byte", "nats_per_char"),
                    r.measures().stream().map(m -> m.metric()).toList());
            r.measures().forEach(m -> assertNull(m.champion()));
        }
    }

    @Test
    void aCandidateWorseThanTheChampionBeyondTheBudgetIsRejected() throws Exception {
        Checkpoint c = write("v2", 1e-3f);
        TaskScores.Score far = new TaskScores.Score(Map.of(TaskScores.LOSS, 0.5), 2); // a champion far better
        Judgement.Result r = Judgement.judge(
                "main",
                access(c, c.sha256()),
                List.of(ENGLISH),
                task -> far,
                GATE,
                "heldout/en",
                ENGLISH_LEARNED,
                () -> false);
        try (var model = r.model()) {
            assertFalse(r.verdict().promote());
            assertEquals(
                    "regression:heldout/en/loss",
                    r.verdict().rule(),
                    r.verdict().reason());
            assertEquals(Double.valueOf(0.5), r.measures().get(0).champion());
        }
    }

    /** A stop asked before a task is scored abandons the decision: no verdict, so nothing can be committed. */
    @Test
    void aStopRequestAbandonsTheDecisionBeforeTheNextTask() throws Exception {
        Checkpoint c = write("v5", 1e-3f);
        int[] scored = {0};
        Judgement.ChampionScores champion = task -> {
            scored[0]++;
            return new TaskScores.Score(Map.of(TaskScores.LOSS, 0.5), 2);
        };
        InterruptedException stopped = assertThrows(
                InterruptedException.class,
                () -> Judgement.judge(
                        "main",
                        access(c, c.sha256()),
                        List.of(ENGLISH, ENGLISH),
                        champion,
                        GATE,
                        "heldout/en",
                        ENGLISH_LEARNED,
                        () -> scored[0] >= 1));
        assertEquals("stop requested: decision abandoned before task 2 of 2", stopped.getMessage());
        assertEquals(1, scored[0]);
    }

    @Test
    void unreadableOrNonFiniteCheckpointsAreRefusedForIntegrityWithoutScoring() throws Exception {
        Checkpoint fine = write("v3", 1e-3f);
        Judgement.Result wrongSha = Judgement.judge(
                "main", access(fine, "0".repeat(64)), List.of(ENGLISH), null, GATE, null, ENGLISH_LEARNED, () -> false);
        assertEquals("integrity", wrongSha.verdict().rule());
        assertNull(wrongSha.model());
        assertEquals(List.of(), wrongSha.measures());

        Checkpoint nan = write("v4", Float.NaN);
        Judgement.Result diverged = Judgement.judge(
                "main", access(nan, nan.sha256()), List.of(ENGLISH), null, GATE, null, ENGLISH_LEARNED, () -> false);
        try (var model = diverged.model()) {
            assertEquals("integrity", diverged.verdict().rule());
            assertTrue(
                    diverged.verdict().reason().startsWith("non-finite weights in "),
                    diverged.verdict().reason());
            assertEquals(Map.of(), diverged.scores());
        }
    }
}
