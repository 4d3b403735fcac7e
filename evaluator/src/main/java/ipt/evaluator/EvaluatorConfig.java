package ipt.evaluator;

import ipt.checkpoints.CheckpointStore;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * @param checkpointStore where checkpoints are kept ({@link CheckpointStore#of}: a directory or s3://bucket/prefix); a checkpoint
 *     published with a location outside it is refused
 * @param snapshots where frozen held-out snapshots are kept (null: in memory only)
 * @param heldOutTokensPerDomain held-out tokens (UTF-8 bytes) a domain needs to become a task; its snapshot is exactly these
 * @param rules what a candidate is held to
 * @param suites directory of user suites (null: none)
 */
public record EvaluatorConfig(String checkpointStore, Path snapshots, int heldOutTokensPerDomain, GateRules rules, Path suites) {
  /** 64 sequences of the default model's 128-token context plus one. */
  public static final int HELD_OUT_TOKENS = 64 * 129;

  /** Checkpoints under {@code dataDir/checkpoints}, snapshots under {@code dataDir/evaluator}; loss may rise {@code budget} on any task. */
  public static EvaluatorConfig of(Path dataDir, double regressionBudget, int heldOutTokensPerDomain) {
    return new EvaluatorConfig(dataDir.resolve("checkpoints").toString(), dataDir.resolve("evaluator").resolve("snapshots"), heldOutTokensPerDomain,
        GateRules.defaults(regressionBudget), null);
  }

  public EvaluatorConfig withSuites(Path dir) {
    return new EvaluatorConfig(checkpointStore, snapshots, heldOutTokensPerDomain, rules, dir);
  }

  public EvaluatorConfig withRules(Path yaml) throws IOException {
    return new EvaluatorConfig(checkpointStore, snapshots, heldOutTokensPerDomain, GateRules.load(yaml), suites);
  }

  /** From IPT_DATA_DIR, IPT_CHECKPOINT_STORE, IPT_REGRESSION_BUDGET, IPT_HELDOUT_TOKENS_PER_DOMAIN, IPT_GATE_RULES, IPT_EVAL_SUITES (README). */
  public static EvaluatorConfig fromEnv(Map<String, String> env) throws IOException {
    Path dataDir = Path.of(env.getOrDefault("IPT_DATA_DIR", "ipt-data"));
    EvaluatorConfig c = of(dataDir, number(env, "IPT_REGRESSION_BUDGET", 0.02), (int) number(env, "IPT_HELDOUT_TOKENS_PER_DOMAIN", HELD_OUT_TOKENS));
    if (env.containsKey("IPT_CHECKPOINT_STORE")) {
      c = new EvaluatorConfig(env.get("IPT_CHECKPOINT_STORE"), c.snapshots(), c.heldOutTokensPerDomain(), c.rules(), c.suites());
    }
    if (env.containsKey("IPT_GATE_RULES")) c = c.withRules(Path.of(env.get("IPT_GATE_RULES")));
    if (env.containsKey("IPT_EVAL_SUITES")) c = c.withSuites(Path.of(env.get("IPT_EVAL_SUITES")));
    return c;
  }

  /** The checkpoint store; what it fetches from a remote store is cached beside the snapshots. */
  public CheckpointStore store(Map<String, String> env) throws IOException {
    Path cache = snapshots == null ? Files.createTempDirectory("ipt-evaluator-fetched") : snapshots.resolveSibling("fetched");
    return CheckpointStore.of(checkpointStore, cache, env);
  }

  private static double number(Map<String, String> env, String key, double fallback) {
    String v = env.get(key);
    if (v == null) return fallback;
    try {
      return Double.parseDouble(v);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(key + " must be a number, is " + v);
    }
  }
}
