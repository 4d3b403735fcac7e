package ipt.evaluator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ipt.schemas.CheckpointPublished;
import ipt.schemas.Decision;
import ipt.schemas.EvaluationReport;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class NextStepTest {
    private static final String POLICY = "keeps training from its own latest round, replay 50%";

    private static CheckpointPublished candidate(long version, double replay, double ceiling) {
        return CheckpointPublished.newBuilder()
                .setLineage("main")
                .setVersion(version)
                .setLocation("/x")
                .setSha256("00")
                .setStep(version * 50)
                .setTokensSeen(1)
                .setDocuments(1)
                .setOffsets(List.of())
                .setTrainLoss(1.0)
                .setCreatedAt(Instant.EPOCH)
                .setDomainTokens(Map.of("en", 100L))
                .setReplayFraction(replay)
                .setMaxReplayFraction(ceiling)
                .setPolicy(POLICY)
                .build();
    }

    private static final PromotionGate.Verdict REJECTED =
            new PromotionGate.Verdict(false, "regression:heldout/en/loss", "+12%", List.of());

    @Test
    void aPromotionIsServedAndTheTrainerGoesOn() {
        String next = NextStep.of(
                new PromotionGate.Verdict(true, "no-regression", "ok", List.of()),
                candidate(5, 0.25, 0.5),
                5L,
                Stall.of(List.of()),
                10,
                List.of());
        assertEquals("serving v5; the trainer goes on from its latest round, v5", next);
    }

    @Test
    void aRejectionNamesTheServedVersionTheTrainersPolicyAndWhatToWinBack() {
        List<EvaluationReport> history = history(3);
        String next =
                NextStep.of(REJECTED, candidate(4, 0.25, 0.5), 1L, Stall.of(history), 10, List.of("heldout/en +12.0%"));
        assertEquals(
                "v1 stays served; the trainer " + POLICY
                        + "; to win back: heldout/en +12.0%; 3 of 10 rejections in a row before the lineage"
                        + " counts as stalled",
                next);
    }

    @Test
    void stalledAtTheReplayCeilingSaysCapacity() {
        String below = NextStep.of(
                REJECTED, candidate(12, 0.25, 0.5), 1L, Stall.of(history(11)), 10, List.of("heldout/en +12.0%"));
        assertTrue(
                below.contains("STALLED: 11 candidates rejected since the last promotion, mostly by "
                        + "regression:heldout/en/loss"),
                below);
        assertTrue(!below.contains("too small"), "replay can still rise: " + below);
        String ceiling = NextStep.of(
                REJECTED, candidate(12, 0.5, 0.5), 1L, Stall.of(history(11)), 10, List.of("heldout/en +12.0%"));
        assertTrue(
                ceiling.contains(
                        "replay is at its ceiling (50%) and old domains still regress: the model looks too small"),
                ceiling);
    }

    /** v1 promoted, then {@code rejected} candidates rejected by the English regression rule. */
    private static List<EvaluationReport> history(int rejected) {
        List<EvaluationReport> out = new ArrayList<>();
        out.add(ForgettingLedgerTest.report(1, null, Decision.PROMOTE, "first-checkpoint", "heldout/en", 2.0, null));
        for (int v = 2; v < 2 + rejected; v++)
            out.add(ForgettingLedgerTest.report(
                    v, 1L, Decision.REJECT, "regression:heldout/en/loss", "heldout/en", 2.3, 2.0));
        return out;
    }
}
