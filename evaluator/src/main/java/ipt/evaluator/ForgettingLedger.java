package ipt.evaluator;

import ipt.schemas.Decision;
import ipt.schemas.EvaluationReport;
import ipt.schemas.TaskResult;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Per lineage, the loss of every champion on every loss task, gathered from its decision history in order (a
 * champion's losses on tasks that arrived after its promotion come from the reports that compared later
 * candidates with it). From it, with "now" the current champion:
 * <ul>
 *   <li>forgetting F_t = L_now,t - min over the lineage's champions of L_t (0: nothing forgotten);
 *   <li>backward transfer: mean over held-out domains but the newest of (L_j,j - L_now,j), where L_j,j is the
 *       loss on domain j of the last champion promoted while j was the newest domain (negative: forgetting);
 *   <li>forward transfer: mean over held-out domains after the first of (ln V - L on j of the champion in place
 *       when j arrived), against a model that predicts uniformly (positive: earlier training helped on j).
 * </ul>
 * The same forgetting and backward transfer are also measured for the latest candidate in place of "now": what is
 * being trained can forget while what is served (a champion frozen by rejections) does not.
 */
final class ForgettingLedger {

    record Summary(Map<String, Double> forgetting, Double backwardTransfer, Double forwardTransfer) {}

    private static final class Lineage {
        final List<String> tasks = new ArrayList<>();
        final List<String> domains = new ArrayList<>();
        final Map<Long, Map<String, Double>> losses = new HashMap<>();
        final List<Long> champions = new ArrayList<>();
        final Map<String, Long> championAtArrival = new HashMap<>();
        final Map<String, Long> lastOfStage = new HashMap<>();
        final List<EvaluationReport> sincePromotion = new ArrayList<>();
        Map<String, Double> lastCandidate = Map.of();
        Long current;
    }

    private final Map<String, Lineage> lineages = new HashMap<>();
    private final java.util.Set<String> recorded = new java.util.HashSet<>();

    /**
     * Takes in one decision; decisions must come in the order they were made. One already taken (the evaluator's
     * own, read back from the topic) is ignored.
     */
    synchronized void record(EvaluationReport r) {
        if (!recorded.add(r.getLineage() + "/" + r.getCandidateVersion() + "/" + r.getDecidingRule() + "/"
                + r.getEvaluatedAt().toEpochMilli())) return;
        Lineage l = lineages.computeIfAbsent(r.getLineage(), k -> new Lineage());
        Long champion = r.getChampionVersion();
        for (TaskResult t : r.getTasks()) {
            if (!t.getMetric().equals(TaskScores.LOSS)) continue;
            String task = t.getTask();
            if (!l.tasks.contains(task)) {
                l.tasks.add(task);
                if (task.startsWith("heldout/")) {
                    l.domains.add(task);
                    if (champion != null) l.championAtArrival.put(task, champion);
                }
            }
            if (champion != null && t.getChampion() != null)
                l.losses.computeIfAbsent(champion, v -> new HashMap<>()).putIfAbsent(task, t.getChampion());
        }
        if (!"manual".equals(r.getDecidingRule())) l.lastCandidate = candidateLosses(r);
        if (r.getDecision() != Decision.PROMOTE) {
            l.sincePromotion.add(r);
            return;
        }
        l.sincePromotion.clear();
        long version = r.getCandidateVersion();
        if (!"manual".equals(r.getDecidingRule())) {
            l.losses.computeIfAbsent(version, v -> new HashMap<>()).putAll(l.lastCandidate);
            if (!l.domains.isEmpty()) l.lastOfStage.put(l.domains.get(l.domains.size() - 1), version);
        }
        l.current = version;
        if (!l.champions.contains(version)) l.champions.add(version);
    }

    /** The lowest loss any champion of the lineage reached on each loss task (a rolled-back-to champion's included). */
    synchronized Map<String, Double> best(String lineage) {
        Lineage l = lineages.get(lineage);
        Map<String, Double> best = new HashMap<>();
        if (l == null) return best;
        for (long c : l.champions) {
            l.losses.getOrDefault(c, Map.of()).forEach((task, loss) -> {
                if (Double.isFinite(loss)) best.merge(task, loss, Math::min);
            });
        }
        return best;
    }

    /** The candidates rejected since the lineage's last promotion. */
    synchronized Stall stall(String lineage) {
        Lineage l = lineages.get(lineage);
        return Stall.of(l == null ? List.of() : l.sincePromotion);
    }

    synchronized java.util.Set<String> lineages() {
        return java.util.Set.copyOf(lineages.keySet());
    }

    private static Map<String, Double> candidateLosses(EvaluationReport r) {
        Map<String, Double> losses = new HashMap<>();
        for (TaskResult t : r.getTasks())
            if (t.getMetric().equals(TaskScores.LOSS)) losses.put(t.getTask(), t.getCandidate());
        return losses;
    }

    /**
     * The champion's forgetting per loss task and its transfer; {@code uniformLoss} is ln of the vocabulary size.
     */
    synchronized Summary summary(String lineage, double uniformLoss) {
        Lineage l = lineages.get(lineage);
        if (l == null || l.current == null) return new Summary(Map.of(), null, null);
        return summarise(l, l.losses.getOrDefault(l.current, Map.of()), uniformLoss);
    }

    /**
     * The same measures for the lineage's latest judged candidate, promoted or not (a manual promotion judges no
     * candidate); forgetting is against the best any champion reached.
     */
    synchronized Summary candidateSummary(String lineage, double uniformLoss) {
        Lineage l = lineages.get(lineage);
        if (l == null || l.lastCandidate.isEmpty()) return new Summary(Map.of(), null, null);
        return summarise(l, l.lastCandidate, uniformLoss);
    }

    private static Summary summarise(Lineage l, Map<String, Double> now, double uniformLoss) {
        Map<String, Double> forgetting = new LinkedHashMap<>();
        for (String task : l.tasks) {
            Double current = now.get(task);
            if (current == null || !Double.isFinite(current)) continue;
            double best = current;
            for (long c : l.champions) {
                Double loss = l.losses.getOrDefault(c, Map.of()).get(task);
                if (loss != null && Double.isFinite(loss)) best = Math.min(best, loss);
            }
            forgetting.put(task, current - best);
        }
        List<Double> backward = new ArrayList<>();
        for (int j = 0; j + 1 < l.domains.size(); j++) {
            String domain = l.domains.get(j);
            Long end = l.lastOfStage.get(domain);
            Double atEnd =
                    end == null ? null : l.losses.getOrDefault(end, Map.of()).get(domain);
            Double current = now.get(domain);
            if (atEnd != null && current != null) backward.add(atEnd - current);
        }
        List<Double> forward = new ArrayList<>();
        for (int j = 1; j < l.domains.size(); j++) {
            String domain = l.domains.get(j);
            Long before = l.championAtArrival.get(domain);
            Double loss = before == null
                    ? null
                    : l.losses.getOrDefault(before, Map.of()).get(domain);
            if (loss != null) forward.add(uniformLoss - loss);
        }
        return new Summary(forgetting, mean(backward), mean(forward));
    }

    private static Double mean(List<Double> values) {
        if (values.isEmpty()) return null;
        double sum = 0;
        for (double v : values) sum += v;
        return sum / values.size();
    }
}
