package ipt.standalone;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ipt.schemas.Decision;
import ipt.schemas.EvaluationReport;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

class DemoProgressTest {
    private static EvaluationReport report(
            String lineage, long version, Long champion, Decision decision, String rule) {
        return EvaluationReport.newBuilder()
                .setLineage(lineage)
                .setCandidateVersion(version)
                .setChampionVersion(champion)
                .setCandidateStep(version * 50)
                .setTasks(List.of())
                .setDecision(decision)
                .setDecidingRule(rule)
                .setReason("")
                .setEvaluatedAt(Instant.EPOCH)
                .build();
    }

    @Test
    void onePhaseLineSaysWhatEachLineageServes() {
        List<EvaluationReport> judged = List.of(
                report("replay", 11, 10L, Decision.REJECT, "average:loss"),
                report("no-replay", 9, 8L, Decision.REJECT, "regression:heldout/en/loss"),
                report("replay", 12, 10L, Decision.PROMOTE, "no-regression"),
                report("replay", 13, 12L, Decision.REJECT, "best:heldout/en/loss"),
                report("no-replay", 10, 8L, Decision.REJECT, "regression:heldout/en/loss"));
        assertEquals(
                "phase 2/4 (java) done in 95 s: no-replay 0/2 promoted, serving v8 (mostly "
                        + "regression:heldout/en/loss); replay 1/3 promoted,"
                        + " serving v12",
                Demo.progress(2, 4, "java", judged, 95.2));
        assertEquals("phase 1/4 (en) done in 3 s: no round judged", Demo.progress(1, 4, "en", List.of(), 3));
    }
}
