package ipt.evaluator;

import ipt.model.CheckpointStore;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * @param checkpointStore where checkpoints are kept ({@link CheckpointStore#of}: a directory or s3://bucket/prefix); a checkpoint
 *     published with a location outside it is refused
 * @param snapshots where frozen held-out snapshots are kept (null: in memory only)
 * @param heldOutTokensPerDomain held-out tokens (UTF-8 bytes) a domain needs to become a task; its snapshot is exactly these
 * @param gate what a candidate is held to
 * @param suites directory of user suites (null: none)
 * @param stallAfter candidates rejected in a row after which a report calls the lineage stalled (alerts.yml's
 *     IptLineageNotAdvancing fires at the same count)
 * @param heldOutMinDocuments the fewest documents a domain's snapshot is made of: each gives at most this share of it
 */
public record EvaluatorConfig(String checkpointStore, Path snapshots, int heldOutTokensPerDomain, GatePolicy gate, Path suites, int stallAfter,
    int heldOutMinDocuments) {
  /** 64 sequences of the default model's 128-token context plus one. */
  public static final int HELD_OUT_TOKENS = 64 * 129;
  public static final int STALL_AFTER = 10;
  /** Four documents at least: a task of one or two long files measures those files, not the domain. */
  public static final int HELD_OUT_MIN_DOCUMENTS = 4;

  /**
   * Checkpoints under {@code dataDir/checkpoints}, snapshots under {@code dataDir/evaluator}; the stream policy with
   * a learned task's loss allowed to rise {@code regressionBudget} over the champion's.
   */
  public static EvaluatorConfig of(Path dataDir, double regressionBudget, int heldOutTokensPerDomain) {
    return new EvaluatorConfig(dataDir.resolve("checkpoints").toString(), dataDir.resolve("evaluator").resolve("snapshots"), heldOutTokensPerDomain,
        GatePolicy.stream(regressionBudget), null, STALL_AFTER, HELD_OUT_MIN_DOCUMENTS);
  }

  public EvaluatorConfig withSuites(Path dir) {
    return new EvaluatorConfig(checkpointStore, snapshots, heldOutTokensPerDomain, gate, dir, stallAfter, heldOutMinDocuments);
  }

  public EvaluatorConfig with(GatePolicy policy) {
    return new EvaluatorConfig(checkpointStore, snapshots, heldOutTokensPerDomain, policy, suites, stallAfter, heldOutMinDocuments);
  }

  /** The rules policy with the rules of a YAML file. */
  public EvaluatorConfig withRules(Path yaml) throws IOException {
    return with(GatePolicy.rules(GateRules.load(yaml), gate.bestBound()));
  }

  /**
   * From IPT_DATA_DIR, IPT_CHECKPOINT_STORE, IPT_HELDOUT_TOKENS_PER_DOMAIN, IPT_HELDOUT_MIN_DOCUMENTS, IPT_GATE_POLICY, IPT_REGRESSION_BUDGET,
   * IPT_GATE_AVERAGE_BUDGET, IPT_GATE_BEST_BOUND, IPT_GATE_RULES, IPT_GATE_STALL_CANDIDATES, IPT_EVAL_SUITES (README).
   */
  public static EvaluatorConfig fromEnv(Map<String, String> env) throws IOException {
    Path dataDir = Path.of(env.getOrDefault("IPT_DATA_DIR", "ipt-data"));
    double cap = number(env, "IPT_REGRESSION_BUDGET", GatePolicy.TASK_CAP);
    EvaluatorConfig c = of(dataDir, cap, (int) number(env, "IPT_HELDOUT_TOKENS_PER_DOMAIN", HELD_OUT_TOKENS));
    if (env.containsKey("IPT_CHECKPOINT_STORE")) {
      c = new EvaluatorConfig(env.get("IPT_CHECKPOINT_STORE"), c.snapshots(), c.heldOutTokensPerDomain(), c.gate(), c.suites(), c.stallAfter(),
          c.heldOutMinDocuments());
    }
    String best = env.getOrDefault("IPT_GATE_BEST_BOUND", String.valueOf(GatePolicy.BEST_BOUND));
    Double bestBound = best.equals("off") ? null : number(env, "IPT_GATE_BEST_BOUND", GatePolicy.BEST_BOUND);
    String policy = env.getOrDefault("IPT_GATE_POLICY", env.containsKey("IPT_GATE_RULES") ? GatePolicy.RULES : GatePolicy.STREAM);
    if (policy.equals(GatePolicy.STREAM)) {
      if (env.containsKey("IPT_GATE_RULES")) throw new IllegalArgumentException("IPT_GATE_RULES applies to IPT_GATE_POLICY=rules, not stream");
      c = c.with(GatePolicy.stream(cap).withAverageBudget(number(env, "IPT_GATE_AVERAGE_BUDGET", GatePolicy.AVERAGE_BUDGET)).withBestBound(bestBound));
    } else if (policy.equals(GatePolicy.RULES)) {
      c = c.with(GatePolicy.rules(env.containsKey("IPT_GATE_RULES") ? GateRules.load(Path.of(env.get("IPT_GATE_RULES"))) : GateRules.defaults(cap), bestBound));
    } else {
      throw new IllegalArgumentException("IPT_GATE_POLICY must be stream or rules, is " + policy);
    }
    int stall = (int) number(env, "IPT_GATE_STALL_CANDIDATES", STALL_AFTER);
    if (stall < 1) throw new IllegalArgumentException("IPT_GATE_STALL_CANDIDATES must be at least 1, is " + stall);
    int documents = (int) number(env, "IPT_HELDOUT_MIN_DOCUMENTS", HELD_OUT_MIN_DOCUMENTS);
    if (documents < 1) throw new IllegalArgumentException("IPT_HELDOUT_MIN_DOCUMENTS must be at least 1, is " + documents);
    c = new EvaluatorConfig(c.checkpointStore(), c.snapshots(), c.heldOutTokensPerDomain(), c.gate(), c.suites(), stall, documents);
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
