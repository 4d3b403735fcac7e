package ipt.trainer;

import ipt.model.GptConfig;
import ipt.model.TrainConfig;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

/**
 * One lineage's trainer: the model, the optimiser, and how rounds are cut from the stream.
 *
 * @param stepsPerRound optimizer steps of a full round; a round starts once it can fill them with new data
 * @param replayFraction fraction of every batch drawn from the replay store (none while it is empty)
 * @param idleFlush after this long without new documents, a shorter round trains what is pending
 * @param guard when a round counts as diverged, and what a retry does to the offending batch
 */
public record TrainerConfig(
    String lineage,
    Path checkpointRoot,
    Path replayDir,
    int stepsPerRound,
    int batchSize,
    double replayFraction,
    Duration idleFlush,
    GptConfig model,
    TrainConfig train,
    Guard guard) {

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

  public TrainerConfig {
    if (!lineage.matches("[a-z0-9][a-z0-9._-]{0,63}")) throw new IllegalArgumentException("bad lineage name: " + lineage);
    if (replayFraction < 0 || replayFraction >= 1) throw new IllegalArgumentException("replayFraction must be in [0, 1)");
    if (stepsPerRound < 1 || batchSize < 1) throw new IllegalArgumentException("stepsPerRound and batchSize must be positive");
  }

  /** A lineage keeping its checkpoints under {@code dataDir/checkpoints/lineage} and replay under {@code dataDir/replay/lineage}. */
  public static TrainerConfig of(String lineage, Path dataDir, double replayFraction) {
    return new TrainerConfig(lineage, dataDir.resolve("checkpoints").resolve(lineage), dataDir.resolve("replay").resolve(lineage),
        50, 16, replayFraction, Duration.ofSeconds(30), GptConfig.small(), TrainConfig.defaults(), Guard.defaults());
  }

  public TrainerConfig withRounds(int stepsPerRound, int batchSize, Duration idleFlush) {
    return new TrainerConfig(lineage, checkpointRoot, replayDir, stepsPerRound, batchSize, replayFraction, idleFlush, model, train, guard);
  }

  public TrainerConfig withModel(GptConfig model, TrainConfig train) {
    return new TrainerConfig(lineage, checkpointRoot, replayDir, stepsPerRound, batchSize, replayFraction, idleFlush, model, train, guard);
  }

  public TrainerConfig withGuard(Guard guard) {
    return new TrainerConfig(lineage, checkpointRoot, replayDir, stepsPerRound, batchSize, replayFraction, idleFlush, model, train, guard);
  }

  /** From IPT_* environment variables, with {@link #of} defaults. */
  public static TrainerConfig fromEnv(Map<String, String> env) {
    TrainerConfig c = of(env.getOrDefault("IPT_LINEAGE", "main"), Path.of(env.getOrDefault("IPT_DATA_DIR", "ipt-data")),
        Double.parseDouble(env.getOrDefault("IPT_REPLAY_FRACTION", "0.25")));
    Guard g = c.guard();
    return c.withRounds(
        Integer.parseInt(env.getOrDefault("IPT_STEPS_PER_ROUND", String.valueOf(c.stepsPerRound()))),
        Integer.parseInt(env.getOrDefault("IPT_BATCH_SIZE", String.valueOf(c.batchSize()))),
        Duration.ofSeconds(Long.parseLong(env.getOrDefault("IPT_IDLE_FLUSH_SECONDS", String.valueOf(c.idleFlush().toSeconds())))))
        .withGuard(new Guard(Double.parseDouble(env.getOrDefault("IPT_SPIKE_FACTOR", String.valueOf(g.spikeFactor()))), g.settleSteps(),
            Float.parseFloat(env.getOrDefault("IPT_DOWN_WEIGHT", String.valueOf(g.downWeight())))));
  }

  /** New sequences per batch: all of it while there is nothing to replay yet. */
  int newPerBatch(boolean replayAvailable) {
    if (!replayAvailable) return batchSize;
    return Math.max(1, batchSize - (int) Math.round(replayFraction * batchSize));
  }

  String groupId() {
    return "ipt-trainer-" + lineage;
  }

  int sequenceLength() {
    return model.contextLength() + 1;
  }
}
