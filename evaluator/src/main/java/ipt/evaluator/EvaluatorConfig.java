package ipt.evaluator;

import ipt.checkpoints.CheckpointStore;
import ipt.runtime.Setting;
import ipt.runtime.Setting.Change;
import ipt.runtime.Setting.Rule;
import ipt.runtime.Setting.Type;
import ipt.runtime.Settings;
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

  /** The evaluator's settings, each declared once: README "The evaluator" is this table ({@code ipt config --markdown}). */
  public static final Settings SETTINGS = new Settings("evaluator", Settings.KAFKA, Settings.STATUS_PORT, Settings.STATUS_BIND);
  static final Setting<Path> DATA_DIR = SETTINGS.add(Setting.of("IPT_DATA_DIR", Type.PATH, Path.of("ipt-data"), Rule.ANY,
      Change.RESTART, "where snapshots go (`evaluator/snapshots/`) and checkpoints fetched from S3 are cached "
          + "(`evaluator/fetched/`)"));
  static final Setting<String> CHECKPOINT_STORE = SETTINGS.add(Setting.optional("IPT_CHECKPOINT_STORE", Type.STRING,
      "`<IPT_DATA_DIR>/checkpoints`", Rule.ANY, Change.RESTART,
      "the checkpoint store (a directory or `s3://bucket/prefix`, as the trainer's); locations outside it are refused"));
  static final Setting<String> S3_ENDPOINT = SETTINGS.add(Setting.optional("IPT_S3_ENDPOINT", Type.STRING, "(AWS)",
      Rule.ANY, Change.RESTART, "an S3-compatible store's endpoint for an `s3://` checkpoint store"));
  static final Setting<Integer> HELDOUT_TOKENS_PER_DOMAIN = SETTINGS.add(Setting.of("IPT_HELDOUT_TOKENS_PER_DOMAIN",
      Type.INT, HELD_OUT_TOKENS, Rule.atLeast(2), Change.RESTART,
      "held-out bytes a domain needs to become a task, and its snapshot's size (snapshots taken stay as they are)"));
  static final Setting<Double> REGRESSION_BUDGET = SETTINGS.add(Setting.of("IPT_REGRESSION_BUDGET", Type.DOUBLE, 0.02,
      Rule.atLeast(0), Change.RESTART, "the default rules' relative loss budget"));
  static final Setting<Path> GATE_RULES = SETTINGS.add(Setting.optional("IPT_GATE_RULES", Type.PATH, "(the default rules)",
      Rule.exists(), Change.RESTART, "YAML rules file, replacing the default rules"));
  static final Setting<Path> EVAL_SUITES = SETTINGS.add(Setting.optional("IPT_EVAL_SUITES", Type.PATH, "(none)",
      Rule.exists(), Change.RESTART, "directory of user suites"));

  /** From the environment ({@link #SETTINGS}). */
  public static EvaluatorConfig fromEnv(Map<String, String> env) throws IOException {
    return from(SETTINGS.parse(env));
  }

  public static EvaluatorConfig from(Settings.Values v) throws IOException {
    EvaluatorConfig c = of(v.get(DATA_DIR), v.get(REGRESSION_BUDGET), v.get(HELDOUT_TOKENS_PER_DOMAIN));
    if (v.isSet(CHECKPOINT_STORE)) {
      c = new EvaluatorConfig(v.get(CHECKPOINT_STORE), c.snapshots(), c.heldOutTokensPerDomain(), c.rules(), c.suites());
    }
    if (v.isSet(GATE_RULES)) c = c.withRules(v.get(GATE_RULES));
    if (v.isSet(EVAL_SUITES)) c = c.withSuites(v.get(EVAL_SUITES));
    return c;
  }

  /** The checkpoint store; what it fetches from a remote store is cached beside the snapshots. */
  public CheckpointStore store(Map<String, String> env) throws IOException {
    Path cache = snapshots == null ? Files.createTempDirectory("ipt-evaluator-fetched") : snapshots.resolveSibling("fetched");
    return CheckpointStore.of(checkpointStore, cache, env);
  }
}
