package ipt.bench;

import ipt.bench.ContinualPretraining.Phase1;
import ipt.bench.ContinualPretraining.Result;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.ToDoubleFunction;

/** The experiment's table, its expectations checked against the figures, and the service run beside the offline one. */
record ExperimentReport(List<Result> results, Map<Long, Phase1> phase1, ServiceArms.Outcome service, int steps, double minutes) {
  /** The bars the issue sets, in nats per token. */
  static final double B_SPREAD = 0.03;
  static final double BASELINE_GAP = 0.03;
  static final double F_RATIO = 0.3;

  String markdown() {
    StringBuilder md = new StringBuilder();
    md.append(String.format(Locale.ROOT, "Phase budget %d steps (16 x 129 tokens each); seeds %s; %.1f minutes. Held-out loss in nats per byte, "
        + "mean ± half the range over seeds. F: rise of %s's loss over its phase-1 value. Phase 1 ends at %s %s, %s %s.%n%n", steps,
        phase1.keySet(), minutes, ContinualPretraining.A, ContinualPretraining.A, spread(phase1.values(), Phase1::a), ContinualPretraining.B,
        spread(phase1.values(), Phase1::b)));
    md.append("| arm | ").append(ContinualPretraining.A).append(" loss | F | ").append(ContinualPretraining.B).append(" loss | average |\n");
    md.append("|---|---|---|---|---|\n");
    for (String arm : arms()) {
      List<Result> rs = of(arm);
      boolean phase2 = !rs.get(0).curve().isEmpty();
      md.append(String.format(Locale.ROOT, "| %s | %s | %s | %s | %s |%n", arm, spread(rs, Result::a),
          phase2 ? spread(rs, this::forgetting) : "—", spread(rs, Result::b), spread(rs, Result::average)));
    }
    md.append("\nExpected (Ibrahim et al. 2024), checked on the means:\n\n");
    double f0 = mean(of("replay 0%"), this::forgetting);
    double f5 = mean(of("replay 5%"), this::forgetting);
    double f25 = mean(of("replay 25%"), this::forgetting);
    double f50 = mean(of("replay 50%"), this::forgetting);
    check(md, f0 > f5 && f5 > f25 && f25 > f50, String.format(Locale.ROOT, "forgetting falls monotonically with replay: F = %.4f, %.4f, %.4f, %.4f at 0, 5, 25, 50%%",
        f0, f5, f25, f50));
    check(md, f25 <= F_RATIO * f0, String.format(Locale.ROOT, "F(25%%) <= %.1f F(0%%): %.4f vs %.4f (ratio %.2f)", F_RATIO, f25, F_RATIO * f0, f25 / f0));
    double[] bs = {mean(of("replay 0%"), Result::b), mean(of("replay 5%"), Result::b), mean(of("replay 25%"), Result::b)};
    double bRange = Math.max(bs[0], Math.max(bs[1], bs[2])) - Math.min(bs[0], Math.min(bs[1], bs[2]));
    check(md, bRange <= B_SPREAD, String.format(Locale.ROOT, "%s's loss at 0-25%% replay within %.2f: %.4f, %.4f, %.4f (range %.4f)",
        ContinualPretraining.B, B_SPREAD, bs[0], bs[1], bs[2], bRange));
    double avg25 = mean(of("replay 25%"), Result::average);
    double avgMixed = mean(of("A∪B from scratch"), Result::average);
    check(md, Math.abs(avg25 - avgMixed) <= BASELINE_GAP, String.format(Locale.ROOT,
        "the 25%% arm's average within %.2f of A∪B from scratch: %.4f vs %.4f (%+.4f)", BASELINE_GAP, avg25, avgMixed, avg25 - avgMixed));
    ServiceArms.Judged none = judged(0);
    ServiceArms.Judged quarter = judged(0.25);
    check(md, none.decision().equals("REJECT") && quarter.decision().equals("PROMOTE"), String.format(Locale.ROOT,
        "the evaluator's default gate rejects the 0%% arm and promotes the 25%% arm: %s (%s), %s (%s)", none.decision(), none.reason(),
        quarter.decision(), quarter.reason()));
    md.append(String.format(Locale.ROOT, "%nThrough the service (Kafka -> trainer -> evaluator, seed %d, %.1f minutes; evaluator's held-out text "
        + "identical to the offline run's: %s) against the offline run of the same seed:%n%n", ServiceArms.SEED, service.minutes(),
        service.heldOutIdentical() ? "yes" : "NO"));
    md.append("| arm | phase 1 ").append(ContinualPretraining.A).append(" service / offline | ").append(ContinualPretraining.A)
        .append(" service / offline | ").append(ContinualPretraining.B).append(" service / offline | seeds' range (")
        .append(ContinualPretraining.A).append(", ").append(ContinualPretraining.B).append(") | gate |\n|---|---|---|---|---|---|\n");
    for (ServiceArms.Judged j : service.lineages()) {
      String arm = "replay " + Math.round(j.replay() * 100) + "%";
      Result offline = of(arm).stream().filter(r -> r.seed() == ServiceArms.SEED).findFirst().orElse(null);
      Phase1 p1 = phase1.get(ServiceArms.SEED);
      md.append(String.format(Locale.ROOT, "| %s | %.4f / %s | %.4f / %s | %.4f / %s | %.4f, %.4f | %s: %s |%n", arm, j.phase1A(),
          p1 == null ? "—" : String.format(Locale.ROOT, "%.4f", p1.a()), j.a(), offline == null ? "—" : String.format(Locale.ROOT, "%.4f", offline.a()),
          j.b(), offline == null ? "—" : String.format(Locale.ROOT, "%.4f", offline.b()), range(of(arm), Result::a), range(of(arm), Result::b),
          j.decision(), j.rule()));
    }
    return md.toString();
  }

  private ServiceArms.Judged judged(double replay) {
    return service.lineages().stream().filter(j -> j.replay() == replay).findFirst().orElseThrow();
  }

  private static void check(StringBuilder md, boolean met, String what) {
    md.append("- ").append(met ? "met" : "NOT met").append(": ").append(what).append('\n');
  }

  private double forgetting(Result r) {
    return r.a() - phase1.get(r.seed()).a();
  }

  private List<String> arms() {
    LinkedHashSet<String> names = new LinkedHashSet<>();
    results.forEach(r -> names.add(r.arm()));
    return new ArrayList<>(names);
  }

  private List<Result> of(String arm) {
    return results.stream().filter(r -> r.arm().equals(arm)).toList();
  }

  private static <T> double mean(List<T> xs, ToDoubleFunction<T> f) {
    return xs.stream().mapToDouble(f).average().orElse(Double.NaN);
  }

  private static <T> double range(List<T> xs, ToDoubleFunction<T> f) {
    return xs.stream().mapToDouble(f).max().orElse(Double.NaN) - xs.stream().mapToDouble(f).min().orElse(Double.NaN);
  }

  private static <T> String spread(java.util.Collection<T> xs, ToDoubleFunction<T> f) {
    List<T> list = List.copyOf(xs);
    return String.format(Locale.ROOT, "%.4f ± %.4f", mean(list, f), range(list, f) / 2);
  }
}
