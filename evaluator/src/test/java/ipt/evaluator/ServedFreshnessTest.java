package ipt.evaluator;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ipt.evaluator.ServedFreshness.Served;
import ipt.schemas.ArrivalCount;
import ipt.schemas.CheckpointPublished;
import ipt.schemas.Decision;
import ipt.schemas.EvaluationReport;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import org.junit.jupiter.api.Test;

class ServedFreshnessTest {
    private static final long T = 1_700_000_000L; // seconds

    private static ArrivalCount at(long second, int documents) {
        return new ArrivalCount(second, documents);
    }

    private static int documents(List<Served> served) {
        return served.stream().mapToInt(Served::documents).sum();
    }

    @Test
    void aPromotionServesItsOwnDocumentsAndThoseOfTheRejectedRoundsBeforeIt() {
        ServedFreshness f = new ServedFreshness();
        f.published("main", 1, List.of(at(T, 3)));
        f.published("main", 2, List.of(at(T + 10, 2), at(T + 11, 1)));
        f.published("main", 3, List.of(at(T + 20, 4)));
        assertEquals(List.of(new Served(100.5, 3)), f.promoted("main", 1, (T + 100) * 1000 + 500));
        // v2 rejected; v3 trained on from v2, so promoting it serves both rounds' documents first.
        assertEquals(
                List.of(new Served(190, 2), new Served(189, 1), new Served(180, 4)),
                f.promoted("main", 3, (T + 200) * 1000));
        assertEquals(OptionalLong.empty(), f.oldestUnservedMillis("main"));
    }

    @Test
    void aRollbackAndARepeatedPromotionCountNothingAgain() {
        ServedFreshness f = new ServedFreshness();
        f.published("main", 1, List.of(at(T, 3)));
        f.published("main", 2, List.of(at(T + 1, 5)));
        assertEquals(8, documents(f.promoted("main", 2, (T + 50) * 1000)));
        assertEquals(List.of(), f.promoted("main", 1, (T + 60) * 1000), "rolled back by hand");
        assertEquals(List.of(), f.promoted("main", 2, (T + 70) * 1000), "forward again to v2");
        f.published("main", 2, List.of(at(T + 1, 5))); // the log read again by a new session
        f.published("main", 3, List.of(at(T + 80, 1)));
        assertEquals(List.of(new Served(20, 1)), f.promoted("main", 3, (T + 100) * 1000));
    }

    @Test
    void theOldestUnservedArrivalWaitsUntilAPromotionServesIt() {
        ServedFreshness f = new ServedFreshness();
        assertEquals(OptionalLong.empty(), f.oldestUnservedMillis("main"));
        f.published("main", 1, List.of(at(T + 5, 1)));
        f.published("main", 2, List.of(at(T + 3, 1), at(T + 9, 2))); // partitions: arrival is not version order
        f.published("main", 3, List.of());
        assertEquals(OptionalLong.of((T + 3) * 1000), f.oldestUnservedMillis("main"));
        f.promoted("main", 1, (T + 10) * 1000);
        assertEquals(OptionalLong.of((T + 3) * 1000), f.oldestUnservedMillis("main"));
        f.promoted("main", 3, (T + 12) * 1000);
        assertEquals(OptionalLong.empty(), f.oldestUnservedMillis("main"));
    }

    @Test
    void lineagesAreCountedApart() {
        ServedFreshness f = new ServedFreshness();
        f.published("main", 1, List.of(at(T, 1)));
        f.published("replay", 1, List.of(at(T, 2)));
        assertEquals(1, documents(f.promoted("main", 1, (T + 1) * 1000)));
        assertEquals(OptionalLong.of(T * 1000), f.oldestUnservedMillis("replay"));
        assertEquals(2, documents(f.promoted("replay", 1, (T + 1) * 1000)));
    }

    @Test
    void overALogPromotionsComeFromTheReports() {
        CheckpointPublished v1 = checkpoint(1, at(T, 2));
        CheckpointPublished v2 = checkpoint(2, at(T + 5, 3));
        Map<String, List<Served>> served = ServedFreshness.overLog(
                List.of(v1, v2),
                List.of(
                        report(1, Decision.PROMOTE, T + 10),
                        report(2, Decision.REJECT, T + 20),
                        report(1, Decision.PROMOTE, T + 30)));
        assertEquals(Map.of("main", List.of(new Served(10, 2))), served);
    }

    private static CheckpointPublished checkpoint(long version, ArrivalCount arrivals) {
        return CheckpointPublished.newBuilder()
                .setLineage("main")
                .setVersion(version)
                .setLocation("/c/v" + version)
                .setSha256("00")
                .setStep(version)
                .setTokensSeen(0)
                .setDocuments(arrivals.getDocuments())
                .setOffsets(List.of())
                .setTrainLoss(1)
                .setCreatedAt(Instant.EPOCH)
                .setArrivals(List.of(arrivals))
                .build();
    }

    private static EvaluationReport report(long version, Decision decision, long second) {
        return EvaluationReport.newBuilder()
                .setLineage("main")
                .setCandidateVersion(version)
                .setCandidateStep(version)
                .setTasks(List.of())
                .setDecision(decision)
                .setDecidingRule("manual")
                .setReason("test")
                .setEvaluatedAt(Instant.ofEpochSecond(second))
                .build();
    }
}
