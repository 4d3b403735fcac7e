package ipt.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ipt.schemas.Decision;
import ipt.schemas.EvaluationReport;
import ipt.schemas.TaskResult;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.SplittableRandom;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ReplayMixtureTest {
    @TempDir
    Path dir;

    /** A report as the evaluator writes it: held-out loss per domain for candidate and champion. */
    private static EvaluationReport report(
            long version, Long champion, Decision decision, Map<String, double[]> losses) {
        List<TaskResult> tasks = new ArrayList<>();
        losses.forEach((domain, l) -> tasks.add(TaskResult.newBuilder()
                .setTask("heldout/" + domain)
                .setMetric("loss")
                .setCandidate(l[0])
                .setChampion(l.length > 1 ? l[1] : null)
                .setSequences(128)
                .setPassed(decision == Decision.PROMOTE)
                .build()));
        tasks.add(TaskResult.newBuilder()
                .setTask("heldout/en")
                .setMetric("perplexity")
                .setCandidate(99)
                .setSequences(128)
                .setPassed(true)
                .build());
        return EvaluationReport.newBuilder()
                .setLineage("l")
                .setCandidateVersion(version)
                .setChampionVersion(champion)
                .setCandidateStep(version * 50)
                .setTasks(tasks)
                .setDecision(decision)
                .setDecidingRule("test")
                .setReason("test")
                .setEvaluatedAt(Instant.EPOCH)
                .build();
    }

    private static List<GateEvidence.Evaluated> reports() {
        return List.of(
                GateEvidence.Evaluated.of(report(1, null, Decision.PROMOTE, Map.of("en", new double[] {2.0}))),
                GateEvidence.Evaluated.of(report(
                        2, 1L, Decision.PROMOTE, Map.of("en", new double[] {1.5, 2.0}, "java", new double[] {3.0}))),
                // Java is learned, English drifts up from its best: the candidate is rejected.
                GateEvidence.Evaluated.of(report(
                        3,
                        2L,
                        Decision.REJECT,
                        Map.of("en", new double[] {1.65, 1.5}, "java", new double[] {1.2, 3.0}, "de", new double[] {2.2
                        }))));
    }

    private static GateEvidence evidence() {
        GateEvidence e = GateEvidence.NONE;
        for (GateEvidence.Evaluated r : reports()) e = e.fold(r);
        return e;
    }

    @Test
    void theReportsFoldIntoTheLowestLossReachedTheNewestAndTheRejectionsSinceThePromotion() {
        GateEvidence e = evidence();
        assertEquals(3, e.evaluatedThrough());
        assertEquals(2, e.champion());
        assertEquals(Map.of("en", 1.5, "java", 1.2, "de", 2.2), e.best());
        assertEquals(Map.of("en", 1.65, "java", 1.2, "de", 2.2), e.latest());
        assertEquals(List.of(3L), e.rejectedSince());
        assertEquals(0.1, e.forgetting().get("en"), 1e-12);
        assertEquals(0.0, e.forgetting().get("java"));
        assertEquals(
                ((1.65 - 1.5) / 1.5 + (1.2 - 3.0) / 3.0) / 2,
                e.latestOverall(),
                1e-12,
                "mean relative change on shared domains");
    }

    @Test
    void aDomainBeingForgottenGetsTheSharesAboveTheFloorAndTheFractionFollowsForgettingBothWays() {
        GateEvidence e = evidence();
        SortedMap<String, Double> shares = ReplayMixture.shares(Map.of("de", 100L, "en", 200L, "java", 100L), e, 0.5);
        assertEquals(0.5 * 0.5 + 0.5, shares.get("en"), 1e-12, "en is the only domain above its best");
        assertEquals(0.5 * 0.25, shares.get("java"), 1e-12, "every stored domain keeps its floor, split by history");
        assertEquals(0.5 * 0.25, shares.get("de"), 1e-12);
        assertEquals(
                1.0, shares.values().stream().mapToDouble(Double::doubleValue).sum(), 1e-12);
        assertEquals(
                Map.of("en", 0.75, "java", 0.25),
                ReplayMixture.shares(Map.of("en", 300L, "java", 100L), GateEvidence.NONE, 0.5),
                "no forgetting seen: uniform replay");

        assertEquals(
                0.5,
                ReplayMixture.fraction(e, List.of("en", "java"), 0.25, 0.5, 5),
                1e-12,
                "10% forgetting at gain 5: capped at the maximum");
        assertEquals(
                0.25 + 5 * 0.02, ReplayMixture.fraction(recovered(e, 1.53), List.of("en", "java"), 0.25, 0.5, 5), 1e-9);
        assertEquals(
                0.25,
                ReplayMixture.fraction(recovered(e, 1.49), List.of("en", "java"), 0.25, 0.5, 5),
                1e-12,
                "back to the base once forgetting is gone");
        assertEquals(
                0.25,
                ReplayMixture.fraction(e, List.of("en", "java"), 0.25, 0.5, 0),
                1e-12,
                "gain 0 fixes the fraction");
        assertEquals(
                0.25,
                ReplayMixture.fraction(e, List.of("java"), 0.25, 0.5, 5),
                1e-12,
                "a domain not trained on does not count");
    }

    /** {@code e} with a fourth report in which English is at {@code en}. */
    private static GateEvidence recovered(GateEvidence e, double en) {
        return e.fold(GateEvidence.Evaluated.of(
                report(4, 2L, Decision.REJECT, Map.of("en", new double[] {en, 1.5}, "java", new double[] {1.2, 3.0}))));
    }

    @Test
    void theStateRoundTripsThroughTheCheckpointFileBitForBit() {
        TrainerConfig c = TrainerConfig.of("l", dir, 0.25);
        TrainerConfig.Steering st = c.steering();
        c = c.with(new TrainerConfig.Steering(st.floor(), 5, st.evaluationWait(), st.recovery(), st.keep()));
        LineageState s = LineageState.initial(0.25)
                .settled(reports(), 1, c, List.of("en", "java"))
                .with(0.3, ReplayMixture.shares(Map.of("a b:c", 1L, "en", 2L), evidence(), 0.5));
        assertEquals(evidence(), s.evidence());
        assertEquals(
                0.5,
                LineageState.initial(0.25)
                        .settled(reports(), 0, c, List.of("en", "java"))
                        .replayFraction(),
                "steered by the gain");
        LineageState back = LineageState.parse(s.bytes());
        assertEquals(s, back);
        assertTrue(new String(s.bytes(), java.nio.charset.StandardCharsets.ISO_8859_1).contains("evaluatedThrough=3"));
        LineageState old = LineageState.parse("replayFraction=0.35\nlastResetAfter=3\nresets=1\n".getBytes());
        assertEquals(GateEvidence.NONE, old.evidence(), "a state written before the evidence was kept reads as none");
    }

    @Test
    void recoveryIsDecidedOnTheSettledRejectionsOnly() {
        TrainerConfig c = TrainerConfig.of("l", dir, 0.25);
        TrainerConfig.Steering d = c.steering();
        assertEquals(
                Recovery.Action.NONE,
                Recovery.decide(c, LineageState.initial(0.25).settled(reports(), 0, c, List.of("en")))
                        .action());
        c = c.with(new TrainerConfig.Steering(
                d.floor(), d.gain(), d.evaluationWait(), TrainerConfig.Steering.Recovery.RESET, d.keep()));
        List<GateEvidence.Evaluated> four = new ArrayList<>(reports());
        four.add(GateEvidence.Evaluated.of(report(4, 2L, Decision.REJECT, Map.of("en", new double[] {1.7, 1.5}))));
        LineageState state = LineageState.initial(0.25).settled(four, 0, c, List.of("en"));
        assertEquals(Recovery.Action.NONE, Recovery.decide(c, state).action(), "two rejections settled, three needed");
        LineageState three = state.settled(
                List.of(GateEvidence.Evaluated.of(
                        report(5, 2L, Decision.REJECT, Map.of("en", new double[] {1.4, 1.5})))),
                0,
                c,
                List.of("en"));
        assertEquals(new Recovery(Recovery.Action.RESET, 2, List.of(3L, 4L, 5L)), Recovery.decide(c, three));
        TrainerConfig.Steering st = c.steering();
        TrainerConfig ifWorse = c.with(new TrainerConfig.Steering(
                st.floor(), st.gain(), st.evaluationWait(), TrainerConfig.Steering.Recovery.RESET_IF_WORSE, st.keep()));
        assertEquals(
                Recovery.Action.DECLINE,
                Recovery.decide(ifWorse, three).action(),
                "v5 is better than the champion overall");
        assertEquals(Recovery.Action.NONE, Recovery.decide(c, three.answered(5)).action(), "a run already answered");
    }

    @Test
    void theSteeredDrawFollowsTheSharesAndRepeatsForTheSameSeed() throws Exception {
        try (ReplayStore store = ReplayStore.open(dir, 0, 1 << 20, 3)) {
            List<Packer.Sequence> seqs = new ArrayList<>();
            for (String d : List.of("de", "en", "java"))
                for (int i = 0; i < 50; i++) seqs.add(new Packer.Sequence(d, new int[] {i, 1, 2}));
            store.add(1, seqs);
            SortedMap<String, Double> shares = new TreeMap<>(Map.of("de", 0.1, "en", 0.7, "java", 0.2));
            Map<String, Integer> drawn = new HashMap<>();
            for (ReplayStore.Entry e : store.sample(10_000, shares, new SplittableRandom(5)))
                drawn.merge(e.domain(), 1, Integer::sum);
            assertEquals(7000, drawn.get("en"), 200);
            assertEquals(1000, drawn.get("de"), 150);
            assertEquals(
                    store.sample(100, shares, new SplittableRandom(9)).stream()
                            .map(e -> e.domain() + e.tokens()[0])
                            .toList(),
                    store.sample(100, shares, new SplittableRandom(9)).stream()
                            .map(e -> e.domain() + e.tokens()[0])
                            .toList());
        }
    }
}
