package ipt.evaluator;

import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.Gauge;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.util.HashMap;
import java.util.Map;

/** Evaluations, decisions, held-out losses and forgetting, per lineage and domain. */
final class EvaluatorMetrics {
  private final Counter evaluations;
  private final Gauge heldOutLoss;
  private final Gauge forgetting;
  private final Gauge championVersion;
  private final Histogram seconds;
  private final Map<String, Double> bestLoss = new HashMap<>();

  EvaluatorMetrics(PrometheusRegistry registry) {
    evaluations = Counter.builder().name("ipt_evaluator_evaluations_total").help("Checkpoints evaluated, by decision and deciding rule").labelNames("lineage", "decision", "rule").register(registry);
    heldOutLoss = Gauge.builder().name("ipt_evaluator_heldout_loss").help("Held-out loss (nats/token) of the last candidate and champion").labelNames("lineage", "domain", "model").register(registry);
    forgetting = Gauge.builder().name("ipt_evaluator_forgetting").help("F = candidate loss now minus the lowest candidate loss seen on the domain (nats/token)").labelNames("lineage", "domain").register(registry);
    championVersion = Gauge.builder().name("ipt_evaluator_champion_version").help("Version of the promoted champion").labelNames("lineage").register(registry);
    seconds = Histogram.builder().name("ipt_evaluator_evaluation_seconds").help("Time to evaluate one checkpoint").labelNames("lineage").classicOnly().register(registry);
  }

  void measured(String lineage, String domain, double candidate, Double champion) {
    heldOutLoss.labelValues(lineage, domain, "candidate").set(candidate);
    if (champion != null) heldOutLoss.labelValues(lineage, domain, "champion").set(champion);
    if (Double.isFinite(candidate)) {
      double best = bestLoss.merge(lineage + "\u0000" + domain, candidate, Math::min);
      forgetting.labelValues(lineage, domain).set(candidate - best);
    }
  }

  void decided(String lineage, boolean promoted, String rule, long champion, double elapsedSeconds) {
    evaluations.labelValues(lineage, promoted ? "promote" : "reject", rule.replaceFirst(":.*", "")).inc();
    championVersion.labelValues(lineage).set(champion);
    seconds.labelValues(lineage).observe(elapsedSeconds);
  }
}
