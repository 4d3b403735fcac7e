package ipt.trainer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import java.util.stream.Stream;

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

    private static final ObjectMapper JSON = new ObjectMapper();

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
     * The text of the suites in {@code dir}, laid out as the evaluator reads them (README, "User suites"): a {@code
     * .txt} file whole; in a {@code .jsonl} file each {@code text}, or each item's context followed by its answer.
     */
    static List<String> suiteTexts(Path dir) {
        List<String> texts = new ArrayList<>();
        try (Stream<Path> files = Files.list(dir)) {
            for (Path file : files.filter(Files::isRegularFile).sorted().toList()) {
                String name = file.getFileName().toString();
                if (name.startsWith(".")) continue; // a ConfigMap mount's ..data and the like
                if (name.endsWith(".txt")) texts.add(Files.readString(file, StandardCharsets.UTF_8));
                else if (name.endsWith(".jsonl")) texts.addAll(jsonlTexts(file));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("reading the replay target's suites in " + dir, e);
        }
        if (texts.stream().allMatch(String::isBlank))
            throw new IllegalArgumentException("IPT_REPLAY_TARGET " + dir + " holds no suite text (.txt, .jsonl)");
        return texts;
    }

    private static List<String> jsonlTexts(Path file) throws IOException {
        List<String> texts = new ArrayList<>();
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            if (line.isBlank()) continue;
            JsonNode node = JSON.readTree(line);
            if (node.path("text").isTextual()) {
                texts.add(node.get("text").asText());
            } else if (node.path("context").isTextual()) {
                JsonNode answer = node.path("choices").path(node.path("answer").asInt(-1));
                texts.add(node.get("context").asText() + answer.asText(""));
            }
        }
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
