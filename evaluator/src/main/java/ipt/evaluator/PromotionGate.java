package ipt.evaluator;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;

/**
 * Promote iff every loss is finite and no task's loss rose more than the relative budget over the
 * champion's on the same held-out data. The verdict names the rule that decided.
 */
final class PromotionGate {
  /** One task measured on candidate and (if there is one) champion. */
  record Measure(String task, double candidate, Double champion, int sequences) {
    Double relativeChange() {
      return champion == null ? null : (candidate - champion) / champion;
    }
  }

  record Verdict(boolean promote, String rule, String reason) {}

  private final double budget;

  PromotionGate(double budget) {
    this.budget = budget;
  }

  double budget() {
    return budget;
  }

  boolean passes(Measure m) {
    if (!Double.isFinite(m.candidate())) return false;
    Double change = m.relativeChange();
    return change == null || change <= budget;
  }

  Verdict decide(List<Measure> measures, boolean hasChampion) {
    if (measures.isEmpty()) return new Verdict(false, "no-heldout-data", "no held-out data to judge the candidate on");
    for (Measure m : measures) {
      if (!Double.isFinite(m.candidate())) return new Verdict(false, "non-finite", m.task() + " loss is " + m.candidate());
    }
    if (!hasChampion) return new Verdict(true, "first-checkpoint", "first checkpoint of the lineage, every loss finite");
    List<Measure> regressed = new ArrayList<>();
    for (Measure m : measures) if (!passes(m)) regressed.add(m);
    if (regressed.isEmpty()) {
      return new Verdict(true, "no-regression", String.format(Locale.ROOT, "no task rose more than %.1f%% over the champion", budget * 100));
    }
    regressed.sort(Comparator.comparingDouble(m -> -m.relativeChange()));
    StringBuilder reason = new StringBuilder();
    for (Measure m : regressed) {
      if (reason.length() > 0) reason.append("; ");
      reason.append(String.format(Locale.ROOT, "%s %.4f -> %.4f (%+.1f%%, budget %.1f%%)",
          m.task(), m.champion(), m.candidate(), m.relativeChange() * 100, budget * 100));
    }
    return new Verdict(false, "regression:" + regressed.get(0).task(), reason.toString());
  }
}
