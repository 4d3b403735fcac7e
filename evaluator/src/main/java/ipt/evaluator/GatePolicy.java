package ipt.evaluator;

/**
 * Which rules the gate holds a candidate to. {@code stream} (the default): on every learned task (a held-out
 * domain the lineage has trained on) and every user suite, the loss may worsen at most {@code taskCap} (relative)
 * against the champion (accuracy is reported, not bounded: the rules policy bounds it), and the learned tasks' loss
 * change, weighted by each domain's share of the tokens the
 * lineage trained on, may be at most {@code averageBudget}: a candidate may give up a bounded amount on an old
 * domain for a larger gain on a new one. {@code rules}: the TFX-style {@link GateRules} alone, every rule as
 * written. In both, a NaN rejects, a learned task's loss may exceed the best any champion of the lineage reached
 * on it by at most {@code bestBound} (null: not checked), and a domain the lineage never trained on never vetoes.
 */
public record GatePolicy(String name, GateRules rules, double taskCap, double averageBudget, Double bestBound) {
    public static final String STREAM = "stream";
    public static final String RULES = "rules";
    /** Largest relative rise of one learned task's loss over the champion (IPT_REGRESSION_BUDGET). */
    public static final double TASK_CAP = 0.10;
    /** Largest stream-weighted mean relative loss change (IPT_GATE_AVERAGE_BUDGET): no worse on the stream. */
    public static final double AVERAGE_BUDGET = 0.0;
    /** Largest relative rise of a learned task's loss over the lineage's best on it (IPT_GATE_BEST_BOUND). */
    public static final double BEST_BOUND = 0.05;

    public GatePolicy {
        if (!STREAM.equals(name) && !RULES.equals(name))
            throw new IllegalArgumentException("gate policy must be stream or rules, is " + name);
        if (!(taskCap >= 0) || !Double.isFinite(averageBudget) || (bestBound != null && !(bestBound >= 0))) {
            throw new IllegalArgumentException("gate bounds must be non-negative numbers: cap " + taskCap + ", average "
                    + averageBudget + ", best " + bestBound);
        }
    }

    /** The default policy with the given per-task cap; the default rules (loss within the cap) back the rules
     * policy. */
    public static GatePolicy stream(double taskCap) {
        return new GatePolicy(STREAM, GateRules.defaults(taskCap), taskCap, AVERAGE_BUDGET, BEST_BOUND);
    }

    /** The strict rules policy. */
    public static GatePolicy rules(GateRules rules, Double bestBound) {
        return new GatePolicy(RULES, rules, TASK_CAP, AVERAGE_BUDGET, bestBound);
    }

    boolean isStream() {
        return STREAM.equals(name);
    }

    public GatePolicy withAverageBudget(double budget) {
        return new GatePolicy(name, rules, taskCap, budget, bestBound);
    }

    public GatePolicy withBestBound(Double bound) {
        return new GatePolicy(name, rules, taskCap, averageBudget, bound);
    }
}
