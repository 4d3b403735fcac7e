package ipt.evaluator;

import ipt.model.LanguageModel;
import ipt.schemas.Decision;
import ipt.schemas.EvaluationReport;
import ipt.schemas.TaskResult;
import java.io.IOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The evaluator's default gate (the rules {@code EvaluatorConfig.fromEnv} gives with no settings) over held-out
 * text, without Kafka: it scores each candidate as the evaluator scores a held-out task, keeps the champion's scores,
 * and writes the report the evaluator would. It lives in the evaluator's package (in bench/) to use the gate unchanged.
 */
public final class OfflineGate {
  private final PromotionGate gate;
  private final Map<String, List<String>> heldOut;
  private Long championVersion;
  private Map<String, Double> champion;

  /** {@code heldOut}: documents per domain, in the order the domains became tasks. */
  public OfflineGate(Map<String, List<String>> heldOut) throws IOException {
    this.heldOut = new LinkedHashMap<>(heldOut);
    this.gate = new PromotionGate(EvaluatorConfig.fromEnv(Map.of()).rules());
  }

  /** A gate that has judged what this one has (same champion), for a lineage branched from the judged one. */
  public OfflineGate copy() throws IOException {
    OfflineGate c = new OfflineGate(heldOut);
    c.championVersion = championVersion;
    c.champion = champion;
    return c;
  }

  /** Scores the candidate on every domain and judges it against the champion; a promotion makes it the champion. */
  public EvaluationReport judge(String lineage, long version, LanguageModel candidate) {
    Map<String, Double> losses = new LinkedHashMap<>();
    List<PromotionGate.Measure> measures = new ArrayList<>();
    String newest = null;
    for (Map.Entry<String, List<String>> domain : heldOut.entrySet()) {
      Task.Text task = new Task.Text(HeldOutSnapshots.taskName(domain.getKey()), domain.getValue());
      TaskScores.Score score = TaskScores.score(candidate, task);
      double loss = score.metrics().get(TaskScores.LOSS);
      losses.put(domain.getKey(), loss);
      measures.add(new PromotionGate.Measure(task.name(), TaskScores.LOSS, loss, champion == null ? null : champion.get(domain.getKey()),
          score.count()));
      newest = task.name();
    }
    PromotionGate.Verdict verdict = gate.decide(lineage, measures, champion != null, newest);
    List<TaskResult> tasks = measures.stream().map(m -> TaskResult.newBuilder().setTask(m.task()).setMetric(m.metric())
        .setCandidate(m.candidate()).setChampion(m.champion()).setRelativeChange(m.relativeChange()).setBudget(gate.budget(m))
        .setSequences(m.count()).setPassed(PromotionGate.passed(verdict, m)).setHigherIsBetter(false).build()).toList();
    EvaluationReport report = EvaluationReport.newBuilder().setLineage(lineage).setCandidateVersion(version)
        .setChampionVersion(championVersion).setCandidateStep(candidate.step()).setTasks(tasks)
        .setDecision(verdict.promote() ? Decision.PROMOTE : Decision.REJECT).setDecidingRule(verdict.rule()).setReason(verdict.reason())
        .setEvaluatedAt(Instant.EPOCH).build();
    if (verdict.promote()) {
      championVersion = version;
      champion = losses;
    }
    return report;
  }
}
