package ipt.trainer;

import ipt.runtime.DecisionFollower;
import ipt.schemas.EvaluationReport;
import ipt.schemas.Promotion;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListMap;

/**
 * What a trainer follows of the evaluator's decisions on its lineage: every promotion and every report on its
 * candidates, told by a {@link DecisionFollower}; the lineage's rounds read them as settled {@link Lineage.Reports}.
 */
final class ChampionWatch implements DecisionFollower.Listener, Lineage.Reports {
    private final String lineage;
    /** Every report on the lineage's candidates (the first one per version) and every promotion, by version. */
    private final ConcurrentSkipListMap<Long, EvaluationReport> evaluated = new ConcurrentSkipListMap<>();

    private final Map<Long, Promotion> promoted = new ConcurrentHashMap<>();
    /** Set once the trainer is stopping: a round waiting for a report or a promotion is abandoned at once. */
    private volatile boolean stopping;
    // Owned by the trainer's thread, which alone settles.
    private boolean lastWaitTimedOut;
    private long newestAtTimeout;

    ChampionWatch(String lineage) {
        this.lineage = lineage;
    }

    /**
     * The evaluator judges a lineage's checkpoints in version order, so once a report on {@code through} or a later
     * version is in, every report up to {@code through} is. After a wait that ran out, the next one waits only if a
     * report arrived meanwhile: a trainer with no evaluator beside it is not held up round after round.
     */
    @Override
    public Lineage.Settled settle(long after, long through, Duration wait) throws InterruptedException {
        if (after >= through) return new Lineage.Settled(List.of(), false);
        boolean waitAgain = !lastWaitTimedOut || newestEvaluated() > newestAtTimeout;
        long deadline = System.nanoTime() + (waitAgain ? wait.toNanos() : 0);
        synchronized (evaluated) {
            while (newestEvaluated() < through) {
                if (stopping)
                    throw new InterruptedException("stop requested while waiting for the report on v" + through);
                long left = deadline - System.nanoTime();
                if (left <= 0) break;
                evaluated.wait(Math.max(1, left / 1_000_000));
            }
        }
        lastWaitTimedOut = newestEvaluated() < through;
        if (lastWaitTimedOut) newestAtTimeout = newestEvaluated();
        return new Lineage.Settled(
                List.copyOf(evaluated.subMap(after, false, through, true).values()), lastWaitTimedOut);
    }

    @Override
    public String location(long version, Duration wait) throws InterruptedException {
        long deadline = System.nanoTime() + wait.toNanos();
        Promotion p;
        while ((p = promoted.get(version)) == null && System.nanoTime() < deadline) {
            if (stopping)
                throw new InterruptedException("stop requested while waiting for the promotion of v" + version);
            Thread.sleep(20);
        }
        return p == null ? null : p.getLocation();
    }

    /** Abandons any wait in progress or to come (the trainer is stopping). */
    void stop() {
        stopping = true;
        synchronized (evaluated) {
            evaluated.notifyAll();
        }
    }

    private long newestEvaluated() {
        return evaluated.isEmpty() ? 0 : evaluated.lastKey();
    }

    /** Decisions are never taken back and a re-read tells the same first one per version: what is kept stays. */
    @Override
    public void restart() {}

    @Override
    public void promotion(Promotion promotion) {
        if (lineage.equals(promotion.getLineage())) promoted.putIfAbsent(promotion.getVersion(), promotion);
    }

    @Override
    public void report(EvaluationReport report) {
        if (!lineage.equals(report.getLineage())) return;
        evaluated.putIfAbsent(report.getCandidateVersion(), report);
        synchronized (evaluated) {
            evaluated.notifyAll();
        }
    }
}
