package ipt.trainer;

import ipt.model.CheckpointStore;
import ipt.model.GptConfig;
import ipt.model.TrainConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
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
    Steering steering) {

  /**
   * What a new lineage's first round trains on from: nothing (fresh weights of {@code model}'s shape), another
   * lineage's checkpoint directory (its weights, optimizer state, step and tokenizer), or a TorchScript module file
   * with the HuggingFace {@code tokenizer}.json it reads text with. Ignored once the lineage has a checkpoint.
   */
  public record Start(Path from, Path tokenizer) {
    public static final Start FRESH = new Start(null, null);

    public Start {
      if (from == null && tokenizer != null) throw new IllegalArgumentException("a tokenizer is only for starting from a TorchScript model");
      if (from != null && !Files.isDirectory(from) && tokenizer == null) {
        throw new IllegalArgumentException(from + " is not a checkpoint directory; a TorchScript model needs its tokenizer.json");
      }
    }
  }

  /**
   * How the stream is cut into rounds and a round into steps.
   *
   * @param stepsPerRound optimizer steps of a full round; a round starts once it can fill them with new data
   * @param microBatches a step's batch is split into this many forward/backward passes whose gradients add up
   *     (gradient accumulation: the same update, less activation memory)
   * @param idleFlush after this long without new documents, a shorter round trains what is pending
   * @param annealSteps with the {@code WSD} schedule, the last steps of every round that decay to minLr
   */
  public record Rounds(int stepsPerRound, int batchSize, int microBatches, Duration idleFlush, Schedule schedule, int annealSteps) {
    /**
     * {@code REWARM_COSINE}: every round re-warms and decays (Ibrahim et al. 2024). {@code WSD}: one warmup
     * over the lineage's first steps, then a constant rate, with a short linear anneal before each checkpoint.
     * {@code WSD_SQRT}: the same with a (1 - sqrt) cooldown (Hägele et al. 2024).
     */
    public enum Schedule { REWARM_COSINE, WSD, WSD_SQRT }

    public Rounds {
      if (stepsPerRound < 1 || batchSize < 1) throw new IllegalArgumentException("stepsPerRound and batchSize must be positive");
      if (microBatches < 1 || batchSize % microBatches != 0) {
        throw new IllegalArgumentException("microBatches must divide batchSize " + batchSize + ", got " + microBatches);
      }
      if (annealSteps < 0) throw new IllegalArgumentException("annealSteps must be >= 0");
    }
  }

  /**
   * @param fraction share of every batch drawn from the replay store (none while it is empty)
   * @param capacityBytes what the store may hold, shared equally by the domains' reservoirs
   */
  public record Replay(double fraction, long capacityBytes, Policy policy) {
    /**
     * {@code UNIFORM}: as if drawn from the whole history; {@code DOMAIN_BALANCED}: every domain alike;
     * {@code STEERED}: by the gate's settled reports ({@link ReplayMixture}), domains being forgotten drawn more.
     */
    public enum Policy { UNIFORM, DOMAIN_BALANCED, STEERED }

    public Replay {
      if (fraction < 0 || fraction >= 1) throw new IllegalArgumentException("replay fraction must be in [0, 1)");
      if (capacityBytes < 1) throw new IllegalArgumentException("replay capacity must be positive");
    }

    Replay withFraction(double f) {
      return new Replay(f, capacityBytes, policy);
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
  public record Forgetting(boolean freezeEmbeddings, int frozenBlocks, float l2Pull, int resetAfterRejections,
      double replayRaise, double maxReplay) {
    public Forgetting {
      if (frozenBlocks < 0 || l2Pull < 0 || resetAfterRejections < 0 || replayRaise < 0 || maxReplay < 0 || maxReplay >= 1) {
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
   * @param gain the replay fraction is {@code fraction + gain × worst relative forgetting}, up to maxReplay; 0 fixes it
   * @param recovery what {@code resetAfterRejections} consecutive settled rejections lead to
   * @param keep under {@code INTERPOLATE}, the working weights' share in the mixture with the champion's
   */
  public record Steering(double floor, double gain, Duration evaluationWait, Recovery recovery, double keep) {
    /**
     * {@code NONE}: keep training (replay steering only); {@code RESET}: restart from the champion's weights;
     * {@code RESET_IF_WORSE}: the same, only if the newest rejected candidate is worse than the champion on the mean
     * over domains; {@code INTERPOLATE}: move the working weights to keep × working + (1 − keep) × champion (WiSE-FT).
     */
    public enum Recovery { NONE, RESET, RESET_IF_WORSE, INTERPOLATE }

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
    if (!lineage.matches("[a-z0-9][a-z0-9._-]{0,63}")) throw new IllegalArgumentException("bad lineage name: " + lineage);
    if (forgetting.frozenBlocks() > model.nLayers()) {
      throw new IllegalArgumentException("cannot freeze " + forgetting.frozenBlocks() + " of " + model.nLayers() + " blocks");
    }
  }

  /**
   * A lineage writing its checkpoints under {@code dataDir/checkpoints/lineage} (which is also the checkpoint
   * store, until {@link #withCheckpointStore} names another) and replay under {@code dataDir/replay/lineage}.
   */
  public static TrainerConfig of(String lineage, Path dataDir, double replayFraction) {
    return new TrainerConfig(lineage, dataDir.resolve("checkpoints").resolve(lineage), dataDir.resolve("replay").resolve(lineage),
        new Rounds(50, 16, 1, Duration.ofSeconds(30), Rounds.Schedule.WSD, 10),
        new Replay(replayFraction, 256L << 20, Replay.Policy.STEERED),
        GptConfig.small(), TrainConfig.defaults(), Guard.defaults(), Forgetting.defaults(), Start.FRESH,
        dataDir.resolve("checkpoints").toString(), Steering.defaults());
  }

  public TrainerConfig withRounds(int stepsPerRound, int batchSize, Duration idleFlush) {
    Rounds r = rounds;
    return with(new Rounds(stepsPerRound, batchSize, r.microBatches(), idleFlush, r.schedule(), r.annealSteps()));
  }

  public TrainerConfig with(Rounds r) {
    return new TrainerConfig(lineage, checkpointRoot, replayDir, r, replay, model, train, guard, forgetting, start, checkpointStore, steering);
  }

  public TrainerConfig with(Replay r) {
    return new TrainerConfig(lineage, checkpointRoot, replayDir, rounds, r, model, train, guard, forgetting, start, checkpointStore, steering);
  }

  public TrainerConfig withModel(GptConfig model, TrainConfig train) {
    return new TrainerConfig(lineage, checkpointRoot, replayDir, rounds, replay, model, train, guard, forgetting, start, checkpointStore, steering);
  }

  public TrainerConfig with(Guard g) {
    return new TrainerConfig(lineage, checkpointRoot, replayDir, rounds, replay, model, train, g, forgetting, start, checkpointStore, steering);
  }

  public TrainerConfig with(Start s) {
    return new TrainerConfig(lineage, checkpointRoot, replayDir, rounds, replay, model, train, guard, forgetting, s, checkpointStore, steering);
  }

  public TrainerConfig with(Forgetting f) {
    return new TrainerConfig(lineage, checkpointRoot, replayDir, rounds, replay, model, train, guard, f, start, checkpointStore, steering);
  }

  public TrainerConfig with(Steering s) {
    return new TrainerConfig(lineage, checkpointRoot, replayDir, rounds, replay, model, train, guard, forgetting, start, checkpointStore, s);
  }

  /**
   * Keeps checkpoints in {@code store} ({@link CheckpointStore#of}: a directory or s3://bucket/prefix) after writing
   * them locally; published locations are the store's.
   */
  public TrainerConfig withCheckpointStore(String store) {
    return new TrainerConfig(lineage, checkpointRoot, replayDir, rounds, replay, model, train, guard, forgetting, start, store, steering);
  }

  /** From IPT_* environment variables (README, "Trainer settings"), with {@link #of} defaults. */
  public static TrainerConfig fromEnv(Map<String, String> env) {
    TrainerConfig c = of(env.getOrDefault("IPT_LINEAGE", "main"), Path.of(env.getOrDefault("IPT_DATA_DIR", "ipt-data")),
        Double.parseDouble(env.getOrDefault("IPT_REPLAY_FRACTION", "0.25")));
    Settings s = new Settings(env);
    Rounds r = c.rounds();
    Replay p = c.replay();
    Guard g = c.guard();
    Forgetting f = c.forgetting();
    Steering st = c.steering();
    GptConfig m = c.model();
    return c
        .withModel(new GptConfig(m.vocabSize(), s.integer("IPT_CONTEXT_LENGTH", m.contextLength()), s.integer("IPT_D_MODEL", m.dModel()),
            s.integer("IPT_LAYERS", m.nLayers()), s.integer("IPT_HEADS", m.nHeads())), c.train())
        .with(new Rounds(s.integer("IPT_STEPS_PER_ROUND", r.stepsPerRound()), s.integer("IPT_BATCH_SIZE", r.batchSize()),
            s.integer("IPT_MICRO_BATCHES", r.microBatches()), Duration.ofSeconds(s.integer("IPT_IDLE_FLUSH_SECONDS", (int) r.idleFlush().toSeconds())),
            s.choice("IPT_SCHEDULE", Rounds.Schedule.class, r.schedule()), s.integer("IPT_ANNEAL_STEPS", r.annealSteps())))
        .with(new Replay(p.fraction(), (long) (s.decimal("IPT_REPLAY_CAPACITY_MB", p.capacityBytes() / (double) (1 << 20)) * (1 << 20)),
            s.choice("IPT_REPLAY_POLICY", Replay.Policy.class, p.policy())))
        .with(new Guard(s.decimal("IPT_SPIKE_FACTOR", g.spikeFactor()), g.settleSteps(), (float) s.decimal("IPT_DOWN_WEIGHT", g.downWeight())))
        .with(new Forgetting(Boolean.parseBoolean(env.getOrDefault("IPT_FREEZE_EMBEDDINGS", String.valueOf(f.freezeEmbeddings()))),
            s.integer("IPT_FROZEN_BLOCKS", f.frozenBlocks()), (float) s.decimal("IPT_L2_PULL", f.l2Pull()),
            s.integer("IPT_RESET_AFTER_REJECTIONS", f.resetAfterRejections()), s.decimal("IPT_REPLAY_RAISE", f.replayRaise()),
            s.decimal("IPT_MAX_REPLAY_FRACTION", f.maxReplay())))
        .with(new Start(path(env, "IPT_START_FROM"), path(env, "IPT_TOKENIZER")))
        .withCheckpointStore(env.getOrDefault("IPT_CHECKPOINT_STORE", c.checkpointStore()))
        .with(new Steering(s.decimal("IPT_REPLAY_FLOOR", st.floor()), s.decimal("IPT_REPLAY_GAIN", st.gain()),
            Duration.ofSeconds(s.integer("IPT_EVALUATION_WAIT_SECONDS", (int) st.evaluationWait().toSeconds())),
            s.choice("IPT_RECOVERY", Steering.Recovery.class, st.recovery()), s.decimal("IPT_INTERPOLATION_KEEP", st.keep())));
  }

  private static Path path(Map<String, String> env, String name) {
    String value = env.get(name);
    if (value == null || value.isBlank()) return null;
    Path p = Path.of(value);
    if (!Files.exists(p)) throw new IllegalArgumentException(name + "=" + value + ": no such file or directory");
    return p;
  }

  /** Reads one variable, naming it when its value does not parse. */
  private record Settings(Map<String, String> env) {
    int integer(String name, int fallback) {
      return parse(name, String.valueOf(fallback), Integer::parseInt);
    }

    double decimal(String name, double fallback) {
      return parse(name, String.valueOf(fallback), Double::parseDouble);
    }

    /** An enum constant, written in any case and with - for _ ({@code domain-balanced}). */
    <E extends Enum<E>> E choice(String name, Class<E> type, E fallback) {
      return parse(name, fallback.name(), v -> Enum.valueOf(type, v.trim().toUpperCase(Locale.ROOT).replace('-', '_')));
    }

    private <T> T parse(String name, String fallback, java.util.function.Function<String, T> parser) {
      String value = env.getOrDefault(name, fallback);
      try {
        return parser.apply(value);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(name + "=" + value + ": " + e.getMessage(), e);
      }
    }
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
