package ipt.trainer;

import ipt.model.Task;
import ipt.model.UserSuites;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.IntStream;

/**
 * Replay that favours what the user's suites are about: DSIR's importance resampling (Xie et al. 2023) over the
 * lineage's own tokens. Two bags of hashed token unigrams and bigrams, one fitted on the suites' text and one on a
 * sample of the replay store, give each candidate sequence a log importance weight (the sum over its n-grams of
 * log p_target / p_store); from a pool of {@link #POOL} times the rows wanted, the rows are drawn without
 * replacement in proportion to those weights (Gumbel top-k). The pool bounds how far the draw can lean: the rows
 * come from what the replay policy drew, a quarter of it, so the policy's mixture still shapes what is replayed.
 */
final class TaskAwareReplay {
    /** Candidates drawn per replayed row: how selective the resampling may be. */
    static final int POOL = 4;

    /** Store sequences the raw distribution is fitted on each round. */
    static final int STORE_SAMPLE = 512;

    /** Hash buckets of the n-gram features (DSIR used 10,000). */
    private static final int BUCKETS = 1 << 13;

    private final double[] logRatio;

    private TaskAwareReplay(double[] logRatio) {
        this.logRatio = logRatio;
    }

    /** Fitted on the target's tokens against the store's: add-one smoothed log p_target − log p_store per bucket. */
    static TaskAwareReplay fit(List<int[]> target, List<int[]> store) {
        double[] p = counts(target);
        double[] q = counts(store);
        double pTotal = 0;
        double qTotal = 0;
        for (int b = 0; b < BUCKETS; b++) {
            pTotal += p[b];
            qTotal += q[b];
        }
        double[] ratio = new double[BUCKETS];
        for (int b = 0; b < BUCKETS; b++) ratio[b] = Math.log(p[b] / pTotal) - Math.log(q[b] / qTotal);
        return new TaskAwareReplay(ratio);
    }

    /** How much more the target than the store looks like {@code tokens}, in nats. */
    double logWeight(int[] tokens) {
        double w = 0;
        for (int i = 0; i < tokens.length; i++) {
            w += logRatio[bucket(tokens[i], -1)];
            if (i > 0) w += logRatio[bucket(tokens[i - 1], tokens[i])];
        }
        return w;
    }

    /** {@code n} of {@code pool}, without replacement, with probability following the importance weights. */
    List<ReplayStore.Entry> choose(List<ReplayStore.Entry> pool, int n, SplittableRandom random) {
        double[] keys = new double[pool.size()];
        for (int i = 0; i < keys.length; i++) {
            // log w + Gumbel noise: the n largest keys are a weighted sample without replacement.
            keys[i] = logWeight(pool.get(i).tokens()) - Math.log(-Math.log(1 - random.nextDouble()));
        }
        return IntStream.range(0, pool.size())
                .boxed()
                .sorted(Comparator.comparingDouble((Integer i) -> -keys[i]).thenComparing(i -> i))
                .limit(n)
                .map(pool::get)
                .toList();
    }

    /**
     * The text of the suites in {@code dir}, read as the evaluator reads them ({@link UserSuites}): each document of
     * a text suite, and each item's context followed by its answer.
     */
    static List<String> suiteTexts(Path dir) {
        List<String> texts = new ArrayList<>();
        try {
            for (Task task : UserSuites.load(dir)) {
                if (task instanceof Task.Text t) texts.addAll(t.documents());
                else if (task instanceof Task.Choices c)
                    c.items().forEach(i -> texts.add(i.context() + i.choices().get(i.answer())));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("reading the replay target's suites in " + dir, e);
        }
        if (texts.isEmpty())
            throw new IllegalArgumentException("IPT_REPLAY_TARGET " + dir + " holds no suite text (.txt, .jsonl)");
        return texts;
    }

    private static double[] counts(List<int[]> sequences) {
        double[] c = new double[BUCKETS];
        Arrays.fill(c, 1); // add-one smoothing: a bucket the sample missed is rare, not impossible
        for (int[] s : sequences) {
            for (int i = 0; i < s.length; i++) {
                c[bucket(s[i], -1)]++;
                if (i > 0) c[bucket(s[i - 1], s[i])]++;
            }
        }
        return c;
    }

    /** A unigram ({@code b} = −1) or bigram's bucket; SplitMix64's finaliser spreads neighbouring token ids. */
    private static int bucket(int a, int b) {
        long z = ((long) a << 32 | (b & 0xffffffffL)) + 0x9E3779B97F4A7C15L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        z ^= z >>> 31;
        return (int) Math.floorMod(z, (long) BUCKETS);
    }
}
