package ipt.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import ipt.checkpoints.Checkpoint;
import ipt.checkpoints.CheckpointStore;
import ipt.model.ByteTokenizer;
import ipt.model.GptConfig;
import ipt.model.LanguageModel;
import ipt.model.TrainConfig;
import ipt.runtime.DirectoryTree;
import ipt.schemas.Decision;
import ipt.schemas.EvaluationReport;
import ipt.schemas.TaskResult;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Recover, round, checkpoint on real training of a tiny model, without Kafka. */
class LineageTest {
    private static final GptConfig TINY = new GptConfig(ByteTokenizer.VOCAB_SIZE, 32, 32, 1, 2);
    private static final String TEXT =
            "Madam President, on behalf of the committee I would like to thank the rapporteur for "
                    + "her work on this report. The proposal before us today is a balanced compromise. ";

    @TempDir
    Path dir;

    private TrainerConfig config(String lineage) {
        return TrainerConfig.of(lineage, dir, 0.25)
                .withModel(TINY, TrainConfig.defaults())
                .withRounds(4, 4, Duration.ofSeconds(1));
    }

    private static CheckpointStore store(TrainerConfig c) {
        return CheckpointStore.of(c.checkpointStore(), c.checkpointRoot().getParent(), Map.of());
    }

    /** Adds documents until a full round is packed, trains it and commits it. */
    private static Lineage.Round round(Lineage lineage, int first) throws Exception {
        return round(lineage, first, Lineage.Reports.NONE);
    }

    private static Lineage.Round round(Lineage lineage, int first, Lineage.Reports reports) throws Exception {
        for (int i = first; lineage.fullSequences() < lineage.sequencesPerRound(); i++) {
            lineage.add("doc-" + i, "en", i + ": " + TEXT);
        }
        Lineage.Round round = lineage.round(lineage.sequencesPerRound(), reports, Map.of(), null);
        lineage.committed(round);
        return round;
    }

    @Test
    void aRecoveredLineageTrainsTheSameNextRoundAsOneThatNeverStopped() throws Exception {
        resumesBitForBit(c -> c);
    }

    @Test
    void replayLeaningTowardUserSuitesResumesBitForBitAndChangesWhatIsReplayed() throws Exception {
        Path suites = Files.createDirectories(dir.resolve("suites"));
        Files.writeString(suites.resolve("committee.txt"), "the committee and the rapporteur: 12345 67890 ".repeat(20));
        Lineage.Round leaning = resumesBitForBit(c -> c.with(new TrainerConfig.Replay(
                c.replay().fraction(), c.replay().capacityBytes(), c.replay().policy(), suites)));
        TrainerConfig plain = config("plain");
        try (Lineage lineage = Lineage.recover(plain, store(plain), null)) {
            round(lineage, 0);
            Lineage.Round second = round(lineage, 1000);
            assertNotEquals(
                    second.checkpoint().manifest().files().get("model.safetensors"),
                    leaning.checkpoint().manifest().files().get("model.safetensors"),
                    "the second round replays other rows when it leans toward the suites");
        }
    }

    /** Trains two rounds straight and with a crash and recovery in between; returns the resumed second round. */
    private Lineage.Round resumesBitForBit(UnaryOperator<TrainerConfig> settings) throws Exception {
        TrainerConfig straight = settings.apply(config("straight"));
        Lineage.Round second;
        try (Lineage lineage = Lineage.recover(straight, store(straight), null)) {
            assertNull(lineage.location());
            round(lineage, 0);
            second = round(lineage, 1000);
        }
        TrainerConfig resumed = settings.apply(config("resumed"));
        Lineage.Round again;
        String first;
        try (Lineage lineage = Lineage.recover(resumed, store(resumed), null)) {
            first = round(lineage, 0).location();
        }
        // A round written but never committed is an orphan: recovery removes it and trains it again.
        try (Lineage lineage = Lineage.recover(resumed, store(resumed), first)) {
            for (int i = 1000; lineage.fullSequences() < lineage.sequencesPerRound(); i++) {
                lineage.add("doc-" + i, "en", i + ": " + TEXT);
            }
            lineage.round(lineage.sequencesPerRound(), Lineage.Reports.NONE, Map.of(), null);
        }
        try (Lineage lineage = Lineage.recover(resumed, store(resumed), first)) {
            assertEquals(1, lineage.version());
            assertFalse(Files.exists(resumed.checkpointRoot().resolve("v000002")), "the uncommitted v2 is gone");
            again = round(lineage, 1000);
        }
        assertEquals(2, again.version());
        assertEquals(1L, again.parentVersion());
        // Weights, optimizer state, packer tail, lineage state and the documents trained on: every file alike.
        assertEquals(
                second.checkpoint().manifest().files(),
                again.checkpoint().manifest().files());
        Checkpoint written = Checkpoint.open(Path.of(again.location()));
        String documents = new String(written.file(Lineage.DOCUMENTS_FILE), StandardCharsets.UTF_8);
        assertEquals("doc-1000", documents.lines().findFirst().orElseThrow());
        return again;
    }

    /**
     * A Hugging Face directory (no ipt manifest) starts a lineage: its width, depth and heads are the model's (here
     * wider and deeper than IPT_D_MODEL and IPT_LAYERS say), trained over the lineage's context length, and the
     * lineage resumes bit for bit; a context length past the model's positions is refused with the reason.
     */
    @Test
    void aLineageStartsFromAHuggingFaceDirectoryWithTheModelsShapeAndResumesBitForBit() throws Exception {
        Path hf = dir.resolve("models/tiny-gpt2");
        GptConfig own = new GptConfig(ByteTokenizer.VOCAB_SIZE, 48, 48, 2, 4);
        try (LanguageModel model = LanguageModel.create(own, 11)) {
            model.writeHuggingFace(hf, 1L << 30);
        }
        Lineage.Round again = resumesBitForBit(c -> c.with(new TrainerConfig.Start(hf, null)));
        Checkpoint written = Checkpoint.open(Path.of(again.location()));
        assertEquals(LanguageModel.GPT2, written.manifest().architecture());
        assertEquals(
                new GptConfig(ByteTokenizer.VOCAB_SIZE, 32, 48, 2, 4),
                written.manifest().model());

        TrainerConfig tooLong = config("too-long")
                .withModel(new GptConfig(ByteTokenizer.VOCAB_SIZE, 64, 32, 1, 2), TrainConfig.defaults())
                .with(new TrainerConfig.Start(hf, null));
        IllegalStateException refused =
                assertThrows(IllegalStateException.class, () -> Lineage.recover(tooLong, store(tooLong), null));
        assertTrue(refused.getMessage().startsWith("IPT_CONTEXT_LENGTH=64: "), refused.getMessage());
        assertTrue(refused.getMessage().contains("1..48"), refused.getMessage());
    }

    @Test
    void aForkGoesOnFromItsParentsCheckpointWithItsOwnSettings() throws Exception {
        TrainerConfig parentConfig = config("parent");
        try (Lineage parent = Lineage.recover(parentConfig, store(parentConfig), null)) {
            assertThrows(IllegalStateException.class, () -> Lineage.fork(parent, config("early"), store(parentConfig)));
            round(parent, 0);
            TrainerConfig noReplay = TrainerConfig.of("fork", dir, 0)
                    .withModel(TINY, TrainConfig.defaults())
                    .withRounds(4, 4, Duration.ofSeconds(1));
            try (Lineage fork = Lineage.fork(parent, noReplay, store(noReplay))) {
                assertEquals(parent.step(), fork.step());
                assertEquals(parent.replaySequences(), fork.replaySequences(), "a copy of the parent's replay store");
                assertEquals(4 * 4, fork.sequencesPerRound(), "the fork's own replay fraction, 0: every row is new");
                Lineage.Round round = round(fork, 1000);
                assertEquals(2, round.version());
                assertEquals(noReplay.checkpointRoot().resolve("v000002").toString(), round.location());
            }
            assertEquals(4 * 3, parent.sequencesPerRound(), "the parent replays a quarter of each batch");
        }
    }

    /** Reports as the evaluator would have committed them: all in, none to wait for. */
    private record Committed(List<EvaluationReport> reports, Map<Long, String> promoted) implements Lineage.Reports {
        @Override
        public Lineage.Settled settle(long after, long through, Duration wait) {
            return new Lineage.Settled(
                    reports.stream()
                            .filter(r -> r.getCandidateVersion() > after && r.getCandidateVersion() <= through)
                            .toList(),
                    false);
        }

        @Override
        public String location(long version, Duration wait) {
            return promoted.get(version);
        }
    }

    private static EvaluationReport report(long version, Decision decision, double enLoss) {
        TaskResult loss = TaskResult.newBuilder()
                .setTask("heldout/en")
                .setMetric("loss")
                .setCandidate(enLoss)
                .setChampion(version == 1 ? null : 3.0)
                .setRelativeChange(null)
                .setBudget(0.02)
                .setSequences(4)
                .setPassed(true)
                .setHigherIsBetter(false)
                .build();
        return EvaluationReport.newBuilder()
                .setLineage("decide")
                .setCandidateVersion(version)
                .setChampionVersion(version == 1 ? null : 1L)
                .setCandidateStep(version)
                .setTasks(List.of(loss))
                .setDecision(decision)
                .setDecidingRule("test")
                .setReason("test")
                .setEvaluatedAt(Instant.EPOCH)
                .build();
    }

    @Test
    void afterEnoughSettledRejectionsARoundRestartsFromTheChampionWithMoreReplayOnce() throws Exception {
        // Resets after 3 rejections, raising replay by 0.1 (no gain); batches of 8 rows, so 25% and 35% replay differ
        // in rows.
        TrainerConfig base = config("decide").withRounds(4, 8, Duration.ofSeconds(1));
        TrainerConfig.Steering st = base.steering();
        TrainerConfig c = base.with(new TrainerConfig.Steering(
                st.floor(), 0, Duration.ZERO, TrainerConfig.Steering.Recovery.RESET, st.keep()));
        try (Lineage lineage = Lineage.recover(c, store(c), null)) {
            Lineage.Round v1 = round(lineage, 0);
            for (int v = 2; v <= 4; v++) round(lineage, 1000 * v);
            Lineage.Reports rejected = new Committed(
                    List.of(
                            report(1, Decision.PROMOTE, 3.0),
                            report(2, Decision.REJECT, 3.2),
                            report(3, Decision.REJECT, 3.3),
                            report(4, Decision.REJECT, 3.4)),
                    Map.of(1L, v1.location()));

            long before = lineage.step();
            Lineage.Round reset = round(lineage, 5000, rejected);
            assertEquals(before + reset.steps(), lineage.step(), "the step count goes on after a reset");
            LineageState state = LineageState.parse(reset.checkpoint().file(Lineage.STATE_FILE));
            assertEquals(1, state.resets());
            assertEquals(4, state.lastResetAfter());
            assertEquals(0.35, state.replayFraction(), 1e-9);
            assertEquals(4, state.evidence().evaluatedThrough(), "the reports it rests on");
            assertEquals(List.of(2L, 3L, 4L), state.evidence().rejectedSince());

            Lineage.Round next = round(lineage, 6000, rejected);
            LineageState after = LineageState.parse(next.checkpoint().file(Lineage.STATE_FILE));
            assertEquals(1, after.resets(), "rejections a reset answered do not reset again");
        }
        try (Lineage resumed = Lineage.recover(
                c, store(c), c.checkpointRoot().resolve("v000006").toString())) {
            assertEquals(4 * 5, resumed.sequencesPerRound(), "the raised replay (3 of 8 rows) survives a restart");
        }
    }

    /**
     * A lineage whose replay store is lost rebuilds it from its rounds' documents to the same entries; a history that
     * lacks a round leaves the store empty, counted, and the lineage trains on instead of failing.
     */
    @Test
    void aLostReplayStoreIsRebuiltFromTheRoundsOrLeftEmptyWhenTheirDocumentsAreGone() throws Exception {
        TrainerConfig c = config("lost");
        List<Lineage.CommittedRound> rounds = new ArrayList<>();
        String location;
        try (Lineage lineage = Lineage.recover(c, store(c), null)) {
            int next = 0;
            for (int r = 0; r < 3; r++) {
                List<Lineage.HistoricDocument> docs = new ArrayList<>();
                for (; lineage.fullSequences() < lineage.sequencesPerRound(); next++) {
                    String domain = next % 2 == 0 ? "en" : "de";
                    lineage.add("doc-" + next, domain, next + ": " + TEXT);
                    docs.add(new Lineage.HistoricDocument("doc-" + next, domain, next + ": " + TEXT));
                }
                Lineage.Round round = lineage.round(lineage.sequencesPerRound(), Lineage.Reports.NONE, Map.of(), null);
                lineage.committed(round);
                rounds.add(new Lineage.CommittedRound(
                        round.version(), round.checkpoint().manifest().tokensSeen(), docs));
            }
            location = lineage.location();
        }
        List<String> lost = describe(ReplayStore.snapshotEntries(c.replayDir(), 3));

        DirectoryTree.delete(c.replayDir());
        PrometheusRegistry registry = new PrometheusRegistry();
        TrainerMetrics metrics = new TrainerMetrics(registry);
        Lineage.History history = (through, each) -> {
            for (Lineage.CommittedRound r : rounds) if (r.version() <= through) each.round(r);
        };
        try (Lineage lineage = Lineage.recover(c, store(c), location, metrics, history)) {
            assertEquals(3, lineage.version());
        }
        assertEquals(lost, describe(ReplayStore.snapshotEntries(c.replayDir(), 3)));
        assertEquals(1.0, rebuilds(registry, "exact"));

        DirectoryTree.delete(c.replayDir());
        Lineage.History gone = (through, each) -> {
            throw new Lineage.IncompleteHistory("round v1's records were deleted");
        };
        try (Lineage lineage = Lineage.recover(c, store(c), location, metrics, gone)) {
            assertEquals(0, lineage.replaySequences());
            round(lineage, 1000);
            assertEquals(4, lineage.version(), "the lineage trains on with an empty store");
            assertTrue(lineage.replaySequences() > 0);
        }
        assertEquals(1.0, rebuilds(registry, "empty"));
    }

    private static List<String> describe(List<ReplayStore.Entry> entries) {
        assertFalse(entries.isEmpty());
        return entries.stream()
                .map(e -> e.domain() + "/" + e.version() + "/" + e.index() + "/" + Arrays.toString(e.tokens()))
                .toList();
    }

    private static double rebuilds(PrometheusRegistry registry, String outcome) {
        return registry.scrape().stream()
                .filter(s -> s.getMetadata().getName().equals("ipt_trainer_replay_rebuilds"))
                .flatMap(s -> ((CounterSnapshot) s).getDataPoints().stream())
                .filter(p -> outcome.equals(p.getLabels().get("outcome")))
                .mapToDouble(CounterSnapshot.CounterDataPointSnapshot::getValue)
                .sum();
    }
}
