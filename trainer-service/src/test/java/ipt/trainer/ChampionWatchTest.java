package ipt.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ipt.schemas.Decision;
import ipt.schemas.EvaluationReport;
import ipt.schemas.Promotion;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** What the trainer follows of the evaluator's decisions, told as the decision follower tells them. */
class ChampionWatchTest {
    private static Promotion promotion(String lineage, long version) {
        return Promotion.newBuilder()
                .setLineage(lineage)
                .setVersion(version)
                .setPreviousVersion(null)
                .setLocation("/checkpoints/" + lineage + "/v" + version)
                .setSha256("00")
                .setDecidingRule("first-checkpoint")
                .setPromotedAt(Instant.EPOCH)
                .build();
    }

    private static EvaluationReport report(String lineage, long version, Decision decision) {
        return EvaluationReport.newBuilder()
                .setLineage(lineage)
                .setCandidateVersion(version)
                .setChampionVersion(null)
                .setCandidateStep(version)
                .setTasks(List.of())
                .setDecision(decision)
                .setDecidingRule("test")
                .setReason("test")
                .setEvaluatedAt(Instant.EPOCH)
                .build();
    }

    private static List<Long> versions(Lineage.Settled settled) {
        return settled.reports().stream()
                .map(EvaluationReport::getCandidateVersion)
                .toList();
    }

    @Test
    void settlesTheReportsOfItsOwnLineageInTheAskedRange() throws InterruptedException {
        ChampionWatch watch = new ChampionWatch("main");
        watch.restart();
        watch.report(report("main", 1, Decision.PROMOTE));
        watch.promotion(promotion("main", 1));
        watch.report(report("main", 2, Decision.REJECT));
        watch.report(report("other", 3, Decision.REJECT));
        watch.promotion(promotion("other", 3));
        watch.report(report("main", 3, Decision.REJECT));
        watch.caughtUp();

        Lineage.Settled settled = watch.settle(1, 3, Duration.ofMinutes(1));
        assertEquals(List.of(2L, 3L), versions(settled), "(after, through], oldest first, without waiting");
        assertFalse(settled.timedOut());
        assertEquals("/checkpoints/main/v1", watch.location(1, Duration.ZERO));
        assertNull(watch.location(3, Duration.ZERO), "another lineage's promotion of the same version");
    }

    @Test
    void aWaitThatRanOutIsNotRepeatedUntilANewReportArrives() throws InterruptedException {
        ChampionWatch watch = new ChampionWatch("main");
        watch.report(report("main", 1, Decision.PROMOTE));
        Lineage.Settled first = watch.settle(0, 2, Duration.ofMillis(200));
        assertTrue(first.timedOut());
        assertEquals(List.of(1L), versions(first));

        long started = System.nanoTime();
        assertTrue(watch.settle(1, 3, Duration.ofMinutes(5)).timedOut(), "nothing new: no second wait");
        assertTrue(System.nanoTime() - started < Duration.ofSeconds(30).toNanos());

        watch.report(report("main", 2, Decision.REJECT));
        Thread late = new Thread(() -> watch.report(report("main", 3, Decision.REJECT)));
        late.start();
        Lineage.Settled waited = watch.settle(1, 3, Duration.ofMinutes(1));
        late.join();
        assertFalse(waited.timedOut(), "a report arrived since: it waits again, and v3 comes");
        assertEquals(List.of(2L, 3L), versions(waited));
    }

    @Test
    void aReReadKeepsTheFirstReportPerVersion() throws InterruptedException {
        ChampionWatch watch = new ChampionWatch("main");
        watch.report(report("main", 1, Decision.REJECT));
        watch.restart(); // a lost connection: both topics are read again from their beginnings
        watch.report(report("main", 1, Decision.PROMOTE)); // cannot happen in a log, but must not replace what was read
        watch.caughtUp();
        assertEquals(
                Decision.REJECT,
                watch.settle(0, 1, Duration.ZERO).reports().get(0).getDecision());
    }

    /** A trainer stopping ends a round's wait for a report at once, and any later wait before it begins. */
    @Test
    void stoppingEndsAWaitForAReportAtOnce() throws Exception {
        ChampionWatch watch = new ChampionWatch("main");
        CompletableFuture<Throwable> waited = CompletableFuture.supplyAsync(() -> {
            try {
                watch.settle(0, 1, Duration.ofMinutes(10));
                return null;
            } catch (InterruptedException e) {
                return e;
            }
        });
        Thread.sleep(100);
        long asked = System.nanoTime();
        watch.stop();
        Throwable ended = waited.get(10, TimeUnit.SECONDS);
        assertTrue(ended instanceof InterruptedException, String.valueOf(ended));
        assertTrue(System.nanoTime() - asked < Duration.ofSeconds(2).toNanos());
        assertThrows(InterruptedException.class, () -> watch.location(1, Duration.ofMinutes(10)));
    }
}
