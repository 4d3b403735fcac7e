package ipt.evaluator;

import ipt.model.LanguageModel;
import ipt.model.Task;
import ipt.schemas.Decision;
import ipt.schemas.EvaluationReport;
import ipt.schemas.TaskResult;
import java.io.IOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The evaluator's default gate (the policy {@code EvaluatorConfig.fromEnv} gives with no settings) over held-out
 * text, without Kafka: it scores each candidate as the evaluator scores a held-out task, keeps the champion's scores
 * and the lowest loss any champion reached, weighs the tasks by the tokens the lineage trained on per domain, and
 * writes the report the evaluator would. It lives in the evaluator's package (in bench/) to use the gate unchanged.
 */
public final class OfflineGate {
    private final PromotionGate gate;
    private final Map<String, List<String>> heldOut;
    private Long championVersion;
    private Map<String, Double> champion;
    private final Map<String, Double> best = new HashMap<>();

    /** {@code heldOut}: documents per domain, in the order the domains became tasks. */
    public OfflineGate(Map<String, List<String>> heldOut) throws IOException {
        this.heldOut = new LinkedHashMap<>(heldOut);
        this.gate = new PromotionGate(EvaluatorConfig.fromEnv(Map.of()).gate());
    }

    /** A gate that has judged what this one has (same champion), for a lineage branched from the judged one. */
    public OfflineGate copy() throws IOException {
        OfflineGate c = new OfflineGate(heldOut);
        c.championVersion = championVersion;
        c.champion = champion;
        c.best.putAll(best);
        return c;
    }

    /**
     * Scores the candidate on every domain and judges it against the champion, {@code domainTokens} being what the
     * lineage trained on per domain (as its checkpoint event says); a promotion makes it the champion.
     */
    public EvaluationReport judge(
            String lineage, long version, long step, LanguageModel candidate, Map<String, Long> domainTokens) {
        Map<String, Double> losses = new LinkedHashMap<>();
        List<PromotionGate.Measure> measures = new ArrayList<>();
        String newest = null;
        for (Map.Entry<String, List<String>> domain : heldOut.entrySet()) {
            Task.Text task = new Task.Text(HeldOutSnapshots.taskName(domain.getKey()), domain.getValue());
            TaskScores.Score score = TaskScores.score(candidate, task);
            double loss = score.metrics().get(TaskScores.LOSS);
            losses.put(task.name(), loss);
            measures.add(new PromotionGate.Measure(
                    task.name(),
                    TaskScores.LOSS,
                    loss,
                    champion == null ? null : champion.get(task.name()),
                    score.count()));
            newest = task.name();
        }
        PromotionGate.History history = PromotionGate.History.of(domainTokens, losses.keySet(), best);
        PromotionGate.Verdict verdict = gate.decide(lineage, measures, champion != null, newest, history);
        List<TaskResult> tasks = measures.stream()
                .map(m -> TaskResult.newBuilder()
                        .setTask(m.task())
                        .setMetric(m.metric())
                        .setCandidate(m.candidate())
                        .setChampion(m.champion())
                        .setRelativeChange(m.relativeChange())
                        .setBudget(gate.budget(m, history))
                        .setSequences(m.count())
                        .setPassed(PromotionGate.passed(verdict, m))
                        .setHigherIsBetter(false)
                        .setBest(best.get(m.task()))
                        .build())
                .toList();
        EvaluationReport report = EvaluationReport.newBuilder()
                .setLineage(lineage)
                .setCandidateVersion(version)
                .setChampionVersion(championVersion)
                .setCandidateStep(step)
                .setTasks(tasks)
                .setDecision(verdict.promote() ? Decision.PROMOTE : Decision.REJECT)
                .setDecidingRule(verdict.rule())
                .setReason(verdict.reason())
                .setEvaluatedAt(Instant.EPOCH)
                .build();
        if (verdict.promote()) {
            championVersion = version;
            champion = losses;
            losses.forEach((task, loss) -> best.merge(task, loss, Math::min));
        }
        return report;
    }
}
