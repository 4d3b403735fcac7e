package ipt.trainer;

import ipt.model.LanguageModel;
import ipt.model.LrSchedule;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.rocksdb.RocksDBException;

/**
 * One round: every new sequence exactly once, {@code newPerBatch} per step, the rest of each batch
 * replayed; the learning rate re-warms and decays over the round (Ibrahim et al. 2024).
 */
final class TrainingRound {
  /** How a round went; {@code diverged} means its weights must not be kept. */
  record Result(int steps, double trainLoss, boolean diverged, String detail) {}

  private TrainingRound() {}

  static Result run(
      LanguageModel model,
      TrainerConfig config,
      List<Packer.Sequence> fresh,
      int newPerBatch,
      ReplayStore replay,
      long replayable,
      float lrScale,
      TrainerMetrics metrics)
      throws RocksDBException {
    int steps = (fresh.size() + newPerBatch - 1) / newPerBatch;
    double tailLoss = 0;
    int tailSteps = 0;
    for (int s = 0; s < steps; s++) {
      List<Packer.Sequence> newData = fresh.subList(s * newPerBatch, Math.min(fresh.size(), (s + 1) * newPerBatch));
      int[][] batch = batch(newData, config.batchSize(), replay, replayable, random(config, model.step()));
      float lr = LrSchedule.at(s, steps, config.train()) * lrScale;
      long start = System.nanoTime();
      float loss = model.trainStep(batch, lr);
      metrics.step(config.lineage(), loss, lr, (System.nanoTime() - start) / 1e9, newData.size() * (long) config.sequenceLength());
      if (!Float.isFinite(loss)) {
        return new Result(s + 1, Double.NaN, true, "loss became " + loss + " at step " + (s + 1) + " of " + steps);
      }
      if (s >= steps - Math.max(1, steps / 5)) {
        tailLoss += loss;
        tailSteps++;
      }
    }
    return new Result(steps, tailSteps == 0 ? Double.NaN : tailLoss / tailSteps, false, "ok");
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
