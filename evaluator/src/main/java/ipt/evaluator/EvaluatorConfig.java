package ipt.evaluator;

import java.util.Map;

/**
 * @param regressionBudget largest relative rise of any task's loss over the champion's that still promotes
 * @param heldOutTokensPerDomain held-out tokens kept per domain (the first ones seen)
 */
public record EvaluatorConfig(double regressionBudget, int heldOutTokensPerDomain) {
  public static EvaluatorConfig defaults() {
    return new EvaluatorConfig(0.02, 64 * 129);
  }

  public static EvaluatorConfig fromEnv(Map<String, String> env) {
    EvaluatorConfig d = defaults();
    return new EvaluatorConfig(
        Double.parseDouble(env.getOrDefault("IPT_REGRESSION_BUDGET", String.valueOf(d.regressionBudget()))),
        Integer.parseInt(env.getOrDefault("IPT_HELDOUT_TOKENS_PER_DOMAIN", String.valueOf(d.heldOutTokensPerDomain()))));
  }
}
