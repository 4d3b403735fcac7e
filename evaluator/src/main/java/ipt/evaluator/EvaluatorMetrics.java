package ipt.evaluator;

import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.Gauge;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Decisions, task metrics, forgetting and transfer per lineage; the held-out snapshot; champion scoring; freshness of
 * what is served.
 */
final class EvaluatorMetrics {
    private final Counter evaluations;
    private final Gauge taskMetric;
    private final Gauge forgetting;
    private final Gauge backwardTransfer;
    private final Gauge forwardTransfer;
    private final Gauge championVersion;
    private final Gauge snapshotVersion;
    private final Counter championScores;
    private final Histogram seconds;
    private final Gauge sincePromotion;
    private final Gauge servingVersion;
    private final Counter servingFailures;
    private final Gauge checkpointsRetained;
    private final Gauge bytesRetained;
    private final Counter checkpointsDeleted;
    private final Counter bytesDeleted;
    private final Histogram freshness;
    /** Per lineage, when its oldest trained but unserved document arrived (epoch ms; absent: none waits). */
    private final Map<String, Long> oldestUnserved = new ConcurrentHashMap<>();
    /** Lineages seen, so the age reads 0 rather than vanishing while nothing waits. */
    private final Map<String, Boolean> freshnessLineages = new ConcurrentHashMap<>();

    EvaluatorMetrics(PrometheusRegistry registry) {
        evaluations = Counter.builder()
                .name("ipt_evaluator_evaluations_total")
                .help("Checkpoints evaluated, by decision and deciding rule")
                .labelNames("lineage", "decision", "rule")
                .register(registry);
        taskMetric = Gauge.builder()
                .name("ipt_evaluator_task_metric")
                .help("Metric of the last candidate and its champion on each task (loss in nats/token, acc, acc_norm)")
                .labelNames("lineage", "task", "metric", "model")
                .register(registry);
        forgetting = Gauge.builder()
                .name("ipt_evaluator_forgetting")
                .help("F = the loss on a task now minus the lowest loss any champion of the lineage had on it "
                        + "(nats/token), of the champion (what is served) and of the latest candidate (what is "
                        + "being trained)")
                .labelNames("lineage", "task", "model")
                .register(registry);
        backwardTransfer = Gauge.builder()
                .name("ipt_evaluator_backward_transfer")
                .help("Mean over earlier held-out domains of (loss at the end of the domain's stage - "
                        + "loss now): negative is forgetting; of the champion and of the latest candidate")
                .labelNames("lineage", "model")
                .register(registry);
        forwardTransfer = Gauge.builder()
                .name("ipt_evaluator_forward_transfer")
                .help("Mean over later held-out domains of (ln V - loss of the champion in place when the "
                        + "domain arrived)")
                .labelNames("lineage")
                .register(registry);
        championVersion = Gauge.builder()
                .name("ipt_evaluator_champion_version")
                .help("Version of the promoted champion")
                .labelNames("lineage")
                .register(registry);
        snapshotVersion = Gauge.builder()
                .name("ipt_evaluator_snapshot_version")
                .help("Version of the frozen held-out snapshot, and so the number of held-out tasks")
                .register(registry);
        championScores = Counter.builder()
                .name("ipt_evaluator_champion_scores_total")
                .help("Champion metrics on a task: computed, or taken from the cache (scored once per "
                        + "champion and task)")
                .labelNames("source")
                .register(registry);
        sincePromotion = Gauge.builder()
                .name("ipt_evaluator_candidates_since_promotion")
                .help("Candidates rejected in a row since the lineage's last promotion (0 when the last was promoted)")
                .labelNames("lineage")
                .register(registry);
        servingVersion = Gauge.builder()
                .name("ipt_serving_version")
                .help("Version of the champion served at the lineage's fixed location in the checkpoint store")
                .labelNames("lineage")
                .register(registry);
        servingFailures = Counter.builder()
                .name("ipt_serving_publish_failures")
                .help("Failed attempts to put the champion at the lineage's fixed serving location (retried)")
                .labelNames("lineage")
                .register(registry);
        checkpointsRetained = Gauge.builder()
                .name("ipt_checkpoints_retained")
                .help("Checkpoints of the lineage the store holds after retention's last pass")
                .labelNames("lineage")
                .register(registry);
        bytesRetained = Gauge.builder()
                .name("ipt_checkpoint_bytes_retained")
                .help("Bytes of the lineage's checkpoints the store holds after retention's last pass")
                .labelNames("lineage")
                .register(registry);
        checkpointsDeleted = Counter.builder()
                .name("ipt_checkpoints_deleted")
                .help("Checkpoints retention deleted from the store")
                .labelNames("lineage")
                .register(registry);
        bytesDeleted = Counter.builder()
                .name("ipt_checkpoint_bytes_deleted")
                .help("Bytes of checkpoints retention deleted from the store")
                .labelNames("lineage")
                .register(registry);
        freshness = Histogram.builder()
                .name("ipt_freshness_seconds")
                .help("From a document's arrival on ipt.documents.raw (its record timestamp, whole seconds) to the "
                        + "promotion of the first champion that trained on it; observed once per document and lineage")
                .labelNames("lineage")
                .classicUpperBounds(
                        1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 28800, 43200, 86400, 172800,
                        345600, 604800)
                .classicOnly()
                .register(registry);
        GaugeWithCallback.builder()
                .name("ipt_freshness_unserved_age_seconds")
                .help("Age of the oldest document a checkpoint of the lineage trained on that no champion serves yet "
                        + "(0 when none waits): grows while a lineage is not promoted")
                .labelNames("lineage")
                .callback(callback -> {
                    long now = System.currentTimeMillis();
                    for (String lineage : freshnessLineages.keySet()) {
                        Long at = oldestUnserved.get(lineage);
                        callback.call(at == null ? 0 : Math.max(0, now - at) / 1000.0, lineage);
                    }
                })
                .register(registry);
        seconds = Histogram.builder()
                .name("ipt_evaluator_evaluation_seconds")
                .help("Time from taking a checkpoint to committing its decision")
                .labelNames("lineage")
                .classicOnly()
                .register(registry);
    }

    void measured(String lineage, PromotionGate.Measure m) {
        taskMetric.labelValues(lineage, m.task(), m.metric(), "candidate").set(m.candidate());
        if (m.champion() != null)
            taskMetric.labelValues(lineage, m.task(), m.metric(), "champion").set(m.champion());
    }

    void transfer(String lineage, ForgettingLedger.Summary champion, ForgettingLedger.Summary candidate) {
        transfer(lineage, "champion", champion);
        transfer(lineage, "candidate", candidate);
        if (champion.forwardTransfer() != null && Double.isFinite(champion.forwardTransfer()))
            forwardTransfer.labelValues(lineage).set(champion.forwardTransfer());
    }

    private void transfer(String lineage, String model, ForgettingLedger.Summary summary) {
        summary.forgetting()
                .forEach((task, f) ->
                        forgetting.labelValues(lineage, task, model).set(f));
        if (summary.backwardTransfer() != null)
            backwardTransfer.labelValues(lineage, model).set(summary.backwardTransfer());
    }

    void snapshot(long version) {
        snapshotVersion.set(version);
    }

    void championScore(boolean cached) {
        championScores.labelValues(cached ? "cache" : "computed").inc();
    }

    void stall(String lineage, int rejectedInARow) {
        sincePromotion.labelValues(lineage).set(rejectedInARow);
    }

    void decided(String lineage, boolean promoted, String rule, long champion, double elapsedSeconds) {
        evaluations
                .labelValues(lineage, promoted ? "promote" : "reject", rule.replaceFirst(":.*", ""))
                .inc();
        championVersion.labelValues(lineage).set(champion);
        seconds.labelValues(lineage).observe(elapsedSeconds);
    }

    void served(String lineage, long version) {
        servingVersion.labelValues(lineage).set(version);
    }

    /** Exports the lineage's failure count from 0, so a rate over it starts with the first failure. */
    void serving(String lineage) {
        servingFailures.labelValues(lineage);
    }

    void servingFailed(String lineage) {
        servingFailures.labelValues(lineage).inc();
    }

    void retention(String lineage, long kept, long keptBytes, long deleted, long deletedBytes) {
        checkpointsRetained.labelValues(lineage).set(kept);
        bytesRetained.labelValues(lineage).set(keptBytes);
        checkpointsDeleted.labelValues(lineage).inc(deleted);
        bytesDeleted.labelValues(lineage).inc(deletedBytes);
    }

    /** The lineage's freshness series exist from here on, at 0, before its first promotion. */
    void freshnessOf(String lineage) {
        if (freshnessLineages.putIfAbsent(lineage, true) == null) freshness.labelValues(lineage);
    }

    void served(String lineage, List<ServedFreshness.Served> served) {
        freshnessOf(lineage);
        for (ServedFreshness.Served s : served)
            for (int i = 0; i < s.documents(); i++)
                freshness.labelValues(lineage).observe(s.seconds());
    }

    void unserved(String lineage, OptionalLong oldestArrivalMillis) {
        freshnessOf(lineage);
        if (oldestArrivalMillis.isPresent()) oldestUnserved.put(lineage, oldestArrivalMillis.getAsLong());
        else oldestUnserved.remove(lineage);
    }
}
