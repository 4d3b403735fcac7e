package ipt.bench;

import ipt.model.ByteTokenizer;
import ipt.model.Generation;
import ipt.model.GptConfig;
import ipt.model.LanguageModel;
import ipt.model.Sampling;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.stream.Collectors;

/**
 * {@code ipt generate}'s speed: tokens/s of {@link Generation} (one prompt, batch 1, a forward pass over the full
 * window for every token: no KV cache) against forward-only scoring tokens/s of the same model in the same run
 * (LanguageModel.loss, batches of 16 sequences of context + 1 tokens: the evaluator's rate), on the default model
 * and on a larger shape with a longer context. A third row bounds what a KV cache could give: a forward pass over
 * one position, which is what every step with a cache still computes (less the attention to the cached keys).
 *
 * <p>Usage: {@code bench/run GenerationBenchmark [runs, default 5] [tokens a run, default 64]
 * [dModel,layers,heads,context of the larger shape, default 256,4,8,512]}
 */
public final class GenerationBenchmark {
    private static final int SCORED_SEQUENCES = 64;

    private GenerationBenchmark() {}

    public static void main(String[] args) {
        int runs = args.length > 0 ? Integer.parseInt(args[0]) : 5;
        int tokens = args.length > 1 ? Integer.parseInt(args[1]) : 64;
        int[] larger = Arrays.stream((args.length > 2 ? args[2] : "256,4,8,512").split(","))
                .mapToInt(Integer::parseInt)
                .toArray();
        if (larger.length != 4) throw new IllegalArgumentException("the larger shape is dModel,layers,heads,context");
        System.out.printf(
                "%nDJL %s, PyTorch engine threads %s; %d runs, medians; generation: %d tokens a run, sampled at "
                        + "temperature 1 after a prompt that fills the window%n",
                ai.djl.engine.Engine.getInstance().getVersion(),
                System.getProperty("ai.djl.pytorch.num_threads", "default"),
                runs,
                tokens);
        measure(GptConfig.small(), runs, tokens, "default");
        measure(
                new GptConfig(ByteTokenizer.VOCAB_SIZE, larger[3], larger[0], larger[1], larger[2]),
                runs,
                tokens,
                "larger");
    }

    private static void measure(GptConfig config, int runs, int tokens, String name) {
        SplittableRandom random = new SplittableRandom(11);
        try (LanguageModel model = LanguageModel.create(config, 1)) {
            List<int[]> scored = new ArrayList<>();
            for (int i = 0; i < SCORED_SEQUENCES; i++) scored.add(sequence(random, config.contextLength() + 1));
            long scoredTokens = (long) SCORED_SEQUENCES * config.contextLength();
            String prompt = text(random, config.contextLength());
            // Warm-up: allocator, kernels, JIT.
            model.loss(scored);
            Generation.generate(model, prompt, new Sampling(1, 0, 1, 16, 5));
            List<Double> scoring = new ArrayList<>();
            List<Double> generating = new ArrayList<>();
            List<Double> onePosition = new ArrayList<>();
            for (int r = 0; r < runs; r++) {
                long start = System.nanoTime();
                model.loss(scored);
                scoring.add(scoredTokens / seconds(start));
                // A random model may draw end-of-text before the last token: count what it drew.
                long drawn = 0;
                long nanos = 0;
                for (int seed = 0; drawn < tokens; seed++) {
                    Generation.Continuation c =
                            Generation.generate(model, prompt, new Sampling(1, 0, 1, tokens, r * 1000L + seed));
                    drawn += c.tokens().length + (c.endOfText() ? 1 : 0);
                    nanos += c.nanos();
                }
                generating.add(drawn / (nanos / 1e9));
                // An empty prompt and one token: one forward pass over the end-of-text token alone.
                nanos = 0;
                for (int i = 0; i < tokens; i++)
                    nanos += Generation.generate(model, "", Sampling.greedy(1)).nanos();
                onePosition.add(tokens / (nanos / 1e9));
            }
            double reference = median(scoring);
            // The machine's load varies from run to run: each ratio is the median of the runs' own ratios.
            double generateRatio = medianRatio(generating, scoring);
            double onePositionRatio = medianRatio(onePosition, scoring);
            System.out.printf("%n%s model: %s, %d parameters%n", name, config, model.parameterCount());
            System.out.printf("%-64s %10s %7s   %s%n", "measure", "tokens/s", "ratio", "runs");
            System.out.printf(
                    "%-64s %10.0f %7.4f   %s%n",
                    "scoring, forward only, batches of 16 x " + config.contextLength() + " (reference)",
                    reference,
                    1.0,
                    list(scoring));
            System.out.printf(
                    "%-64s %10.0f %7.4f   %s%n",
                    "ipt generate: a forward over the " + config.contextLength() + "-token window a token",
                    median(generating),
                    generateRatio,
                    list(generating));
            System.out.printf(
                    "%-64s %10.0f %7.4f   %s%n",
                    "a forward over 1 position a token (the most a KV cache could give)",
                    median(onePosition),
                    onePositionRatio,
                    list(onePosition));
            double cacheBound = medianRatio(onePosition, generating);
            System.out.printf(
                    Locale.ROOT,
                    "a KV cache could make generation at most %.1fx faster (median of the runs' ratios)%n",
                    cacheBound);
            System.out.printf(
                    Locale.ROOT,
                    "RESULT %s generate_tokens_per_s=%.1f scoring_tokens_per_s=%.1f ratio=%.4f "
                            + "one_position_tokens_per_s=%.1f cache_bound=%.2f%n",
                    name,
                    median(generating),
                    reference,
                    generateRatio,
                    median(onePosition),
                    cacheBound);
        }
    }

    private static int[] sequence(SplittableRandom random, int length) {
        int[] out = new int[length];
        for (int i = 0; i < length; i++) out[i] = random.nextInt(256);
        return out;
    }

    private static String text(SplittableRandom random, int length) {
        StringBuilder s = new StringBuilder();
        while (s.length() < length) {
            for (int i = 1 + random.nextInt(9); i > 0; i--) s.append((char) ('a' + random.nextInt(26)));
            s.append(' ');
        }
        return s.toString();
    }

    private static double seconds(long start) {
        return (System.nanoTime() - start) / 1e9;
    }

    private static double median(List<Double> values) {
        List<Double> sorted = values.stream().sorted().toList();
        return sorted.get(sorted.size() / 2);
    }

    private static double medianRatio(List<Double> values, List<Double> references) {
        List<Double> ratios = new ArrayList<>();
        for (int i = 0; i < values.size(); i++) ratios.add(values.get(i) / references.get(i));
        return median(ratios);
    }

    private static String list(List<Double> values) {
        return values.stream().map(v -> String.format("%.0f", v)).collect(Collectors.joining(" "));
    }
}
