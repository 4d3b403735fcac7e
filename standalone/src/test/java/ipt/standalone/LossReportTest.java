package ipt.standalone;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ipt.schemas.Decision;
import ipt.schemas.EvaluationReport;
import ipt.schemas.TaskResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LossReportTest {
    @TempDir
    Path dir;

    private static EvaluationReport report(String lineage, long version, double en, Double java, Decision decision) {
        return report(lineage, version, en, java, decision, null);
    }

    private static EvaluationReport report(
            String lineage, long version, double en, Double java, Decision decision, Double championEn) {
        List<TaskResult> tasks = new java.util.ArrayList<>();
        tasks.add(new TaskResult("heldout/en", "loss", en, championEn, null, 0.1, 8, true, false, null, null));
        if (java != null)
            tasks.add(new TaskResult("heldout/java", "loss", java, null, null, 0.1, 8, true, false, null, null));
        return new EvaluationReport(
                lineage,
                version,
                null,
                version * 50,
                tasks,
                decision,
                "rule",
                "reason",
                Instant.EPOCH,
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
    void forgettingIsTheFinalChampionsLossMinusTheBestAnyChampionHad() throws Exception {
        LossReport report = new LossReport(List.of(
                report("replay", 1, 2.5, null, Decision.PROMOTE),
                report("replay", 2, 2.2, 3.0, Decision.PROMOTE),
                report("replay", 3, 2.3, 2.1, Decision.PROMOTE),
                report("no-replay", 1, 2.5, null, Decision.PROMOTE),
                report("no-replay", 2, 2.9, 2.0, Decision.REJECT, 2.5),
                report("no-replay", 3, 2.6, 1.9, Decision.PROMOTE, 2.5)));
        Map<String, Map<String, Double>> f = report.forgetting();
        assertEquals(0.1, f.get("replay").get("heldout/en"), 1e-9);
        assertEquals(0.0, f.get("replay").get("heldout/java"), 1e-9);
        assertEquals(
                0.1,
                f.get("no-replay").get("heldout/en"),
                1e-9,
                "v2's +0.4 was rejected: users were served v1, then v3");
        assertEquals(2.6, report.finalLoss().get("no-replay").get("heldout/en"), 1e-9);

        Path html = dir.resolve("report.html");
        report.write(html, List.of(new LossReport.PhaseEnd("en", Map.of("replay", 1L, "no-replay", 1L))));
        String page = Files.readString(html);
        assertEquals(2, page.split("<svg", -1).length - 1, "one chart per lineage");
        assertTrue(page.contains("en ends"));
        assertTrue(page.contains("<td>+0.100</td>"), "forgetting table");
        assertTrue(page.contains("stroke-width=\"3\""), "the champion's line");
    }
}
