package ipt.model;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * How a continuation is drawn from the model's next-token distribution, in the order the filters apply: the
 * temperature divides the logits (0: greedy, the most likely token every time, ties to the lowest id), top-k keeps
 * the k most likely tokens (0: all), top-p keeps the smallest set of most likely tokens whose probability reaches p
 * (the nucleus, Holtzman et al. 2020; 1: all); at most {@code maxTokens} new tokens; {@code seed} seeds the draws,
 * so a seed gives the same text every time.
 */
public record Sampling(double temperature, int topK, double topP, int maxTokens, long seed) {

    /** Refuses every setting out of range at once, each with its rule. */
    public Sampling {
        List<String> wrong = new ArrayList<>();
        if (!(temperature >= 0 && temperature < Double.POSITIVE_INFINITY))
            wrong.add("temperature " + temperature + " must be a number >= 0 (0: greedy)");
        if (topK < 0) wrong.add("top-k " + topK + " must be >= 0 (0: no limit)");
        if (!(topP > 0 && topP <= 1)) wrong.add("top-p " + topP + " must be in (0, 1]");
        if (maxTokens <= 0) wrong.add("max tokens " + maxTokens + " must be > 0");
        if (!wrong.isEmpty()) throw new IllegalArgumentException(String.join("; ", wrong));
    }

    /** The most likely token every time. */
    public static Sampling greedy(int maxTokens) {
        return new Sampling(0, 0, 1, maxTokens, 0);
    }

    /** The id of the next token, drawn from the logits over the vocabulary. */
    int next(float[] logits, SplittableRandom random) {
        int best = 0;
        for (int i = 0; i < logits.length; i++) {
            if (Float.isNaN(logits[i])) throw new IllegalStateException("the model gave a NaN logit for token " + i);
            if (logits[i] > logits[best]) best = i;
        }
        if (temperature == 0) return best;
        boolean filtered = topK > 0 || topP < 1;
        int[] candidates = filtered ? descending(logits) : identity(logits.length);
        int kept = topK > 0 ? Math.min(topK, logits.length) : logits.length;
        double[] weights = new double[kept];
        double total = 0;
        for (int i = 0; i < kept; i++) {
            // Shifted by the largest logit: exp never overflows, and the most likely token weighs 1.
            weights[i] = Math.exp((logits[candidates[i]] - logits[best]) / temperature);
            total += weights[i];
        }
        if (topP < 1) {
            double mass = 0;
            int nucleus = 0;
            while (nucleus < kept) {
                mass += weights[nucleus++];
                if (mass >= topP * total) break;
            }
            kept = nucleus;
            total = mass;
        }
        double u = random.nextDouble() * total;
        for (int i = 0; i < kept; i++) {
            u -= weights[i];
            if (u < 0) return candidates[i];
        }
        return candidates[kept - 1]; // u left over by rounding
    }

    /** Token ids from the largest logit to the smallest, ties by id: one sort of primitive keys (id in low bits). */
    private static int[] descending(float[] logits) {
        long[] keys = new long[logits.length];
        for (int i = 0; i < logits.length; i++) {
            int bits = Float.floatToIntBits(logits[i]);
            int ascending = bits ^ ((bits >> 31) & 0x7fffffff); // orders as the floats do
            keys[i] = ((long) ~ascending << 32) | i; // ~ reverses the order
        }
        Arrays.sort(keys);
        int[] ids = new int[logits.length];
        for (int i = 0; i < ids.length; i++) ids[i] = (int) keys[i];
        return ids;
    }

    private static int[] identity(int n) {
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) ids[i] = i;
        return ids;
    }
}
