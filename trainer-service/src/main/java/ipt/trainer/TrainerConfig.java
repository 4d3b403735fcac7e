package ipt.trainer;

import ipt.checkpoints.Checkpoint;
import ipt.checkpoints.CheckpointStore;
import ipt.model.GptConfig;
import ipt.model.TrainConfig;
import ipt.runtime.Setting;
import ipt.runtime.Setting.Change;
import ipt.runtime.Setting.Rule;
import ipt.runtime.Setting.Type;
import ipt.runtime.Settings;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

/**
 * One lineage's trainer: the model, the optimiser, how rounds are cut from the stream, what is replayed,
 * and what guards the model against divergence and forgetting.
 */
public record TrainerConfig(
        String lineage,
        Path checkpointRoot,
        Path replayDir,
        Rounds rounds,
        Replay replay,
        GptConfig model,
        TrainConfig train,
        Guard guard,
        Forgetting forgetting,
        Start start,
        String checkpointStore,
        long maxShardBytes,
        Steering steering) {

    /**
     * What a new lineage's first round trains on from: nothing (fresh weights of {@code model}'s shape), another
     * lineage's checkpoint directory (its weights, optimizer state, step and tokenizer), a Hugging Face model directory
     * (config.json, safetensors and its tokenizer.json, no ipt manifest), or a TorchScript module file with the
     * HuggingFace {@code tokenizer}.json it reads text with. Ignored once the lineage has a checkpoint.
     */
    public record Start(String from, Path tokenizer) {
        public static final Start FRESH = new Start((String) null, null);

        public Start {
            if (from == null && tokenizer != null)
                throw new IllegalArgumentException("a tokenizer is only for starting from a TorchScript model");
            if (from != null && !remote(from) && !Files.isDirectory(Path.of(from)) && tokenizer == null) {
                throw new IllegalArgumentException(
                        from + " is not a checkpoint directory; a TorchScript model needs its tokenizer.json");
            }
        }

        public Start(Path from, Path tokenizer) {
            this(from == null ? null : from.toString(), tokenizer);
        }

        /** A directory in an {@code s3://} checkpoint store, which the trainer fetches before reading it. */
        static boolean remote(String from) {
            return from.startsWith("s3://");
        }
    }

    /**
     * How the stream is cut into rounds and a round into steps.
     *
     * @param stepsPerRound optimizer steps of a full round; a round starts once it can fill them with new data
     * @param microBatches a step's batch is split into this many forward/backward passes whose gradients add up
     *     (gradient accumulation: the same update, less activation memory)
     * @param idleFlush after this long without new documents, a shorter round trains what is pending
     * @param partitionWait how long a partition with nothing to read holds back the others' records, which are
     *     released in an order that depends only on the log ({@link PartitionMerge})
     * @param annealSteps with the {@code WSD} schedule, the last steps of every round that decay to minLr
     */
    public record Rounds(
            int stepsPerRound,
            int batchSize,
            int microBatches,
            Duration idleFlush,
            Duration partitionWait,
            Schedule schedule,
            int annealSteps) {
        /**
         * {@code REWARM_COSINE}: every round re-warms and decays (Ibrahim et al. 2024). {@code WSD}: one warmup
         * over the lineage's first steps, then a constant rate, with a short linear anneal before each checkpoint.
         * {@code WSD_SQRT}: the same with a (1 - sqrt) cooldown (Hägele et al. 2024).
         */
        public enum Schedule {
            REWARM_COSINE,
            WSD,
            WSD_SQRT
        }

        public Rounds {
            if (stepsPerRound < 1 || batchSize < 1)
                throw new IllegalArgumentException("stepsPerRound and batchSize must be positive");
            if (microBatches < 1 || batchSize % microBatches != 0) {
                throw new IllegalArgumentException(
                        "microBatches must divide batchSize " + batchSize + ", got " + microBatches);
            }
            if (annealSteps < 0) throw new IllegalArgumentException("annealSteps must be >= 0");
        }
    }

    /**
     * @param fraction share of every batch drawn from the replay store (none while it is empty)
     * @param capacityBytes what the store may hold, shared equally by the domains' reservoirs
     * @param target a directory of user suites whose text replay leans toward ({@link TaskAwareReplay}); null: none
     */
    public record Replay(double fraction, long capacityBytes, Policy policy, Path target) {
        /**
         * {@code UNIFORM}: as if drawn from the whole history; {@code DOMAIN_BALANCED}: every domain alike;
         * {@code STEERED}: by the gate's settled reports ({@link ReplayMixture}), domains being forgotten drawn more.
         */
        public enum Policy {
            UNIFORM,
            DOMAIN_BALANCED,
            STEERED
        }

        public Replay {
            if (fraction < 0 || fraction >= 1) throw new IllegalArgumentException("replay fraction must be in [0, 1)");
            if (capacityBytes < 1) throw new IllegalArgumentException("replay capacity must be positive");
        }

        Replay withFraction(double f) {
            return new Replay(f, capacityBytes, policy, target);
        }
    }

    /**
     * The divergence guard: a non-finite loss, or a loss above {@code spikeFactor} times the round's mean so far
     * (once {@code settleSteps} steps are in), aborts the round; the retry scales the offending batch's learning
     * rate by {@code downWeight}, and a second divergence on it skips the batch.
     */
    public record Guard(double spikeFactor, int settleSteps, float downWeight) {
        public Guard {
            if (!(spikeFactor > 1) || settleSteps < 1 || !(downWeight > 0 && downWeight < 1)) {
                throw new IllegalArgumentException("need spikeFactor > 1, settleSteps >= 1, 0 < downWeight < 1");
            }
        }

        public static Guard defaults() {
            return new Guard(3.0, 5, 0.1f);
        }
    }

    /**
     * Guards against forgetting besides replay.
     *
     * @param freezeEmbeddings keep the token and position embeddings (and so the tied LM head) fixed
     * @param frozenBlocks keep the first this many transformer blocks fixed
     * @param l2Pull strength λ of a λ/2·‖w − w_champion‖² term in the loss; 0 for none
     * @param resetAfterRejections after this many consecutive rejected candidates, restart from the champion's
     *     weights and raise the replay fraction by {@code replayRaise}, up to {@code maxReplay}; 0 never
     */
    public record Forgetting(
            boolean freezeEmbeddings,
            int frozenBlocks,
            float l2Pull,
            int resetAfterRejections,
            double replayRaise,
            double maxReplay) {
        public Forgetting {
            if (frozenBlocks < 0
                    || l2Pull < 0
                    || resetAfterRejections < 0
                    || replayRaise < 0
                    || maxReplay < 0
                    || maxReplay >= 1) {
                throw new IllegalArgumentException("invalid forgetting guards: " + this);
            }
        }

        public static Forgetting defaults() {
            return new Forgetting(false, 0, 0f, 3, 0.1, 0.5);
        }
    }

    /**
     * What the trainer does with the evaluator's reports on its own candidates. The round of version k reads exactly
     * the reports on versions up to k - 1 (its mixture and recovery; the fraction they set applies from round k + 1,
     * whose new data is packed before k ends), waiting up to {@code evaluationWait} for the one on k - 1 (a wait that
     * runs out is counted in the lineage state: the one case where a resumed trainer may differ from an
     * uninterrupted one; after one, the trainer waits again only once a new report has arrived).
     *
     * @param floor share of the replayed rows split equally among all stored domains under {@code STEERED}
     * @param gain the replay fraction is {@code fraction + gain × worst relative forgetting}, up to maxReplay; 0
     * fixes it
     * @param recovery what {@code resetAfterRejections} consecutive settled rejections lead to
     * @param keep under {@code INTERPOLATE}, the working weights' share in the mixture with the champion's
     */
    public record Steering(double floor, double gain, Duration evaluationWait, Recovery recovery, double keep) {
        /**
         * {@code NONE}: keep training (replay steering only); {@code RESET}: restart from the champion's weights;
         * {@code RESET_IF_WORSE}: the same, only if the newest rejected candidate is worse than the champion on the
         * mean
         * over domains; {@code INTERPOLATE}: move the working weights to keep × working + (1 − keep) × champion
         * (WiSE-FT).
         */
        public enum Recovery {
            NONE,
            RESET,
            RESET_IF_WORSE,
            INTERPOLATE
        }

        public Steering {
            if (!(floor >= 0 && floor <= 1) || gain < 0 || evaluationWait.isNegative() || !(keep >= 0 && keep <= 1)) {
                throw new IllegalArgumentException("invalid steering: " + this);
            }
        }

        public static Steering defaults() {
            return new Steering(0.5, 5, Duration.ofSeconds(60), Recovery.NONE, 0.5);
        }
    }

    public TrainerConfig {
        if (!lineage.matches("[a-z0-9][a-z0-9._-]{0,63}"))
            throw new IllegalArgumentException("bad lineage name: " + lineage);
        if (maxShardBytes < 1) throw new IllegalArgumentException("maxShardBytes must be positive");
        if (forgetting.frozenBlocks() > model.nLayers()) {
            throw new IllegalArgumentException(
                    "cannot freeze " + forgetting.frozenBlocks() + " of " + model.nLayers() + " blocks");
        }
    }

    /**
     * A lineage writing its checkpoints under {@code dataDir/checkpoints/lineage} (which is also the checkpoint
     * store, until {@link #withCheckpointStore} names another) and replay under {@code dataDir/replay/lineage}.
     */
    public static TrainerConfig of(String lineage, Path dataDir, double replayFraction) {
        return new TrainerConfig(
                lineage,
                dataDir.resolve("checkpoints").resolve(lineage),
                dataDir.resolve("replay").resolve(lineage),
                new Rounds(50, 16, 1, Duration.ofSeconds(30), Duration.ofSeconds(10), Rounds.Schedule.WSD, 10),
                new Replay(replayFraction, 256L << 20, Replay.Policy.STEERED, null),
                GptConfig.small(),
                TrainConfig.defaults(),
                Guard.defaults(),
                Forgetting.defaults(),
                Start.FRESH,
                dataDir.resolve("checkpoints").toString(),
                Checkpoint.DEFAULT_MAX_SHARD_BYTES,
                Steering.defaults());
    }

    public TrainerConfig withRounds(int stepsPerRound, int batchSize, Duration idleFlush) {
        Rounds r = rounds;
        return with(new Rounds(
                stepsPerRound,
                batchSize,
                r.microBatches(),
                idleFlush,
                r.partitionWait(),
                r.schedule(),
                r.annealSteps()));
    }

    public TrainerConfig withPartitionWait(Duration partitionWait) {
        Rounds r = rounds;
        return with(new Rounds(
                r.stepsPerRound(),
                r.batchSize(),
                r.microBatches(),
                r.idleFlush(),
                partitionWait,
                r.schedule(),
                r.annealSteps()));
    }

    public TrainerConfig with(Rounds r) {
        return new TrainerConfig(
                lineage,
                checkpointRoot,
                replayDir,
                r,
                replay,
                model,
                train,
                guard,
                forgetting,
                start,
                checkpointStore,
                maxShardBytes,
                steering);
    }

    public TrainerConfig with(Replay r) {
        return new TrainerConfig(
                lineage,
                checkpointRoot,
                replayDir,
                rounds,
                r,
                model,
                train,
                guard,
                forgetting,
                start,
                checkpointStore,
                maxShardBytes,
                steering);
    }

    public TrainerConfig withModel(GptConfig model, TrainConfig train) {
        return new TrainerConfig(
                lineage,
                checkpointRoot,
                replayDir,
                rounds,
                replay,
                model,
                train,
                guard,
                forgetting,
                start,
                checkpointStore,
                maxShardBytes,
                steering);
    }

    public TrainerConfig with(Guard g) {
        return new TrainerConfig(
                lineage,
                checkpointRoot,
                replayDir,
                rounds,
                replay,
                model,
                train,
                g,
                forgetting,
                start,
                checkpointStore,
                maxShardBytes,
                steering);
    }

    public TrainerConfig with(Start s) {
        return new TrainerConfig(
                lineage,
                checkpointRoot,
                replayDir,
                rounds,
                replay,
                model,
                train,
                guard,
                forgetting,
                s,
                checkpointStore,
                maxShardBytes,
                steering);
    }

    public TrainerConfig with(Forgetting f) {
        return new TrainerConfig(
                lineage,
                checkpointRoot,
                replayDir,
                rounds,
                replay,
                model,
                train,
                guard,
                f,
                start,
                checkpointStore,
                maxShardBytes,
                steering);
    }

    public TrainerConfig with(Steering s) {
        return new TrainerConfig(
                lineage,
                checkpointRoot,
                replayDir,
                rounds,
                replay,
                model,
                train,
                guard,
                forgetting,
                start,
                checkpointStore,
                maxShardBytes,
                s);
    }

    /**
     * Keeps checkpoints in {@code store} ({@link CheckpointStore#of}: a directory or s3://bucket/prefix) after writing
     * them locally; published locations are the store's.
     */
    public TrainerConfig withCheckpointStore(String store) {
        return new TrainerConfig(
                lineage,
                checkpointRoot,
                replayDir,
                rounds,
                replay,
                model,
                train,
                guard,
                forgetting,
                start,
                store,
                maxShardBytes,
                steering);
    }

    /** Writes checkpoints whose weights files hold at most {@code bytes} each (safetensors shards past that). */
    public TrainerConfig withMaxShardBytes(long bytes) {
        return new TrainerConfig(
                lineage,
                checkpointRoot,
                replayDir,
                rounds,
                replay,
                model,
                train,
                guard,
                forgetting,
                start,
                checkpointStore,
                bytes,
                steering);
    }

    /** The trainer's settings, each declared once: README "The trainer" is this table ({@code ipt config
     * --markdown}). */
    public static final Settings SETTINGS = new Settings(
            "trainer",
            Settings.KAFKA,
            Settings.STATUS_PORT,
            Settings.STATUS_BIND,
            Settings.STOP_SECONDS,
            Settings.DEVICE);

    static final Setting<String> LINEAGE = SETTINGS.add(Setting.of(
            "IPT_LINEAGE",
            Type.STRING,
            "main",
            Rule.matches("[a-z0-9][a-z0-9._-]{0,63}"),
            Change.RESTART,
            "lineage name: consumer group, transactional id, checkpoint and replay folders (another "
                    + "name is another lineage)"));
    static final Setting<Path> DATA_DIR = SETTINGS.add(Setting.of(
            "IPT_DATA_DIR",
            Type.PATH,
            Path.of("ipt-data"),
            Rule.ANY,
            Change.NEXT_ROUND,
            "checkpoints as written (`checkpoints/<lineage>/`) and the replay store (`replay/<lineage>/`)"));
    static final Setting<String> CHECKPOINT_STORE = SETTINGS.add(Setting.optional(
            "IPT_CHECKPOINT_STORE",
            Type.STRING,
            "`<IPT_DATA_DIR>/checkpoints`",
            Rule.ANY,
            Change.NEXT_ROUND,
            "where checkpoints are kept and published from: a directory the evaluator can read (a "
                    + "shared volume), or "
                    + "`s3://bucket/prefix` (`AWS_REGION`, AWS credentials as the AWS SDK finds "
                    + "them); the local copy is a cache"));
    static final Setting<Integer> CHECKPOINT_SHARD_MB = SETTINGS.add(Setting.of(
            "IPT_CHECKPOINT_SHARD_MB",
            Type.INT,
            (int) (Checkpoint.DEFAULT_MAX_SHARD_BYTES >> 20),
            Rule.atLeast(1),
            Change.NEXT_ROUND,
            "the most a checkpoint's weights file holds: past it the model's safetensors are written in shards with "
                    + "`model.safetensors.index.json`, as transformers' `save_pretrained` does"));
    static final Setting<String> S3_ENDPOINT = SETTINGS.add(Setting.optional(
            "IPT_S3_ENDPOINT",
            Type.STRING,
            "(AWS)",
            Rule.ANY,
            Change.NEXT_ROUND,
            "an S3-compatible store's endpoint for an `s3://` checkpoint store"));
    static final Setting<Integer> STEPS_PER_ROUND = SETTINGS.add(Setting.of(
            "IPT_STEPS_PER_ROUND",
            Type.INT,
            50,
            Rule.atLeast(1),
            Change.NEXT_ROUND,
            "a round starts once new data fills its steps; one checkpoint per round"));
    static final Setting<Integer> BATCH_SIZE = SETTINGS.add(Setting.of(
            "IPT_BATCH_SIZE",
            Type.INT,
            16,
            Rule.atLeast(1),
            Change.NEXT_ROUND,
            "sequences per step, new and replayed"));
    static final Setting<Integer> MICRO_BATCHES = SETTINGS.add(Setting.of(
            "IPT_MICRO_BATCHES",
            Type.INT,
            1,
            Rule.atLeast(1),
            Change.NEXT_ROUND,
            "gradient accumulation: each batch in this many forward/backward passes, one update; divides "
                    + "`IPT_BATCH_SIZE`"));
    static final Setting<Integer> IDLE_FLUSH_SECONDS = SETTINGS.add(Setting.of(
            "IPT_IDLE_FLUSH_SECONDS",
            Type.INT,
            30,
            Rule.atLeast(0),
            Change.NEXT_ROUND,
            "when the stream goes quiet this long, a shorter round trains what is pending"));
    static final Setting<Integer> PARTITION_WAIT_SECONDS = SETTINGS.add(Setting.of(
            "IPT_PARTITION_WAIT_SECONDS",
            Type.INT,
            10,
            Rule.atLeast(0),
            Change.RESTART,
            "records of several partitions enter rounds in (timestamp, partition, offset) order; a partition with "
                    + "nothing to read holds the others back this long at most (README, \"Deterministic rounds\")"));
    static final Setting<Rounds.Schedule> SCHEDULE = SETTINGS.add(Setting.of(
            "IPT_SCHEDULE",
            Type.of(Rounds.Schedule.class),
            Rounds.Schedule.WSD,
            Rule.ANY,
            Change.NEXT_ROUND,
            "`rewarm-cosine`: every round re-warms and re-decays; `wsd`: one "
                    + "warmup, a constant rate, and a linear anneal over the last `IPT_ANNEAL_STEPS` steps "
                    + "of each round; `wsd-sqrt`: "
                    + "the same with a (1 − sqrt) cooldown (Hägele et al. 2024)"));
    static final Setting<Integer> ANNEAL_STEPS = SETTINGS.add(Setting.of(
            "IPT_ANNEAL_STEPS",
            Type.INT,
            10,
            Rule.atLeast(0),
            Change.NEXT_ROUND,
            "with `wsd`, the steps before each checkpoint that decay to the minimum rate"));
    static final Setting<Double> REPLAY_FRACTION = SETTINGS.add(Setting.of(
            "IPT_REPLAY_FRACTION",
            Type.DOUBLE,
            0.25,
            Rule.from(0, 1),
            Change.NEXT_ROUND,
            "share of every batch drawn from the replay store (the batch size stays); the "
                    + "base that measured forgetting (`IPT_REPLAY_GAIN`) or recoveries (`IPT_REPLAY_RAISE`) add to"));
    static final Setting<Double> REPLAY_CAPACITY_MB = SETTINGS.add(Setting.of(
            "IPT_REPLAY_CAPACITY_MB",
            Type.DOUBLE,
            256.0,
            Rule.above(0),
            Change.NEXT_ROUND,
            "replay store size; domains share it equally, each a uniform reservoir of its history"));
    static final Setting<Replay.Policy> REPLAY_POLICY = SETTINGS.add(Setting.of(
            "IPT_REPLAY_POLICY",
            Type.of(Replay.Policy.class),
            Replay.Policy.STEERED,
            Rule.ANY,
            Change.NEXT_ROUND,
            "`uniform` draws domains by their share of the history; `domain-balanced` draws them "
                    + "alike; `steered`: by the "
                    + "evaluator's settled reports: `IPT_REPLAY_FLOOR` of the replayed rows as "
                    + "`uniform` draws them, the rest from the "
                    + "domains whose held-out loss rose above the lowest the lineage reached, in "
                    + "proportion to the rise"));
    static final Setting<Path> REPLAY_TARGET = SETTINGS.add(Setting.optional(
            "IPT_REPLAY_TARGET",
            Type.PATH,
            "(none)",
            Rule.exists(),
            Change.NEXT_ROUND,
            "a directory of user suites (as `IPT_EVAL_SUITES`): replayed rows lean toward their text, "
                    + "by hashed n-gram importance weights (DSIR) over 4 candidates a row; none: drawn as the policy "
                    + "draws them"));
    static final Setting<Double> REPLAY_FLOOR = SETTINGS.add(Setting.of(
            "IPT_REPLAY_FLOOR",
            Type.DOUBLE,
            0.5,
            Rule.between(0, 1),
            Change.NEXT_ROUND,
            "with `steered`, the share of replayed rows drawn as `uniform` draws them"));
    static final Setting<Double> REPLAY_GAIN = SETTINGS.add(Setting.of(
            "IPT_REPLAY_GAIN",
            Type.DOUBLE,
            5.0,
            Rule.atLeast(0),
            Change.NEXT_ROUND,
            "the replay fraction follows measured forgetting: `IPT_REPLAY_FRACTION` + gain × the "
                    + "worst relative "
                    + "rise among the domains trained on, up to `IPT_MAX_REPLAY_FRACTION`, and back "
                    + "down as it falls; 0 keeps it fixed"));
    static final Setting<Integer> EVALUATION_WAIT_SECONDS = SETTINGS.add(Setting.of(
            "IPT_EVALUATION_WAIT_SECONDS",
            Type.INT,
            60,
            Rule.atLeast(0),
            Change.NEXT_ROUND,
            "round k uses exactly the reports on versions up to k − 1 (`evaluatedThrough` "
                    + "in the lineage state) and waits this long for the one on k − 1; a wait that "
                    + "runs out is counted "
                    + "(`timedOutWaits`): the one case in which a resumed trainer may differ from "
                    + "an uninterrupted one"));
    static final Setting<Boolean> FREEZE_EMBEDDINGS = SETTINGS.add(Setting.of(
            "IPT_FREEZE_EMBEDDINGS",
            Type.BOOLEAN,
            false,
            Rule.ANY,
            Change.NEXT_ROUND,
            "keep the embeddings (and the tied LM head) fixed"));
    static final Setting<Integer> FROZEN_BLOCKS = SETTINGS.add(Setting.of(
            "IPT_FROZEN_BLOCKS",
            Type.INT,
            0,
            Rule.atLeast(0),
            Change.NEXT_ROUND,
            "keep the first this many transformer blocks fixed"));
    static final Setting<Double> L2_PULL = SETTINGS.add(Setting.of(
            "IPT_L2_PULL",
            Type.DOUBLE,
            0.0,
            Rule.atLeast(0),
            Change.NEXT_ROUND,
            "λ of an L2 pull toward the champion's weights (decoupled: each update also moves w by "
                    + "lr·λ·(w_champion − w)); 0 for none"));
    static final Setting<Integer> RESET_AFTER_REJECTIONS = SETTINGS.add(Setting.of(
            "IPT_RESET_AFTER_REJECTIONS",
            Type.INT,
            3,
            Rule.atLeast(0),
            Change.NEXT_ROUND,
            "this many consecutive rejections (in the settled reports) lead to " + "`IPT_RECOVERY`; 0 never"));
    static final Setting<Steering.Recovery> RECOVERY = SETTINGS.add(Setting.of(
            "IPT_RECOVERY",
            Type.of(Steering.Recovery.class),
            Steering.Recovery.NONE,
            Rule.ANY,
            Change.NEXT_ROUND,
            "`none`: keep training "
                    + "(replay steering only); `reset`: restart from the champion's weights; "
                    + "`reset-if-worse`: the same, only if the "
                    + "newest rejected candidate is worse than the champion on the mean over domains; "
                    + "`interpolate`: move the working "
                    + "weights to `IPT_INTERPOLATION_KEEP` × working + the rest × champion (WiSE-FT)"));
    static final Setting<Double> INTERPOLATION_KEEP = SETTINGS.add(Setting.of(
            "IPT_INTERPOLATION_KEEP",
            Type.DOUBLE,
            0.5,
            Rule.between(0, 1),
            Change.NEXT_ROUND,
            "with `interpolate`, the working weights' share of the mixture"));
    static final Setting<Double> REPLAY_RAISE = SETTINGS.add(Setting.of(
            "IPT_REPLAY_RAISE",
            Type.DOUBLE,
            0.1,
            Rule.atLeast(0),
            Change.NEXT_ROUND,
            "without a gain, what each recovery adds to the replay fraction (kept in the lineage state)"));
    static final Setting<Double> MAX_REPLAY_FRACTION = SETTINGS.add(Setting.of(
            "IPT_MAX_REPLAY_FRACTION",
            Type.DOUBLE,
            0.5,
            Rule.from(0, 1),
            Change.NEXT_ROUND,
            "the gain and recoveries raise the replay fraction no higher"));
    static final Setting<Double> SPIKE_FACTOR = SETTINGS.add(Setting.of(
            "IPT_SPIKE_FACTOR",
            Type.DOUBLE,
            3.0,
            Rule.above(1),
            Change.NEXT_ROUND,
            "divergence guard: a non-finite loss, or one above this many times the round's mean after 5 steps, "
                    + "restores the last checkpoint and retries"));
    static final Setting<Double> DOWN_WEIGHT = SETTINGS.add(Setting.of(
            "IPT_DOWN_WEIGHT",
            Type.DOUBLE,
            0.1,
            Rule.within(0, 1),
            Change.NEXT_ROUND,
            "the retry scales the offending batch's learning rate by this; a second divergence skips it"));
    static final Setting<Integer> CONTEXT_LENGTH = SETTINGS.add(Setting.of(
            "IPT_CONTEXT_LENGTH",
            Type.INT,
            128,
            Rule.atLeast(1),
            Change.REFUSED,
            "tokens per sequence of a new lineage's model (for a TorchScript start: its declared shape; for a Hugging "
                    + "Face start: the window it trains over, at most the model's positions)"));
    static final Setting<Integer> D_MODEL = SETTINGS.add(Setting.of(
            "IPT_D_MODEL",
            Type.INT,
            128,
            Rule.atLeast(1),
            Change.REFUSED,
            "width of a new lineage's model (a Hugging Face start has its own)"));
    static final Setting<Integer> LAYERS = SETTINGS.add(Setting.of(
            "IPT_LAYERS",
            Type.INT,
            2,
            Rule.atLeast(1),
            Change.REFUSED,
            "transformer blocks of a new lineage's model (a Hugging Face start has its own)"));
    static final Setting<Integer> HEADS = SETTINGS.add(Setting.of(
            "IPT_HEADS",
            Type.INT,
            4,
            Rule.atLeast(1),
            Change.REFUSED,
            "attention heads of a new lineage's model (a Hugging Face start has its own); divides `IPT_D_MODEL`"));
    static final Setting<String> START_FROM = SETTINGS.add(Setting.optional(
            "IPT_START_FROM",
            Type.STRING,
            "(fresh weights)",
            new Rule<>(
                    "must exist, or be an s3:// location in the checkpoint store",
                    s -> Start.remote(s) || Path.of(s).toFile().exists(),
                    Map.of()),
            Change.NEW_LINEAGE,
            "a new lineage's first weights: another lineage's checkpoint directory (weights, "
                    + "AdamW state, step and tokenizer carry over), a Hugging Face model directory (`config.json`, "
                    + "safetensors, its own `tokenizer.json`: GPT-2, Llama or Qwen2, trained in its own shape), or a "
                    + "TorchScript file; a Hugging Face directory may also be in an `s3://` checkpoint store "
                    + "(`s3://bucket/prefix/models/my-llama`), fetched once into the trainer's cache"));
    static final Setting<Path> TOKENIZER = SETTINGS.add(Setting.optional(
            "IPT_TOKENIZER",
            Type.PATH,
            "",
            Rule.exists(),
            Change.NEW_LINEAGE,
            "with a TorchScript `IPT_START_FROM`: the HuggingFace `tokenizer.json` it reads text with (read "
                    + "locally, never downloaded)"));

    /** From IPT_* environment variables ({@link #SETTINGS}). */
    public static TrainerConfig fromEnv(Map<String, String> env) {
        return from(SETTINGS.parse(env));
    }

    static TrainerConfig from(Settings.Values v) {
        TrainerConfig c = of(v.get(LINEAGE), v.get(DATA_DIR), v.get(REPLAY_FRACTION));
        GptConfig m = c.model();
        Guard g = c.guard();
        return c.withModel(
                        new GptConfig(
                                m.vocabSize(), v.get(CONTEXT_LENGTH), v.get(D_MODEL), v.get(LAYERS), v.get(HEADS)),
                        c.train())
                .with(new Rounds(
                        v.get(STEPS_PER_ROUND),
                        v.get(BATCH_SIZE),
                        v.get(MICRO_BATCHES),
                        Duration.ofSeconds(v.get(IDLE_FLUSH_SECONDS)),
                        Duration.ofSeconds(v.get(PARTITION_WAIT_SECONDS)),
                        v.get(SCHEDULE),
                        v.get(ANNEAL_STEPS)))
                .with(new Replay(
                        v.get(REPLAY_FRACTION),
                        (long) (v.get(REPLAY_CAPACITY_MB) * (1 << 20)),
                        v.get(REPLAY_POLICY),
                        v.isSet(REPLAY_TARGET) ? v.get(REPLAY_TARGET) : null))
                .with(new Guard(
                        v.get(SPIKE_FACTOR), g.settleSteps(), v.get(DOWN_WEIGHT).floatValue()))
                .with(new Forgetting(
                        v.get(FREEZE_EMBEDDINGS),
                        v.get(FROZEN_BLOCKS),
                        v.get(L2_PULL).floatValue(),
                        v.get(RESET_AFTER_REJECTIONS),
                        v.get(REPLAY_RAISE),
                        v.get(MAX_REPLAY_FRACTION)))
                .with(new Start(v.get(START_FROM), v.get(TOKENIZER)))
                .withCheckpointStore(v.isSet(CHECKPOINT_STORE) ? v.get(CHECKPOINT_STORE) : c.checkpointStore())
                .withMaxShardBytes((long) v.get(CHECKPOINT_SHARD_MB) << 20)
                .with(new Steering(
                        v.get(REPLAY_FLOOR),
                        v.get(REPLAY_GAIN),
                        Duration.ofSeconds(v.get(EVALUATION_WAIT_SECONDS)),
                        v.get(RECOVERY),
                        v.get(INTERPOLATION_KEEP)));
    }

    /** New sequences per batch: all of it while there is nothing to replay yet. */
    int newPerBatch(boolean replayAvailable, double replayFraction) {
        if (!replayAvailable) return rounds.batchSize();
        return Math.max(1, rounds.batchSize() - (int) Math.round(replayFraction * rounds.batchSize()));
    }

    String groupId() {
        return "ipt-trainer-" + lineage;
    }

    int sequenceLength() {
        return model.contextLength() + 1;
    }
}
