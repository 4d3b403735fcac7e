package ipt.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.Labels;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import ipt.model.ByteTokenizer;
import ipt.model.GptConfig;
import ipt.model.TrainConfig;
import ipt.model.Training;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The divergence guard on real training steps of a tiny model, with NaN or a spike injected into one batch's loss. */
class TrainingRoundTest {
    private static final GptConfig TINY = new GptConfig(ByteTokenizer.VOCAB_SIZE, 32, 32, 1, 2);
    private static final String TEXT =
            "Madam President, on behalf of the committee I would like to thank the rapporteur for her work on"
                    + " this report. The proposal before us today is a balanced compromise between the "
                    + "positions of the Council and of this"
                    + " House, and I hope that we can adopt it with a large majority tomorrow. ";

    @TempDir
    Path dir;

    private final PrometheusRegistry registry = new PrometheusRegistry();
    private final TrainerMetrics metrics = new TrainerMetrics(registry);

    private TrainerConfig config() {
        return TrainerConfig.of("guard", dir, 0)
                .withModel(TINY, TrainConfig.defaults())
                .withRounds(12, 4, Duration.ofSeconds(1));
    }

    /** 12 steps of 4 new sequences each. */
    private List<Packer.Sequence> fresh(TrainerConfig c) {
        Packer packer = new Packer(c.sequenceLength(), ByteTokenizer.EOS);
        packer.add("en", ByteTokenizer.encode(TEXT.repeat(60)));
        return packer.take(48);
    }

    /** Injects {@code bad} as the loss of the step whose batch starts with {@code marked}, the first {@code times}
     * times it runs. */
    private static TrainingRound.Step injecting(int[] marked, float bad, int times) {
        int[] left = {times};
        return (model, batch, lr, microBatches) -> {
            Training.StepResult result = model.train(batch, lr, microBatches);
            if (left[0] > 0 && Arrays.equals(batch[0], marked)) {
                left[0]--;
                return new Training.StepResult(bad, result.rowLosses());
            }
            return result;
        };
    }

    private double guardEvents(String kind, String action) {
        for (MetricSnapshot s : registry.scrape()) {
            if (!s.getMetadata().getName().equals("ipt_trainer_guard_events")) continue;
            for (CounterSnapshot.CounterDataPointSnapshot p : ((CounterSnapshot) s).getDataPoints()) {
                if (p.getLabels().equals(Labels.of("action", action, "kind", kind, "lineage", "guard")))
                    return p.getValue();
            }
        }
        return 0;
    }

    /**
     * Replay fraction 0 (all of each batch new) draws nothing, not even to fill the round's last partial batch;
     * with a replay share, replayed rows fill every batch.
     */
    @Test
    void noReplayShareMeansNoReplayedRowEvenInTheLastPartialBatch() throws Exception {
        TrainerConfig c = config();
        List<Packer.Sequence> fresh = fresh(c).subList(0, 10);
        try (ReplayStore replay = ReplayStore.open(dir.resolve("replay"), 0, 1 << 20, 1)) {
            Packer old = new Packer(c.sequenceLength(), ByteTokenizer.EOS);
            old.add("de", ByteTokenizer.encode("Frau Präsidentin, im Namen des Ausschusses danke ich. ".repeat(40)));
            replay.add(1, old.take(8));
            assertEquals(List.of(4, 4, 2), batchSizes(c, fresh, 4, replay), "4 new rows a batch: no replay share");
            assertEquals(List.of(4, 4, 4, 4), batchSizes(c, fresh, 3, replay), "3 new rows a batch, 1 replayed");
        }
    }

    private List<Integer> batchSizes(TrainerConfig c, List<Packer.Sequence> fresh, int newPerBatch, ReplayStore replay)
            throws Exception {
        List<Integer> sizes = new ArrayList<>();
        TrainingRound.Step counting = (model, batch, lr, microBatches) -> {
            sizes.add(batch.length);
            return model.train(batch, lr, microBatches);
        };
        try (Training model = TrainingRound.runGuarded(
                        Training.create(c.model(), c.train()),
                        () -> Training.create(c.model(), c.train()),
                        c,
                        fresh,
                        newPerBatch,
                        replay,
                        TrainingRound.Draw.BY_POLICY,
                        counting,
                        metrics,
                        1,
                        () -> false)
                .model()) {
            return sizes;
        }
    }

    @Test
    void aNaNInOneBatchRestoresTheCheckpointDownWeightsTheBatchAndTheRoundCompletes() throws Exception {
        TrainerConfig c = config();
        List<Packer.Sequence> fresh = fresh(c);
        List<Long> restores = new ArrayList<>();
        try (ReplayStore replay = ReplayStore.open(dir.resolve("replay"), 0, 1 << 20, 1)) {
            TrainingRound.Restore restore = () -> {
                restores.add(1L);
                return Training.create(c.model(), c.train());
            };
            TrainingRound.Outcome outcome = TrainingRound.runGuarded(
                    Training.create(c.model(), c.train()),
                    restore,
                    c,
                    fresh,
                    4,
                    replay,
                    TrainingRound.Draw.BY_POLICY,
                    injecting(fresh.get(5 * 4).tokens(), Float.NaN, 1),
                    metrics,
                    5,
                    () -> false);
            try (Training model = outcome.model()) {
                assertFalse(outcome.result().diverged());
                assertEquals(
                        List.of("non-finite loss NaN at step 6 of 12: down-weight batch 6"), outcome.guardEvents());
                assertEquals(1, restores.size());
                assertEquals(12, model.step(), "the restored model trained the whole round again");
                assertTrue(Double.isFinite(outcome.result().trainLoss()));
                assertEquals(1.0, guardEvents("non-finite", "down-weight"));
            }
        }
    }

    @Test
    void aBatchThatDivergesTwiceIsSkippedAndOneThatAlwaysDivergesStopsTheRound() throws Exception {
        TrainerConfig c = config();
        List<Packer.Sequence> fresh = fresh(c);
        try (ReplayStore replay = ReplayStore.open(dir.resolve("replay"), 0, 1 << 20, 1)) {
            TrainingRound.Outcome outcome = TrainingRound.runGuarded(
                    Training.create(c.model(), c.train()),
                    () -> Training.create(c.model(), c.train()),
                    c,
                    fresh,
                    4,
                    replay,
                    TrainingRound.Draw.BY_POLICY,
                    injecting(fresh.get(2 * 4).tokens(), Float.POSITIVE_INFINITY, 2),
                    metrics,
                    5,
                    () -> false);
            try (Training model = outcome.model()) {
                assertEquals(
                        2, outcome.guardEvents().size(), outcome.guardEvents().toString());
                assertTrue(
                        outcome.guardEvents().get(1).endsWith("skip batch 3"),
                        outcome.guardEvents().toString());
                assertEquals(11, model.step(), "one batch skipped");
                assertEquals(1.0, guardEvents("non-finite", "skip"));
            }
            assertThrows(
                    IllegalStateException.class,
                    () -> TrainingRound.runGuarded(
                            Training.create(c.model(), c.train()),
                            () -> Training.create(c.model(), c.train()),
                            c,
                            fresh,
                            4,
                            replay,
                            TrainingRound.Draw.BY_POLICY,
                            (m, batch, lr, mb) -> new Training.StepResult(Float.NaN, new float[batch.length]),
                            metrics,
                            3,
                            () -> false));
        }
    }

    @Test
    void aLossSpikePastTheBoundCountsAsDivergence() throws Exception {
        TrainerConfig c = config();
        List<Packer.Sequence> fresh = fresh(c);
        try (ReplayStore replay = ReplayStore.open(dir.resolve("replay"), 0, 1 << 20, 1)) {
            TrainingRound.Outcome outcome = TrainingRound.runGuarded(
                    Training.create(c.model(), c.train()),
                    () -> Training.create(c.model(), c.train()),
                    c,
                    fresh,
                    4,
                    replay,
                    TrainingRound.Draw.BY_POLICY,
                    injecting(fresh.get(9 * 4).tokens(), 1000f, 1),
                    metrics,
                    5,
                    () -> false);
            try (Training model = outcome.model()) {
                assertTrue(
                        outcome.guardEvents().get(0).startsWith("loss spike 1000.000"),
                        outcome.guardEvents().toString());
                assertEquals(1.0, guardEvents("spike", "down-weight"));
                assertEquals(12, model.step());
            }
        }
    }

    /** A stop asked during step 3 ends the round before step 4: no further step runs, and the round does not return. */
    @Test
    void aStopRequestAbandonsTheRoundAtTheNextStepBoundary() throws Exception {
        TrainerConfig c = config();
        List<Packer.Sequence> fresh = fresh(c);
        int[] steps = {0};
        TrainingRound.Step counting = (model, batch, lr, microBatches) -> {
            steps[0]++;
            return model.train(batch, lr, microBatches);
        };
        try (ReplayStore replay = ReplayStore.open(dir.resolve("replay"), 0, 1 << 20, 1);
                Training model = Training.create(c.model(), c.train())) {
            InterruptedException stopped = assertThrows(
                    InterruptedException.class,
                    () -> TrainingRound.runGuarded(
                            model,
                            () -> Training.create(c.model(), c.train()),
                            c,
                            fresh,
                            4,
                            replay,
                            TrainingRound.Draw.BY_POLICY,
                            counting,
                            metrics,
                            5,
                            () -> steps[0] >= 3));
            assertEquals("stop requested: round abandoned before step 4 of 12", stopped.getMessage());
            assertEquals(3, steps[0]);
            assertEquals(3, model.step());
        }
    }
}
