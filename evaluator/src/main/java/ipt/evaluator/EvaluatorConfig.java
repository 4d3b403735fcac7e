package ipt.evaluator;

import ipt.checkpoints.CheckpointStore;
import ipt.checkpoints.RetentionPolicy;
import ipt.runtime.Setting;
import ipt.runtime.Setting.Change;
import ipt.runtime.Setting.Rule;
import ipt.runtime.Setting.Type;
import ipt.runtime.Settings;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * @param checkpointStore where checkpoints are kept ({@link CheckpointStore#of}: a directory or s3://bucket/prefix);
 * a checkpoint
 *     published with a location outside it is refused
 * @param snapshots where frozen held-out snapshots are kept (null: in memory only)
 * @param heldOutTokensPerDomain held-out tokens (UTF-8 bytes) a domain needs to become a task; its snapshot is
 * exactly these
 * @param gate what a candidate is held to
 * @param suites directory of user suites (null: none)
 * @param stallAfter candidates rejected in a row after which a report calls the lineage stalled (alerts.yml's
 *     IptLineageNotAdvancing fires at the same count)
 * @param heldOutMinDocuments the fewest documents a domain's snapshot is made of: each gives at most this share of it
 * @param retention which checkpoints of a lineage the store keeps (README "Checkpoint retention")
 */
public record EvaluatorConfig(
        String checkpointStore,
        Path snapshots,
        int heldOutTokensPerDomain,
        GatePolicy gate,
        Path suites,
        int stallAfter,
        int heldOutMinDocuments,
        RetentionPolicy retention) {
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
        return new EvaluatorConfig(
                dataDir.resolve("checkpoints").toString(),
                dataDir.resolve("evaluator").resolve("snapshots"),
                heldOutTokensPerDomain,
                GatePolicy.stream(regressionBudget),
                null,
                STALL_AFTER,
                HELD_OUT_MIN_DOCUMENTS,
                RetentionPolicy.defaults());
    }

    public EvaluatorConfig withSuites(Path dir) {
        return new EvaluatorConfig(
                checkpointStore,
                snapshots,
                heldOutTokensPerDomain,
                gate,
                dir,
                stallAfter,
                heldOutMinDocuments,
                retention);
    }

    public EvaluatorConfig with(RetentionPolicy policy) {
        return new EvaluatorConfig(
                checkpointStore,
                snapshots,
                heldOutTokensPerDomain,
                gate,
                suites,
                stallAfter,
                heldOutMinDocuments,
                policy);
    }

    public EvaluatorConfig withCheckpointStore(String store) {
        return new EvaluatorConfig(
                store, snapshots, heldOutTokensPerDomain, gate, suites, stallAfter, heldOutMinDocuments, retention);
    }

    public EvaluatorConfig with(GatePolicy policy) {
        return new EvaluatorConfig(
                checkpointStore,
                snapshots,
                heldOutTokensPerDomain,
                policy,
                suites,
                stallAfter,
                heldOutMinDocuments,
                retention);
    }

    /** The rules policy with the rules of a YAML file. */
    public EvaluatorConfig withRules(Path yaml) throws IOException {
        return with(GatePolicy.rules(GateRules.load(yaml), gate.bestBound()));
    }

    /** The evaluator's settings, each declared once: README "The evaluator" is this table ({@code ipt config
     * --markdown}). */
    public static final Settings SETTINGS = new Settings(
            "evaluator",
            Settings.KAFKA,
            Settings.STATUS_PORT,
            Settings.STATUS_BIND,
            Settings.STOP_SECONDS,
            Settings.DEVICE);

    static final Setting<Path> DATA_DIR = SETTINGS.add(Setting.of(
            "IPT_DATA_DIR",
            Type.PATH,
            Path.of("ipt-data"),
            Rule.ANY,
            Change.RESTART,
            "where snapshots go (`evaluator/snapshots/`) and checkpoints fetched from S3 are cached "
                    + "(`evaluator/fetched/`)"));
    static final Setting<String> CHECKPOINT_STORE = SETTINGS.add(Setting.optional(
            "IPT_CHECKPOINT_STORE",
            Type.STRING,
            "`<IPT_DATA_DIR>/checkpoints`",
            Rule.ANY,
            Change.RESTART,
            "the checkpoint store (a directory or `s3://bucket/prefix`, as the trainer's); "
                    + "locations outside it are refused"));
    static final Setting<String> S3_ENDPOINT = SETTINGS.add(Setting.optional(
            "IPT_S3_ENDPOINT",
            Type.STRING,
            "(AWS)",
            Rule.ANY,
            Change.RESTART,
            "an S3-compatible store's endpoint for an `s3://` checkpoint store"));
    static final Setting<Integer> HELDOUT_TOKENS_PER_DOMAIN = SETTINGS.add(Setting.of(
            "IPT_HELDOUT_TOKENS_PER_DOMAIN",
            Type.INT,
            HELD_OUT_TOKENS,
            Rule.atLeast(2),
            Change.RESTART,
            "held-out bytes a domain needs to become a task, and its snapshot's size (snapshots "
                    + "taken stay as they are)"));
    static final Setting<Integer> HELDOUT_MIN_DOCUMENTS = SETTINGS.add(Setting.of(
            "IPT_HELDOUT_MIN_DOCUMENTS",
            Type.INT,
            HELD_OUT_MIN_DOCUMENTS,
            Rule.atLeast(1),
            Change.RESTART,
            "a snapshot takes at most 1/n of its text from any one document"));
    static final Setting<String> GATE_POLICY = SETTINGS.add(Setting.optional(
            "IPT_GATE_POLICY",
            Type.STRING,
            "`stream` (`rules` when `IPT_GATE_RULES` is set)",
            new Rule<>(
                    "must be `stream` or `rules`",
                    v -> v.equals(GatePolicy.STREAM) || v.equals(GatePolicy.RULES),
                    Map.of("enum", List.of("stream", "rules"))),
            Change.RESTART,
            "`stream`: per-task cap, stream-weighted average and bound against the best; `rules`: YAML rules"));
    static final Setting<Double> REGRESSION_BUDGET = SETTINGS.add(Setting.of(
            "IPT_REGRESSION_BUDGET",
            Type.DOUBLE,
            GatePolicy.TASK_CAP,
            Rule.atLeast(0),
            Change.RESTART,
            "the largest relative loss rise of a learned task over the champion's (the rules policy's change budget)"));
    static final Setting<Double> GATE_AVERAGE_BUDGET = SETTINGS.add(Setting.of(
            "IPT_GATE_AVERAGE_BUDGET",
            Type.DOUBLE,
            GatePolicy.AVERAGE_BUDGET,
            Rule.ANY,
            Change.RESTART,
            "the largest rise of the stream-weighted mean relative loss change (stream policy)"));
    static final Setting<String> GATE_BEST_BOUND = SETTINGS.add(Setting.of(
            "IPT_GATE_BEST_BOUND",
            Type.STRING,
            String.valueOf(GatePolicy.BEST_BOUND),
            new Rule<>(
                    "must be a number >= 0 or `off`", v -> v.equals("off") || v.matches("[0-9]*\\.?[0-9]+"), Map.of()),
            Change.RESTART,
            "the largest relative rise of a learned task's loss over the best any champion reached; `off` for none"));
    static final Setting<Path> GATE_RULES = SETTINGS.add(Setting.optional(
            "IPT_GATE_RULES",
            Type.PATH,
            "(the default rules)",
            Rule.exists(),
            Change.RESTART,
            "YAML rules file of the rules policy, replacing the default rules"));
    static final Setting<Integer> GATE_STALL_CANDIDATES = SETTINGS.add(Setting.of(
            "IPT_GATE_STALL_CANDIDATES",
            Type.INT,
            STALL_AFTER,
            Rule.atLeast(1),
            Change.RESTART,
            "rejections in a row after which a lineage counts as stalled"));
    static final Setting<Path> EVAL_SUITES = SETTINGS.add(Setting.optional(
            "IPT_EVAL_SUITES", Type.PATH, "(none)", Rule.exists(), Change.RESTART, "directory of user suites"));
    static final Setting<Integer> RETAIN_LAST = SETTINGS.add(Setting.of(
            "IPT_RETAIN_LAST",
            Type.INT,
            RetentionPolicy.LAST,
            Rule.atLeast(1),
            Change.RESTART,
            "retention keeps a lineage's newest n checkpoints, whatever their verdict"));
    static final Setting<Integer> RETAIN_CHAMPIONS = SETTINGS.add(Setting.of(
            "IPT_RETAIN_CHAMPIONS",
            Type.INT,
            RetentionPolicy.CHAMPIONS,
            Rule.atLeast(1),
            Change.RESTART,
            "and its n most recent champions (rollback targets); pinned versions (`ipt pin`), the champion "
                    + "and versions not judged yet are always kept"));
    static final Setting<Integer> RETAIN_FETCHED = SETTINGS.add(Setting.of(
            "IPT_RETAIN_FETCHED",
            Type.INT,
            RetentionPolicy.FETCHED,
            Rule.atLeast(1),
            Change.RESTART,
            "checkpoints fetched from S3 the evaluator's cache keeps per lineage besides the champion"));

    /** From the environment ({@link #SETTINGS}). */
    public static EvaluatorConfig fromEnv(Map<String, String> env) throws IOException {
        return from(SETTINGS.parse(env));
    }

    public static EvaluatorConfig from(Settings.Values v) throws IOException {
        double cap = v.get(REGRESSION_BUDGET);
        EvaluatorConfig c = of(v.get(DATA_DIR), cap, v.get(HELDOUT_TOKENS_PER_DOMAIN));
        if (v.isSet(CHECKPOINT_STORE)) {
            c = new EvaluatorConfig(
                    v.get(CHECKPOINT_STORE),
                    c.snapshots(),
                    c.heldOutTokensPerDomain(),
                    c.gate(),
                    c.suites(),
                    c.stallAfter(),
                    c.heldOutMinDocuments(),
                    c.retention());
        }
        Double bestBound = v.get(GATE_BEST_BOUND).equals("off") ? null : Double.valueOf(v.get(GATE_BEST_BOUND));
        String policy =
                v.isSet(GATE_POLICY) ? v.get(GATE_POLICY) : v.isSet(GATE_RULES) ? GatePolicy.RULES : GatePolicy.STREAM;
        if (policy.equals(GatePolicy.STREAM)) {
            if (v.isSet(GATE_RULES))
                throw new IllegalArgumentException("IPT_GATE_RULES applies to IPT_GATE_POLICY=rules, not stream");
            c = c.with(GatePolicy.stream(cap)
                    .withAverageBudget(v.get(GATE_AVERAGE_BUDGET))
                    .withBestBound(bestBound));
        } else {
            c = c.with(GatePolicy.rules(
                    v.isSet(GATE_RULES) ? GateRules.load(v.get(GATE_RULES)) : GateRules.defaults(cap), bestBound));
        }
        c = new EvaluatorConfig(
                c.checkpointStore(),
                c.snapshots(),
                c.heldOutTokensPerDomain(),
                c.gate(),
                c.suites(),
                v.get(GATE_STALL_CANDIDATES),
                v.get(HELDOUT_MIN_DOCUMENTS),
                new RetentionPolicy(v.get(RETAIN_LAST), v.get(RETAIN_CHAMPIONS), v.get(RETAIN_FETCHED)));
        if (v.isSet(EVAL_SUITES)) c = c.withSuites(v.get(EVAL_SUITES));
        return c;
    }

    /** The checkpoint store; what it fetches from a remote store is cached beside the snapshots. */
    public CheckpointStore store(Map<String, String> env) throws IOException {
        Path cache = snapshots == null
                ? Files.createTempDirectory("ipt-evaluator-fetched")
                : snapshots.resolveSibling("fetched");
        return CheckpointStore.of(checkpointStore, cache, env);
    }
}
