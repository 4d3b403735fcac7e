package ipt.evaluator;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;

/**
 * Applies {@link GateRules} to a candidate's measures. Every rule is listed with its outcome; the verdict names
 * the deciding one: the first failure in the order non-finite, value threshold, change threshold (the worst
 * relative change among those that fail), target improvement; else first-checkpoint or no-regression. Without a
 * champion only value thresholds (and the non-finite rule) apply.
 */
final class PromotionGate {
  /** One metric of one task, on the candidate and (if there is one) the champion, over the same data. */
  record Measure(String task, String metric, double candidate, Double champion, int count) {
    boolean higherIsBetter() {
      return TaskScores.higherIsBetter(metric);
    }

    String name() {
      return task + "/" + metric;
    }

    /** (candidate - champion) / |champion|, or null without a champion. */
    Double relativeChange() {
      return champion == null ? null : (candidate - champion) / Math.abs(champion);
    }

    /** How much worse than the champion the candidate is: positive is worse, in the metric's own units. */
    double worsening() {
      return higherIsBetter() ? champion - candidate : candidate - champion;
    }
  }

  record Outcome(String rule, boolean passed, String detail) {}

  record Verdict(boolean promote, String rule, String reason, List<Outcome> outcomes) {
    Verdict {
      outcomes = List.copyOf(outcomes);
    }
  }

  private final GateRules rules;

  PromotionGate(GateRules rules) {
    this.rules = rules;
  }

  GateRules rules() {
    return rules;
  }

  /** The largest relative worsening a change threshold allows on this measure, if one sets it (for the report). */
  Double budget(Measure m) {
    return rules.rulesFor(m.task(), m.metric()).stream()
        .map(r -> r.change() == null ? null : r.change().relative()).filter(java.util.Objects::nonNull).min(Double::compare).orElse(null);
  }

  /** Whether every rule on this measure passed. */
  static boolean passed(Verdict verdict, Measure m) {
    return verdict.outcomes().stream().filter(o -> o.rule().endsWith(":" + m.name())).allMatch(Outcome::passed);
  }

  Verdict decide(String lineage, List<Measure> measures, boolean hasChampion, String newestHeldOut) {
    if (measures.isEmpty()) return new Verdict(false, "no-tasks", "no task to judge the candidate on yet (no domain has enough held-out text)", List.of());
    List<Outcome> nonFinite = new ArrayList<>();
    List<Outcome> values = new ArrayList<>();
    List<Outcome> changes = new ArrayList<>();
    List<Measure> worse = new ArrayList<>();
    for (Measure m : measures) {
      boolean finite = Double.isFinite(m.candidate());
      nonFinite.add(new Outcome("non-finite:" + m.name(), finite, m.metric() + " " + m.candidate()));
      for (GateRules.TaskRule rule : rules.rulesFor(m.task(), m.metric())) {
        if (rule.valueThreshold() != null) {
          double bound = rule.valueThreshold();
          boolean ok = finite && (m.higherIsBetter() ? m.candidate() >= bound : m.candidate() <= bound);
          values.add(new Outcome("value:" + m.name(), ok, String.format(Locale.ROOT, "%s %.4f, must be %s %.4f",
              m.metric(), m.candidate(), m.higherIsBetter() ? ">=" : "<=", bound)));
        }
        if (rule.change() != null && hasChampion && m.champion() != null) {
          Outcome o = change(m, rule.change());
          changes.add(o);
          if (!o.passed()) worse.add(m);
        }
      }
    }
    List<Outcome> target = new ArrayList<>();
    if (rules.target() != null && hasChampion) target.add(target(lineage, measures, newestHeldOut));

    List<Outcome> all = new ArrayList<>(nonFinite);
    all.addAll(values);
    all.addAll(changes);
    all.addAll(target);
    for (Outcome o : nonFinite) if (!o.passed()) return new Verdict(false, o.rule(), o.detail(), all);
    for (Outcome o : values) if (!o.passed()) return new Verdict(false, o.rule(), o.detail(), all);
    if (!worse.isEmpty()) {
      worse.sort(Comparator.comparingDouble((Measure m) -> -m.worsening() / Math.abs(m.champion())));
      StringBuilder reason = new StringBuilder();
      for (Outcome o : changes) {
        if (o.passed()) continue;
        if (reason.length() > 0) reason.append("; ");
        reason.append(o.rule().substring("regression:".length())).append(' ').append(o.detail());
      }
      return new Verdict(false, "regression:" + worse.get(0).name(), reason.toString(), all);
    }
    for (Outcome o : target) if (!o.passed()) return new Verdict(false, o.rule(), o.detail(), all);
    if (!hasChampion) return new Verdict(true, "first-checkpoint", "first checkpoint of the lineage: every metric finite and within its value threshold", all);
    return new Verdict(true, "no-regression", "every rule passed (" + all.size() + ")", all);
  }

  private static Outcome change(Measure m, GateRules.Change limit) {
    double worse = m.worsening();
    double relative = worse / Math.abs(m.champion());
    boolean ok = Double.isFinite(worse)
        && (limit.relative() == null || relative <= limit.relative())
        && (limit.absolute() == null || worse <= limit.absolute());
    return new Outcome("regression:" + m.name(), ok, String.format(Locale.ROOT, "%.4f -> %.4f (%+.2f%%; %s)",
        m.champion(), m.candidate(), 100 * (m.candidate() - m.champion()) / Math.abs(m.champion()), bounds(limit, "at most", "worse")));
  }

  private Outcome target(String lineage, List<Measure> measures, String newestHeldOut) {
    GateRules.Target t = rules.target();
    String task = t.taskFor(lineage, newestHeldOut);
    String rule = "target:" + task + "/" + t.metric();
    Measure m = measures.stream().filter(x -> x.task().equals(task) && x.metric().equals(t.metric())).findFirst().orElse(null);
    if (m == null || m.champion() == null) return new Outcome(rule, false, "no " + t.metric() + " on " + task + " for both candidate and champion");
    double gain = -m.worsening();
    double relative = gain / Math.abs(m.champion());
    boolean ok = (t.minImprovement().relative() == null || relative >= t.minImprovement().relative())
        && (t.minImprovement().absolute() == null || gain >= t.minImprovement().absolute());
    return new Outcome(rule, ok, String.format(Locale.ROOT, "%.4f -> %.4f (%+.2f%%; %s)", m.champion(), m.candidate(),
        100 * (m.candidate() - m.champion()) / Math.abs(m.champion()), bounds(t.minImprovement(), "at least", "better")));
  }

  private static String bounds(GateRules.Change c, String bound, String direction) {
    List<String> parts = new ArrayList<>();
    if (c.relative() != null) parts.add(String.format(Locale.ROOT, "%.2f%%", 100 * c.relative()));
    if (c.absolute() != null) parts.add(String.format(Locale.ROOT, "%.4f", c.absolute()));
    return bound + " " + String.join(" and ", parts) + " " + direction;
  }

}
