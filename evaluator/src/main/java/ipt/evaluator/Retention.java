package ipt.evaluator;

import ipt.checkpoints.CheckpointStore;
import ipt.checkpoints.RetentionPolicy;
import ipt.schemas.Decision;
import ipt.schemas.EvaluationReport;
import ipt.schemas.RetentionKind;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.function.Supplier;

/**
 * Applies the retention policy to a lineage after each of its decisions, in the evaluator: the one component that
 * knows which versions are judged (newer ones are pending and kept), which were champions, and the committed
 * champion pointer. Deletion goes through ipt.retention ({@link RetentionMarks}) so that a pin or a manual
 * promotion racing with it either keeps the version or is told it is gone.
 */
final class Retention implements AutoCloseable {
    private static final String BY = "evaluator";

    private final CheckpointStore store;
    private final RetentionPolicy policy;
    private final EvaluatorMetrics metrics;
    private final RetentionMarks marks;
    private final Map<String, List<Long>> championHistory = new HashMap<>();
    private final Map<String, Long> lastJudged = new HashMap<>();

    Retention(Map<String, Object> kafka, CheckpointStore store, RetentionPolicy policy, EvaluatorMetrics metrics) {
        this.store = store;
        this.policy = policy;
        this.metrics = metrics;
        this.marks = new RetentionMarks(kafka);
    }

    /** Follows the decisions: promotions make rollback targets; the gate's decisions mark what is judged. */
    void record(EvaluationReport report) {
        String lineage = report.getLineage();
        if (report.getDecision() == Decision.PROMOTE) {
            List<Long> history = championHistory.computeIfAbsent(lineage, l -> new ArrayList<>());
            // The evaluator reads its own reports back: a promotion is one entry.
            if (history.isEmpty() || history.get(history.size() - 1) != report.getCandidateVersion())
                history.add(report.getCandidateVersion());
        }
        if (!"manual".equals(report.getDecidingRule()))
            lastJudged.merge(lineage, report.getCandidateVersion(), Math::max);
    }

    /**
     * Deletes what the policy lets go of the lineage's checkpoints. {@code pointer} reads the committed champion
     * pointer anew (null: none); it is asked again after the retirements are written.
     */
    void apply(String lineage, Supplier<Long> pointer) throws IOException {
        SortedMap<Long, Long> stored = store.held(lineage);
        long judged = lastJudged.getOrDefault(lineage, -1L);
        List<Long> history = championHistory.getOrDefault(lineage, List.of());
        marks.catchUp(-1);
        RetentionPolicy.Plan plan =
                policy.plan(stored.keySet(), judged, history, pointer.get(), marks.held(lineage, Map.of()));
        Map<Long, Long> retiredAt = new TreeMap<>();
        long lastOffset = -1;
        for (long v : plan.delete()) {
            lastOffset = marks.write(lineage, v, RetentionMarks.RETIRE, RetentionKind.RETIRED, BY, reason());
            retiredAt.put(v, lastOffset);
        }
        long deleted = 0;
        long deletedBytes = 0;
        Long champion = pointer.get();
        if (!retiredAt.isEmpty()) {
            // Holds written before a retirement, and a promotion committed meanwhile, still keep the version.
            marks.catchUp(lastOffset);
            champion = pointer.get();
            Set<Long> held = marks.held(lineage, retiredAt);
            RetentionPolicy.Plan now = policy.plan(stored.keySet(), judged, history, champion, held);
            for (long v : retiredAt.keySet()) {
                if (now.delete().contains(v)) {
                    store.remove(lineage, v);
                    deleted++;
                    deletedBytes += stored.get(v);
                    stored.remove(v);
                } else {
                    marks.write(lineage, v, RetentionMarks.RETIRE, RetentionKind.KEPT, BY, "held before retirement");
                }
            }
        }
        store.trimCache(lineage, champion == null ? Set.of() : Set.of(champion), policy.fetched());
        metrics.retention(
                lineage,
                stored.size(),
                stored.values().stream().mapToLong(Long::longValue).sum(),
                deleted,
                deletedBytes);
    }

    private String reason() {
        return "not among the last " + policy.last() + ", the " + policy.champions()
                + " most recent champions or the pinned";
    }

    @Override
    public void close() {
        marks.close();
    }
}
