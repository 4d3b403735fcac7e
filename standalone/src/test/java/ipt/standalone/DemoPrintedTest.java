package ipt.standalone;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/** The demo's printed figures read back as the series the evaluator's gauges must end at. */
class DemoPrintedTest {
    private static final String PRINTED = """
            lineage    round   step  task           candidate  champion   change  decision
            replay        v2     20  heldout/en        2.1000    2.3000    -8.7%  PROMOTE (target)
            replay        v3     30  heldout/en        2.0500    2.1000    -2.4%  REJECT (regression)
            replay        v3     30  heldout/java      3.0000         -        -
            phase 1/2 (en) done in 40 s: replay 1/2 promoted, serving v2; no-replay 1/1 promoted, serving v1
            phase 2/2 (java) done in 50 s: replay 0/1 promoted, serving v2 (mostly regression)

            forgetting F = held-out loss now − the lowest any champion had (nats/token), loss now in brackets; \
            served: the champion, trained: the latest candidate
            lineage    task                  served F (loss)            trained F
            replay     heldout/en         +0.0000 (2.1000)              +0.0500
            replay     heldout/java       +0.0100 (3.0100)                    -
            replay     backward transfer: served -0.0100, trained -; forward transfer +2.5000
            """;

    @Test
    void lastRowsPhaseLinesAndTheForgettingTableBecomeSeries() {
        Map<String, Double> series = new TreeMap<>();
        DemoPrinted.truths(PRINTED)
                .forEach(t -> series.put(
                        t.sample().name().replace("ipt_evaluator_", "")
                                + new TreeMap<>(t.sample().labels()),
                        t.sample().value()));
        assertEquals(
                Map.ofEntries(
                        Map.entry("task_metric{lineage=replay, metric=loss, model=candidate, task=heldout/en}", 2.05),
                        Map.entry("task_metric{lineage=replay, metric=loss, model=champion, task=heldout/en}", 2.1),
                        Map.entry("task_metric{lineage=replay, metric=loss, model=candidate, task=heldout/java}", 3.0),
                        Map.entry("champion_version{lineage=replay}", 2.0),
                        Map.entry("ipt_serving_version{lineage=replay}", 2.0),
                        Map.entry("champion_version{lineage=no-replay}", 1.0),
                        Map.entry("ipt_serving_version{lineage=no-replay}", 1.0),
                        Map.entry("forgetting{lineage=replay, model=champion, task=heldout/en}", 0.0),
                        Map.entry("forgetting{lineage=replay, model=candidate, task=heldout/en}", 0.05),
                        Map.entry("forgetting{lineage=replay, model=champion, task=heldout/java}", 0.01),
                        Map.entry("backward_transfer{lineage=replay, model=champion}", -0.01),
                        Map.entry("forward_transfer{lineage=replay}", 2.5)),
                series);
    }

    @Test
    void aHistogramQuantileIsCheckedThroughItsObservationCount() {
        assertEquals(
                "sum by (lineage) (rate(ipt_trainer_round_seconds_count{lineage=~\".*\"}[15s]))",
                PanelTruth.counted("histogram_quantile(0.9, sum by (le, lineage) "
                        + "(rate(ipt_trainer_round_seconds_bucket{lineage=~\".*\"}[15s])))"));
        assertEquals(null, PanelTruth.counted("ipt_trainer_checkpoint_bytes{lineage=~\".*\"} / 1e6"));
    }

    @Test
    void exposedSamplesKeepEscapedLabelValues() {
        assertEquals(
                new MetricSample("ipt_x_total", Map.of("a", "q\"b", "c", "d"), 3.0),
                MetricSample.parse("# HELP x\nipt_x_total{a=\"q\\\"b\",c=\"d\"} 3.0\n")
                        .get(0));
    }
}
