package ipt.trainer;

import ipt.model.LanguageModel;
import ipt.model.LrSchedule;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.rocksdb.RocksDBException;

/**
 * One round: every new sequence exactly once, {@code newPerBatch} per step, the rest of each batch
 * replayed; the learning rate re-warms and decays over the round (Ibrahim et al. 2024). Under the
 * divergence guard ({@link #runGuarded}) a round whose loss turns non-finite or spikes is restarted from the
 * last checkpoint with the offending batch down-weighted, then skipped.
 */
final class TrainingRound {
  /** How a round went; {@code diverged} means its weights must not be kept, and {@code offendingStep} says where. */
  record Result(int steps, double trainLoss, boolean diverged, int offendingStep, String detail) {}

  /** A guarded round: the model to keep (a restored one after a divergence), its result, and what the guard did. */
  record Outcome(LanguageModel model, Result result, List<String> guardEvents) {}

  /** One optimizer step; the service's is {@link LanguageModel#trainStep}. */
  interface Step {
    float train(LanguageModel model, int[][] batch, float lr);
  }

  /** Brings back the weights of the last committed checkpoint. */
  interface Restore {
    LanguageModel lastCommitted() throws Exception;
  }

  private TrainingRound() {}

  /**
   * Runs the round; on a divergence restores the last checkpoint and runs it again with the offending
   * batch's learning rate scaled by the guard's down-weight, and if that batch diverges again, without it.
   * Gives up (throws) after {@code maxAttempts} runs.
   */
  static Outcome runGuarded(LanguageModel model, Restore restore, TrainerConfig config, List<Packer.Sequence> fresh, int newPerBatch,
      ReplayStore replay, long replayable, Step step, TrainerMetrics metrics, int maxAttempts) throws Exception {
    Map<Integer, Float> stepScale = new HashMap<>();
    List<String> events = new ArrayList<>();
    for (int attempt = 1; ; attempt++) {
      Result result = run(model, config, fresh, newPerBatch, replay, replayable, stepScale, step, metrics);
      if (!result.diverged()) return new Outcome(model, result, events);
      if (attempt == maxAttempts) throw new IllegalStateException("round diverged " + maxAttempts + " times: " + result.detail());
      int s = result.offendingStep();
      boolean skip = stepScale.containsKey(s);
      stepScale.put(s, skip ? 0f : config.guard().downWeight());
      String action = skip ? "skip" : "down-weight";
      events.add(result.detail() + ": " + action + " batch " + (s + 1));
      metrics.guard(config.lineage(), result.detail().startsWith("non-finite") ? "non-finite" : "spike", action);
      model.close();
      model = restore.lastCommitted();
    }
  }

  /** One pass over the round; {@code stepScale} scales (or, at 0, skips) single steps. */
  static Result run(LanguageModel model, TrainerConfig config, List<Packer.Sequence> fresh, int newPerBatch, ReplayStore replay,
      long replayable, Map<Integer, Float> stepScale, Step step, TrainerMetrics metrics) throws RocksDBException {
    int steps = (fresh.size() + newPerBatch - 1) / newPerBatch;
    double tailLoss = 0;
    int tailSteps = 0;
    double lossSum = 0;
    int trained = 0;
    for (int s = 0; s < steps; s++) {
      float scale = stepScale.getOrDefault(s, 1f);
      if (scale == 0f) continue;
      List<Packer.Sequence> newData = fresh.subList(s * newPerBatch, Math.min(fresh.size(), (s + 1) * newPerBatch));
      int[][] batch = batch(newData, config.batchSize(), replay, replayable, random(config, model.step()));
      float lr = LrSchedule.at(s, steps, config.train()) * scale;
      long start = System.nanoTime();
      float loss = step.train(model, batch, lr);
      metrics.step(config.lineage(), loss, lr, (System.nanoTime() - start) / 1e9, newData.size() * (long) config.sequenceLength());
      if (!Float.isFinite(loss)) {
        return new Result(s + 1, Double.NaN, true, s, "non-finite loss " + loss + " at step " + (s + 1) + " of " + steps);
      }
      // A spike is judged against this round's own mean so far, after a few steps to settle on.
      double mean = trained == 0 ? Double.NaN : lossSum / trained;
      if (trained >= config.guard().settleSteps() && loss > config.guard().spikeFactor() * mean) {
        return new Result(s + 1, Double.NaN, true, s, String.format("loss spike %.3f, %.1fx the round's mean %.3f, at step %d of %d",
            loss, loss / mean, mean, s + 1, steps));
      }
      lossSum += loss;
      trained++;
      if (s >= steps - Math.max(1, steps / 5)) {
        tailLoss += loss;
        tailSteps++;
      }
    }
    return new Result(steps, tailSteps == 0 ? Double.NaN : tailLoss / tailSteps, false, -1, "ok");
  }

  /** The new sequences of this step, topped up from the replay store to the batch size. */
  private static int[][] batch(List<Packer.Sequence> newData, int batchSize, ReplayStore replay, long replayable, SplittableRandom random)
      throws RocksDBException {
    List<int[]> rows = new ArrayList<>(batchSize);
    newData.forEach(s -> rows.add(s.tokens()));
    if (replayable > 0) replay.sample(batchSize - rows.size(), replayable, random).forEach(e -> rows.add(e.tokens()));
    return rows.toArray(new int[0][]);
  }

  /** Replay draws depend only on the seed and the global step, so a resumed run draws the same. */
  private static SplittableRandom random(TrainerConfig config, long globalStep) {
    return new SplittableRandom(config.train().seed() * 0x9E3779B97F4A7C15L + globalStep);
  }
}
