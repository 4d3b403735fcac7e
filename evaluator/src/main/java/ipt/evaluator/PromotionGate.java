package ipt.evaluator;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Applies a {@link GatePolicy} to a candidate's measures. Every rule is listed with its outcome; the verdict names
 * the deciding one: the first failure in the order non-finite, value threshold, change against the champion (the
 * worst relative change among those that fail), bound against the lineage's best, stream-weighted average, target
 * improvement; else first-checkpoint or no-regression. Without a champion only value thresholds (and the
 * non-finite rule) apply. A held-out domain the lineage has not trained on is measured and listed, never vetoes.
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

    /**
     * What the gate knows of the lineage beyond the two models: the weight of every learned held-out task (its
     * domain's share of the tokens the lineage trained on; a held-out task absent here was never trained on) and
     * the lowest loss any champion of the lineage reached on each task.
     */
    record History(Map<String, Double> weights, Map<String, Double> best) {
        History {
            weights = Map.copyOf(weights);
            best = Map.copyOf(best);
        }

        /**
         * Weights from the tokens per domain a checkpoint says its lineage trained on; when it says nothing (a trainer
         * older than the field) every held-out task counts as learned, with equal weights.
         */
        static History of(Map<String, Long> domainTokens, Collection<String> heldOutTasks, Map<String, Double> best) {
            Map<String, Double> weights = new LinkedHashMap<>();
            long total = 0;
            for (String task : heldOutTasks) total += domainTokens.getOrDefault(domainOf(task), 0L);
            for (String task : heldOutTasks) {
                long tokens = domainTokens.getOrDefault(domainOf(task), 0L);
                if (total == 0 && domainTokens.isEmpty()) weights.put(task, 1.0 / heldOutTasks.size());
                else if (tokens > 0) weights.put(task, tokens / (double) total);
            }
            return new History(weights, best);
        }

        /** Every held-out task learned with equal weight, no best known. */
        static History everyTask(List<Measure> measures) {
            return of(
                    Map.of(),
                    measures.stream()
                            .map(Measure::task)
                            .filter(PromotionGate::heldOut)
                            .distinct()
                            .toList(),
                    Map.of());
        }

        boolean learned(String task) {
            return !heldOut(task) || weights.containsKey(task);
        }
    }

    record Outcome(String rule, boolean passed, String detail) {}

    record Verdict(boolean promote, String rule, String reason, List<Outcome> outcomes) {
        Verdict {
            outcomes = List.copyOf(outcomes);
        }
    }

    private final GatePolicy policy;

    PromotionGate(GatePolicy policy) {
        this.policy = policy;
    }

    /** The rules policy with these rules and no bound against the best. */
    PromotionGate(GateRules rules) {
        this(GatePolicy.rules(rules, null));
    }

    GatePolicy policy() {
        return policy;
    }

    static boolean heldOut(String task) {
        return task.startsWith(HeldOutSnapshots.taskName(""));
    }

    static String domainOf(String task) {
        return task.substring(HeldOutSnapshots.taskName("").length());
    }

    /** The largest relative worsening against the champion a rule allows on this measure, if one sets it (for the
     * report). */
    Double budget(Measure m, History history) {
        if (!history.learned(m.task())) return null;
        if (policy.isStream()) return m.metric().equals(TaskScores.LOSS) ? policy.taskCap() : null;
        return policy.rules().rulesFor(m.task(), m.metric()).stream()
                .map(r -> r.change() == null ? null : r.change().relative())
                .filter(java.util.Objects::nonNull)
                .min(Double::compare)
                .orElse(null);
    }

    /** Whether every rule on this measure passed. */
    static boolean passed(Verdict verdict, Measure m) {
        return verdict.outcomes().stream()
                .filter(o -> o.rule().endsWith(":" + m.name()))
                .allMatch(Outcome::passed);
    }

    /** Judges with every held-out task counted as learned, equally weighted, and no best known. */
    Verdict decide(String lineage, List<Measure> measures, boolean hasChampion, String newestHeldOut) {
        return decide(lineage, measures, hasChampion, newestHeldOut, History.everyTask(measures));
    }

    Verdict decide(String lineage, List<Measure> measures, boolean hasChampion, String newestHeldOut, History history) {
        if (measures.isEmpty())
            return new Verdict(
                    false,
                    "no-tasks",
                    "no task to judge the candidate on yet (no domain has enough held-out text)",
                    List.of());
        List<Outcome> nonFinite = new ArrayList<>();
        List<Outcome> values = new ArrayList<>();
        List<Outcome> untrained = new ArrayList<>();
        List<Outcome> changes = new ArrayList<>();
        List<Outcome> best = new ArrayList<>();
        List<Measure> worse = new ArrayList<>();
        for (Measure m : measures) {
            boolean finite = Double.isFinite(m.candidate());
            nonFinite.add(new Outcome("non-finite:" + m.name(), finite, m.metric() + " " + m.candidate()));
            if (!history.learned(m.task())) {
                untrained.add(new Outcome(
                        "untrained:" + m.name(),
                        true,
                        "the lineage has not trained on " + domainOf(m.task()) + ": reported, no veto"));
                continue;
            }
            List<GateRules.Change> limits = new ArrayList<>();
            if (policy.isStream()) {
                // Loss only, as the rules policy's default: a small multiple-choice suite's accuracy moves by noise
                // alone.
                if (m.metric().equals(TaskScores.LOSS)) limits.add(new GateRules.Change(policy.taskCap(), null));
            } else {
                for (GateRules.TaskRule rule : policy.rules().rulesFor(m.task(), m.metric())) {
                    if (rule.valueThreshold() != null) {
                        double bound = rule.valueThreshold();
                        boolean ok = finite && (m.higherIsBetter() ? m.candidate() >= bound : m.candidate() <= bound);
                        values.add(new Outcome(
                                "value:" + m.name(),
                                ok,
                                String.format(
                                        Locale.ROOT,
                                        "%s %.4f, must be %s %.4f",
                                        m.metric(),
                                        m.candidate(),
                                        m.higherIsBetter() ? ">=" : "<=",
                                        bound)));
                    }
                    if (rule.change() != null) limits.add(rule.change());
                }
            }
            if (hasChampion && m.champion() != null) {
                for (GateRules.Change limit : limits) {
                    Outcome o = change(m, limit);
                    changes.add(o);
                    if (!o.passed() && !worse.contains(m)) worse.add(m);
                }
            }
            Double lowest = history.best().get(m.task());
            if (hasChampion && policy.bestBound() != null && m.metric().equals(TaskScores.LOSS) && lowest != null)
                best.add(best(m, lowest));
        }
        List<Outcome> average = new ArrayList<>();
        if (policy.isStream() && hasChampion) average.add(average(measures, history));
        List<Outcome> target = new ArrayList<>();
        if (!policy.isStream() && policy.rules().target() != null && hasChampion)
            target.add(target(lineage, measures, newestHeldOut));

        List<Outcome> all = new ArrayList<>(nonFinite);
        all.addAll(values);
        all.addAll(untrained);
        all.addAll(changes);
        all.addAll(best);
        all.addAll(average);
        all.addAll(target);
        for (Outcome o : nonFinite) if (!o.passed()) return new Verdict(false, o.rule(), o.detail(), all);
        for (Outcome o : values) if (!o.passed()) return new Verdict(false, o.rule(), o.detail(), all);
        if (hasChampion && untrained.size() == measures.size()) {
            return new Verdict(
                    false,
                    "no-learned-tasks",
                    "no task is a domain the lineage has trained on: nothing to judge the candidate by",
                    all);
        }
        if (!worse.isEmpty()) {
            worse.sort(Comparator.comparingDouble((Measure m) -> -m.worsening() / Math.abs(m.champion())));
            return new Verdict(false, "regression:" + worse.get(0).name(), failures(changes, "regression:"), all);
        }
        Measure creeping = measures.stream()
                .filter(m -> best.stream().anyMatch(o -> !o.passed() && o.rule().equals("best:" + m.name())))
                .max(Comparator.comparingDouble(
                        m -> m.candidate() / history.best().get(m.task())))
                .orElse(null);
        if (creeping != null) return new Verdict(false, "best:" + creeping.name(), failures(best, "best:"), all);
        for (Outcome o : average) if (!o.passed()) return new Verdict(false, o.rule(), o.detail(), all);
        for (Outcome o : target) if (!o.passed()) return new Verdict(false, o.rule(), o.detail(), all);
        if (!hasChampion)
            return new Verdict(
                    true,
                    "first-checkpoint",
                    "first checkpoint of the lineage: every metric finite and within its value threshold",
                    all);
        String summary = average.isEmpty() ? "" : "; " + average.get(0).detail();
        return new Verdict(true, "no-regression", "every rule passed (" + all.size() + ")" + summary, all);
    }

    private static String failures(List<Outcome> outcomes, String prefix) {
        StringBuilder reason = new StringBuilder();
        for (Outcome o : outcomes) {
            if (o.passed()) continue;
            if (reason.length() > 0) reason.append("; ");
            reason.append(o.rule().substring(prefix.length())).append(' ').append(o.detail());
        }
        return reason.toString();
    }

    /** The candidate's loss against the lowest any champion of the lineage reached on the task. */
    private Outcome best(Measure m, double lowest) {
        double relative = (m.candidate() - lowest) / Math.abs(lowest);
        boolean ok = Double.isFinite(m.candidate()) && relative <= policy.bestBound();
        return new Outcome(
                "best:" + m.name(),
                ok,
                String.format(
                        Locale.ROOT,
                        "%.4f against the lineage's best %.4f (%+.2f%%; at most %.2f%% above it)",
                        m.candidate(),
                        lowest,
                        100 * relative,
                        100 * policy.bestBound()));
    }

    /** Σ weight × relative loss change over the learned held-out tasks. */
    private Outcome average(List<Measure> measures, History history) {
        double sum = 0;
        double weights = 0;
        List<String> terms = new ArrayList<>();
        for (Measure m : measures) {
            Double w = history.weights().get(m.task());
            if (w == null || !m.metric().equals(TaskScores.LOSS) || m.champion() == null) continue;
            double change = m.relativeChange();
            sum += w * change;
            weights += w;
            terms.add(String.format(Locale.ROOT, "%s %.2f×%+.2f%%", domainOf(m.task()), w, 100 * change));
        }
        double mean = weights == 0 ? 0 : sum / weights;
        boolean ok = Double.isFinite(mean) && mean <= policy.averageBudget();
        return new Outcome(
                "average:loss",
                ok,
                String.format(
                        Locale.ROOT,
                        "stream-weighted loss change %+.2f%% (at most %+.2f%%): %s",
                        100 * mean,
                        100 * policy.averageBudget(),
                        terms.isEmpty() ? "no learned task" : String.join(", ", terms)));
    }

    private static Outcome change(Measure m, GateRules.Change limit) {
        double worse = m.worsening();
        double relative = worse / Math.abs(m.champion());
        boolean ok = Double.isFinite(worse)
                && (limit.relative() == null || relative <= limit.relative())
                && (limit.absolute() == null || worse <= limit.absolute());
        return new Outcome(
                "regression:" + m.name(),
                ok,
                String.format(
                        Locale.ROOT,
                        "%.4f -> %.4f (%+.2f%%; %s)",
                        m.champion(),
                        m.candidate(),
                        100 * (m.candidate() - m.champion()) / Math.abs(m.champion()),
                        bounds(limit, "at most", "worse")));
    }

    private Outcome target(String lineage, List<Measure> measures, String newestHeldOut) {
        GateRules.Target t = policy.rules().target();
        String task = t.taskFor(lineage, newestHeldOut);
        String rule = "target:" + task + "/" + t.metric();
        Measure m = measures.stream()
                .filter(x -> x.task().equals(task) && x.metric().equals(t.metric()))
                .findFirst()
                .orElse(null);
        if (m == null || m.champion() == null)
            return new Outcome(rule, false, "no " + t.metric() + " on " + task + " for both candidate and champion");
        double gain = -m.worsening();
        double relative = gain / Math.abs(m.champion());
        boolean ok = (t.minImprovement().relative() == null
                        || relative >= t.minImprovement().relative())
                && (t.minImprovement().absolute() == null
                        || gain >= t.minImprovement().absolute());
        return new Outcome(
                rule,
                ok,
                String.format(
                        Locale.ROOT,
                        "%.4f -> %.4f (%+.2f%%; %s)",
                        m.champion(),
                        m.candidate(),
                        100 * (m.candidate() - m.champion()) / Math.abs(m.champion()),
                        bounds(t.minImprovement(), "at least", "better")));
    }

    private static String bounds(GateRules.Change c, String bound, String direction) {
        List<String> parts = new ArrayList<>();
        if (c.relative() != null) parts.add(String.format(Locale.ROOT, "%.2f%%", 100 * c.relative()));
        if (c.absolute() != null) parts.add(String.format(Locale.ROOT, "%.4f", c.absolute()));
        return bound + " " + String.join(" and ", parts) + " " + direction;
    }
}
