package ipt.evaluator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ipt.schemas.Decision;
import ipt.schemas.EvaluationReport;
import ipt.schemas.TaskResult;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ForgettingLedgerTest {
    private static final double UNIFORM = Math.log(257);

    /** tasks: task, candidate loss, champion loss (or null), ... */
    static EvaluationReport report(long version, Long champion, Decision decision, String rule, Object... tasks) {
        List<TaskResult> results = new ArrayList<>();
        for (int i = 0; i < tasks.length; i += 3) {
            results.add(new TaskResult(
                    (String) tasks[i],
                    "loss",
                    (Double) tasks[i + 1],
                    (Double) tasks[i + 2],
                    null,
                    null,
                    8,
                    true,
                    false,
                    null,
                    null));
        }
        results.add(new TaskResult(
                "suite/cloze", "acc", 0.5, null, null, null, 8, true, true, null, null)); // not a loss: no forgetting
        return new EvaluationReport(
                "main",
                version,
                champion,
                version * 10,
                results,
                decision,
                rule,
                "",
                Instant.ofEpochMilli(version),
                1L,
                List.of(),
                List.of(),
                null,
                null,
                null,
                null,
                null);
    }

    @Test
    void forgettingAndTransferOverTheChampionHistory() {
        ForgettingLedger ledger = new ForgettingLedger();
        ledger.record(report(1, null, Decision.PROMOTE, "first-checkpoint", "heldout/en", 3.0, null));
        // de arrives while v1 is champion: v1's loss on it (4.0) is what forward transfer compares with ln V.
        ledger.record(report(2, 1L, Decision.PROMOTE, "no-regression", "heldout/en", 2.5, 3.0, "heldout/de", 3.2, 4.0));
        ledger.record(report(
                3, 2L, Decision.REJECT, "regression:heldout/en/loss", "heldout/en", 2.9, 2.5, "heldout/de", 2.8, 3.2));
        EvaluationReport four =
                report(4, 2L, Decision.PROMOTE, "no-regression", "heldout/en", 2.6, 2.5, "heldout/de", 2.7, 3.2);
        ledger.record(four);
        ledger.record(four); // read back from the topic: ignored

        ForgettingLedger.Summary now = ledger.summary("main", UNIFORM);
        assertEquals(
                Map.of("heldout/en", 0.1, "heldout/de", 0.0),
                rounded(now.forgetting()),
                "en: 2.6 now, 2.5 at best (v2)");
        assertEquals(0.4, now.backwardTransfer(), 1e-9, "en at the end of its stage (v1: 3.0) minus en now (2.6)");
        assertEquals(UNIFORM - 4.0, now.forwardTransfer(), 1e-9);

        // A manual rollback to v1: its losses come from its own and later reports.
        ledger.record(report(1, 4L, Decision.PROMOTE, "manual"));
        ForgettingLedger.Summary back = ledger.summary("main", UNIFORM);
        assertEquals(Map.of("heldout/en", 0.5, "heldout/de", 1.3), rounded(back.forgetting()));
        assertEquals(0.0, back.backwardTransfer(), 1e-9);
        assertEquals(new ForgettingLedger.Summary(Map.of(), null, null), ledger.summary("other", UNIFORM));
    }

    /** The demo's no-replay story: candidates forget and are rejected, so the served champion shows none of it. */
    @Test
    void aRejectedCandidatesForgettingIsMeasuredBesideTheFrozenChampions() {
        ForgettingLedger ledger = new ForgettingLedger();
        ledger.record(report(1, null, Decision.PROMOTE, "first-checkpoint", "heldout/en", 3.0, null));
        ledger.record(report(2, 1L, Decision.PROMOTE, "no-regression", "heldout/en", 2.5, 3.0, "heldout/de", 3.2, 4.0));
        ledger.record(report(
                3, 2L, Decision.REJECT, "regression:heldout/en/loss", "heldout/en", 3.3, 2.5, "heldout/de", 2.4, 3.2));

        ForgettingLedger.Summary champion = ledger.summary("main", UNIFORM);
        ForgettingLedger.Summary candidate = ledger.candidateSummary("main", UNIFORM);
        assertEquals(Map.of("heldout/en", 0.0, "heldout/de", 0.0), rounded(champion.forgetting()), "v2 is served");
        assertEquals(
                Map.of("heldout/en", 0.8, "heldout/de", 0.0),
                rounded(candidate.forgetting()),
                "v3: en 3.3 against the best champion's 2.5; de better than any champion");
        assertEquals(-0.3, candidate.backwardTransfer(), 1e-9, "en at the end of its stage (v1: 3.0) minus v3's 3.3");
        assertEquals(0.5, champion.backwardTransfer(), 1e-9);

        ledger.record(report(1, 2L, Decision.PROMOTE, "manual"));
        assertEquals(candidate, ledger.candidateSummary("main", UNIFORM), "a manual promotion judges no candidate");
        assertEquals(new ForgettingLedger.Summary(Map.of(), null, null), ledger.candidateSummary("other", UNIFORM));
    }

    private static Map<String, Double> rounded(Map<String, Double> values) {
        Map<String, Double> out = new java.util.HashMap<>();
        values.forEach((k, v) -> out.put(k, Math.round(v * 1e9) / 1e9));
        return out;
    }

    @Test
    void bestIsTheLowestAnyChampionReachedAndTheStallCountsRejectionsSinceTheLastPromotion() {
        ForgettingLedger ledger = new ForgettingLedger();
        ledger.record(report(1, null, Decision.PROMOTE, "first-checkpoint", "heldout/en", 3.0, null));
        ledger.record(report(2, 1L, Decision.PROMOTE, "no-regression", "heldout/en", 2.5, 3.0, "heldout/de", 3.2, 4.0));
        ledger.record(report(
                3, 2L, Decision.REJECT, "regression:heldout/en/loss", "heldout/en", 2.1, 2.5, "heldout/de", 2.0, 3.2));
        assertEquals(
                Map.of("heldout/en", 2.5, "heldout/de", 3.2),
                ledger.best("main"),
                "v3 was never a champion; v1's de (4.0) is worse");
        ledger.record(report(4, 2L, Decision.PROMOTE, "no-regression", "heldout/en", 2.6, 2.5, "heldout/de", 2.7, 3.2));
        assertEquals(
                Map.of("heldout/en", 2.5, "heldout/de", 2.7),
                ledger.best("main"),
                "en stays at v2's best though v4 is champion");
        assertEquals(0, ledger.stall("main").rejected());
        ledger.record(report(5, 4L, Decision.REJECT, "regression:heldout/en/loss", "heldout/en", 2.9, 2.6));
        ledger.record(report(6, 4L, Decision.REJECT, "average:loss", "heldout/en", 2.7, 2.6));
        ledger.record(report(7, 4L, Decision.REJECT, "regression:heldout/en/loss", "heldout/en", 2.8, 2.6));
        Stall stall = ledger.stall("main");
        assertEquals(3, stall.rejected());
        assertEquals(4L, stall.champion());
        assertEquals(Instant.ofEpochMilli(5), stall.since());
        assertEquals("regression:heldout/en/loss", stall.mainRule());
        assertTrue(
                stall.describe()
                        .startsWith("3 candidates rejected since 1970-01-01T00:00:00Z (champion v4): "
                                + "regression:heldout/en/loss ×2, average:loss ×1; last v7"),
                stall.describe());
        assertEquals(0, ledger.stall("other").rejected());
    }
}
