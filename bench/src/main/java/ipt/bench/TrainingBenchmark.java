package ipt.bench;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ipt.model.GptConfig;
import ipt.model.TrainConfig;
import ipt.model.Training;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Collectors;

/**
 * The trainer's training step (Training.train: forward, backward, global-norm clip, AdamW) on the
 * default model, GptConfig.small() with batch 16: tokens/s, model FLOPs as a share of the matmul rate DJL
 * reaches on the same machine in the same run (the reference), and resident memory over a long run.
 * bench/train runs it beside bench/train_pytorch.py, the same model and batch in PyTorch eager.
 *
 * <p>Usage: {@code bench/run TrainingBenchmark [timed steps per run, default 100] [runs, default 5] [memory steps,
 * default 2000,
 * 0 for none] [dModel,layers,heads instead of the default model's, e.g. 256,4,4]}
 */
public final class TrainingBenchmark {
    private static final int BATCH = 16;
    private static final int MATMUL_N = 1024;

    private TrainingBenchmark() {}

    public static void main(String[] args) throws Exception {
        int steps = args.length > 0 ? Integer.parseInt(args[0]) : 100;
        int runs = args.length > 1 ? Integer.parseInt(args[1]) : 5;
        int memorySteps = args.length > 2 ? Integer.parseInt(args[2]) : 2000;
        GptConfig config = GptConfig.small();
        if (args.length > 3) {
            int[] shape = Arrays.stream(args[3].split(","))
                    .mapToInt(Integer::parseInt)
                    .toArray();
            config = new GptConfig(config.vocabSize(), config.contextLength(), shape[0], shape[1], shape[2]);
        }
        int tokensPerStep = BATCH * config.contextLength();
        SplittableRandom random = new SplittableRandom(7);
        try (Training model = Training.create(config, TrainConfig.defaults())) {
            // nanoGPT's estimate: 6 FLOPs per parameter per token (forward and backward; position embeddings are a
            // lookup) plus attention's 12·L·d·T.
            double flopsPerToken =
                    6.0 * (model.model().parameterCount() - (long) config.contextLength() * config.dModel())
                            + 12.0 * config.nLayers() * config.dModel() * config.contextLength();
            for (int s = 0; s < 10; s++) model.trainStep(batch(config, random), 1e-3f); // warm-up: allocator, kernels
            List<Double> matmul = new ArrayList<>();
            List<Double> tokensPerSecond = new ArrayList<>();
            for (int r = 0; r < runs; r++) {
                matmul.add(matmulFlops());
                long start = System.nanoTime();
                for (int s = 0; s < steps; s++) model.trainStep(batch(config, random), 1e-3f);
                tokensPerSecond.add((double) steps * tokensPerStep / ((System.nanoTime() - start) / 1e9));
            }
            double rate = median(tokensPerSecond);
            double peak = median(matmul);
            System.out.printf(
                    "%nDJL %s, PyTorch engine threads %s; %s, batch %d (%d tokens/step), %d parameters, "
                            + "%.0f FLOPs/token%n",
                    ai.djl.engine.Engine.getInstance().getVersion(),
                    System.getProperty("ai.djl.pytorch.num_threads", "default"),
                    config,
                    BATCH,
                    tokensPerStep,
                    model.model().parameterCount(),
                    flopsPerToken);
            System.out.printf("%-44s %14s   %s%n", "measure", "median", "runs");
            System.out.printf(
                    "%-44s %14.0f   %s%n",
                    "DJL matmul " + MATMUL_N + "x" + MATMUL_N + " fp32, FLOP/s (reference)",
                    peak,
                    list(matmul, "%.3g"));
            System.out.printf(
                    "%-44s %14.0f   %s%n", "DJL training step, tokens/s", rate, list(tokensPerSecond, "%.0f"));
            System.out.printf("%-44s %14.0f%n", "model FLOP/s", rate * flopsPerToken);
            System.out.printf("%-44s %14.3f%n", "model FLOPs / matmul rate (MFU)", rate * flopsPerToken / peak);
            System.out.printf("RESULT djl_tokens_per_s=%.1f mfu=%.4f%n", rate, rate * flopsPerToken / peak);
            if (memorySteps > 0) memory(model, config, random, memorySteps);
        }
    }

    /** Resident memory every 100 steps of a long run; growth is measured from step 200, after warm-up. */
    private static void memory(Training model, GptConfig config, SplittableRandom random, int steps)
            throws IOException {
        List<Long> rss = new ArrayList<>();
        for (int s = 1; s <= steps; s++) {
            model.trainStep(batch(config, random), 1e-3f);
            if (s % 100 == 0) rss.add(residentKb());
        }
        long base = rss.get(Math.min(1, rss.size() - 1));
        long end = rss.get(rss.size() - 1);
        long max = rss.stream().mapToLong(Long::longValue).max().orElseThrow();
        System.out.printf(
                "%nresident memory over %d steps, MB every 100 steps: %s%n",
                steps, rss.stream().map(kb -> String.valueOf(kb / 1024)).collect(Collectors.joining(" ")));
        System.out.printf(
                "growth from step 200 to %d: %+.2f%% (max %+.2f%%)%n",
                steps, 100.0 * (end - base) / base, 100.0 * (max - base) / base);
        System.out.printf("RESULT rss_growth_percent=%.2f%n", 100.0 * (end - base) / base);
    }

    /** FLOP/s of one N×N by N×N fp32 product through DJL, median of 20 after warm-up. */
    private static double matmulFlops() {
        try (NDManager manager = NDManager.newBaseManager("PyTorch")) {
            NDArray a = manager.randomNormal(new Shape(MATMUL_N, MATMUL_N));
            NDArray b = manager.randomNormal(new Shape(MATMUL_N, MATMUL_N));
            double[] seconds = new double[20];
            for (int i = -3; i < seconds.length; i++) {
                long start = System.nanoTime();
                try (NDArray c = a.matMul(b)) { // eager on the CPU: done when it returns
                    if (i >= 0) seconds[i] = (System.nanoTime() - start) / 1e9;
                }
            }
            Arrays.sort(seconds);
            return 2.0 * MATMUL_N * MATMUL_N * MATMUL_N / seconds[seconds.length / 2];
        }
    }

    private static int[][] batch(GptConfig config, SplittableRandom random) {
        int[][] rows = new int[BATCH][config.contextLength() + 1];
        for (int[] row : rows) for (int i = 0; i < row.length; i++) row[i] = random.nextInt(256);
        return rows;
    }

    private static long residentKb() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) return Long.parseLong(line.replaceAll("[^0-9]", ""));
        }
        throw new IOException("no VmRSS in /proc/self/status");
    }

    private static double median(List<Double> values) {
        List<Double> sorted = values.stream().sorted().toList();
        return sorted.get(sorted.size() / 2);
    }

    private static String list(List<Double> values, String format) {
        return values.stream().map(v -> String.format(format, v)).collect(Collectors.joining(" "));
    }
}
