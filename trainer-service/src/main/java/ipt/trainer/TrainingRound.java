package ipt.trainer;

import ipt.model.LrSchedule;
import ipt.model.Training;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.function.BooleanSupplier;
import org.rocksdb.RocksDBException;

/**
 * One round: every new sequence exactly once, {@code newPerBatch} per step, the rest of each batch
 * replayed; the learning rate follows the lineage's schedule (re-warm and re-decay, or WSD). Under the
 * divergence guard ({@link #runGuarded}) a round whose loss turns non-finite or spikes is restarted from the
 * last checkpoint with the offending batch down-weighted, then skipped. A round asked to stop ends at its next step.
 */
final class TrainingRound {
    /** How a round went; {@code diverged} means its weights must not be kept, and {@code offendingStep} says where. */
    record Result(
            int steps, double trainLoss, boolean diverged, int offendingStep, String detail, RoundLosses losses) {}

    /** A guarded round: the model to keep (a restored one after a divergence), its result, and what the guard did. */
    record Outcome(Training model, Result result, List<String> guardEvents) {}

    /** One optimizer step; the service's is {@link Training#train}. */
    interface Step {
        Training.StepResult train(Training model, int[][] batch, float lr, int microBatches);
    }

    /**
     * How a round draws its replayed rows: domains by the gate's {@code shares} ({@link ReplayMixture}) or, when
     * null, by the lineage's policy; then, with a {@code target}, leaning toward the user's suites ({@link
     * TaskAwareReplay}).
     */
    record Draw(SortedMap<String, Double> shares, TaskAwareReplay target) {
        static final Draw BY_POLICY = new Draw(null, null);

        List<ReplayStore.Entry> rows(ReplayStore store, TrainerConfig.Replay.Policy policy, int n, SplittableRandom r)
                throws RocksDBException {
            int drawn = target == null ? n : n * TaskAwareReplay.POOL;
            List<ReplayStore.Entry> pool =
                    shares == null ? store.sample(drawn, policy, r) : store.sample(drawn, shares, r);
            return target == null ? pool : target.choose(pool, n, r);
        }
    }

    /** Brings back the weights of the last committed checkpoint. */
    interface Restore {
        Training lastCommitted() throws Exception;
    }

    private TrainingRound() {}

    /**
     * Runs the round; on a divergence restores the last checkpoint and runs it again with the offending
     * batch's learning rate scaled by the guard's down-weight, and if that batch diverges again, without it.
     * Gives up (throws) after {@code maxAttempts} runs.
     */
    static Outcome runGuarded(
            Training model,
            Restore restore,
            TrainerConfig config,
            List<Packer.Sequence> fresh,
            int newPerBatch,
            ReplayStore replay,
            Draw draw,
            Step step,
            TrainerMetrics metrics,
            int maxAttempts,
            BooleanSupplier stop)
            throws Exception {
        Map<Integer, Float> stepScale = new HashMap<>();
        List<String> events = new ArrayList<>();
        for (int attempt = 1; ; attempt++) {
            Result result = run(model, config, fresh, newPerBatch, replay, draw, stepScale, step, metrics, stop);
            if (!result.diverged()) return new Outcome(model, result, events);
            if (attempt == maxAttempts)
                throw new IllegalStateException("round diverged " + maxAttempts + " times: " + result.detail());
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

    /**
     * One pass over the round; {@code stepScale} scales (or, at 0, skips) single steps. Once {@code stop} says so the
     * round is abandoned before its next step (InterruptedException): the weights it changed are never committed.
     */
    static Result run(
            Training model,
            TrainerConfig config,
            List<Packer.Sequence> fresh,
            int newPerBatch,
            ReplayStore replay,
            Draw draw,
            Map<Integer, Float> stepScale,
            Step step,
            TrainerMetrics metrics,
            BooleanSupplier stop)
            throws RocksDBException, InterruptedException {
        int steps = (fresh.size() + newPerBatch - 1) / newPerBatch;
        long firstStep = model.step();
        RoundLosses losses = new RoundLosses();
        double tailLoss = 0;
        int tailSteps = 0;
        double lossSum = 0;
        int trained = 0;
        for (int s = 0; s < steps; s++) {
            if (stop.getAsBoolean())
                throw new InterruptedException(
                        "stop requested: round abandoned before step " + (s + 1) + " of " + steps);
            float scale = stepScale.getOrDefault(s, 1f);
            if (scale == 0f) continue;
            List<Packer.Sequence> rows =
                    new ArrayList<>(fresh.subList(s * newPerBatch, Math.min(fresh.size(), (s + 1) * newPerBatch)));
            int newRows = rows.size();
            // A batch all new (replay fraction 0) draws nothing, its round's last partial batch included.
            if (replay.size() > 0 && newPerBatch < config.rounds().batchSize()) {
                int n = config.rounds().batchSize() - newRows;
                SplittableRandom random = random(config, model.step());
                draw.rows(replay, config.replay().policy(), n, random)
                        .forEach(e -> rows.add(new Packer.Sequence(e.domain(), e.tokens())));
            }
            float lr = learningRate(config, firstStep + s, s, steps) * scale;
            long start = System.nanoTime();
            Training.StepResult result = step.train(
                    model,
                    rows.stream().map(Packer.Sequence::tokens).toArray(int[][]::new),
                    lr,
                    config.rounds().microBatches());
            double seconds = (System.nanoTime() - start) / 1e9;
            float loss = result.loss();
            metrics.step(
                    config.lineage(),
                    loss,
                    lr,
                    seconds,
                    newRows * (long) config.sequenceLength(),
                    rows.size() * (long) config.sequenceLength());
            if (!Float.isFinite(loss)) {
                return new Result(
                        s + 1,
                        Double.NaN,
                        true,
                        s,
                        "non-finite loss " + loss + " at step " + (s + 1) + " of " + steps,
                        losses);
            }
            // A spike is judged against this round's own mean so far, after a few steps to settle on.
            double mean = trained == 0 ? Double.NaN : lossSum / trained;
            if (trained >= config.guard().settleSteps() && loss > config.guard().spikeFactor() * mean) {
                return new Result(
                        s + 1,
                        Double.NaN,
                        true,
                        s,
                        String.format(
                                "loss spike %.3f, %.1fx the round's mean %.3f, at step %d of %d",
                                loss, loss / mean, mean, s + 1, steps),
                        losses);
            }
            for (int r = 0; r < rows.size(); r++)
                losses.add(r < newRows ? "new" : "replay", rows.get(r).domain(), result.rowLosses()[r]);
            lossSum += loss;
            trained++;
            if (s >= steps - Math.max(1, steps / 5)) {
                tailLoss += loss;
                tailSteps++;
            }
        }
        return new Result(steps, tailSteps == 0 ? Double.NaN : tailLoss / tailSteps, false, -1, "ok", losses);
    }

    private static float learningRate(TrainerConfig config, long globalStep, int stepInRound, int roundSteps) {
        TrainerConfig.Rounds r = config.rounds();
        return switch (r.schedule()) {
            case REWARM_COSINE -> LrSchedule.at(stepInRound, roundSteps, config.train());
            case WSD -> LrSchedule.wsd(globalStep, stepInRound, roundSteps, r.annealSteps(), config.train());
            case WSD_SQRT -> LrSchedule.wsdSqrt(globalStep, stepInRound, roundSteps, r.annealSteps(), config.train());
        };
    }

    /** Mean loss per row source (new or replay) and domain over a round, for the new-vs-replay metric. */
    static final class RoundLosses {
        private final Map<List<String>, double[]> sums = new TreeMap<>(Comparator.comparing(Object::toString));

        void add(String source, String domain, float loss) {
            double[] sum = sums.computeIfAbsent(List.of(source, domain), k -> new double[2]);
            sum[0] += loss;
            sum[1]++;
        }

        /** (source, domain) -> mean loss in nats per token. */
        Map<List<String>, Double> means() {
            Map<List<String>, Double> out = new TreeMap<>(Comparator.comparing(Object::toString));
            sums.forEach((k, v) -> out.put(k, v[0] / v[1]));
            return out;
        }
    }

    /** Replay draws depend only on the seed and the global step, so a resumed run draws the same. */
    private static SplittableRandom random(TrainerConfig config, long globalStep) {
        return new SplittableRandom(config.train().seed() * 0x9E3779B97F4A7C15L + globalStep);
    }
}
