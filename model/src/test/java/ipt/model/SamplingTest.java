package ipt.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The draw of one token from hand-made logits, and the settings refused. */
class SamplingTest {
    /** Probabilities 0.5, 0.3, 0.15, 0.05 at temperature 1. */
    private static final float[] LOGITS = {
        (float) Math.log(0.5), (float) Math.log(0.3), (float) Math.log(0.15), (float) Math.log(0.05)
    };

    private static final int DRAWS = 20_000;

    private static double[] frequencies(Sampling sampling, float[] logits) {
        SplittableRandom random = new SplittableRandom(42);
        double[] counts = new double[logits.length];
        for (int i = 0; i < DRAWS; i++) counts[sampling.next(logits, random)]++;
        for (int i = 0; i < counts.length; i++) counts[i] /= DRAWS;
        return counts;
    }

    @Test
    void atTemperatureOneTokensAreDrawnWithTheirSoftmaxProbabilities() {
        double[] f = frequencies(new Sampling(1, 0, 1, 1, 0), LOGITS);
        double[] expected = {0.5, 0.3, 0.15, 0.05};
        for (int i = 0; i < f.length; i++) assertEquals(expected[i], f[i], 0.015, "token " + i);
    }

    @Test
    void topPKeepsOnlyTheNucleus() {
        // 0.5 < 0.75 <= 0.5 + 0.3: the nucleus is {0, 1}, renormalised to 0.625 / 0.375.
        double[] f = frequencies(new Sampling(1, 0, 0.75, 1, 0), LOGITS);
        assertEquals(0.625, f[0], 0.015);
        assertEquals(0.375, f[1], 0.015);
        assertEquals(0, f[2] + f[3], "outside the nucleus");
        // 0.5 + 0.3 + 0.15 = 0.95 reaches 0.9: the least likely token alone is left out.
        double[] wider = frequencies(new Sampling(1, 0, 0.9, 1, 0), LOGITS);
        assertTrue(wider[2] > 0.1, "third token in the nucleus: " + wider[2]);
        assertEquals(0, wider[3]);
    }

    @Test
    void topKKeepsTheKMostLikely() {
        float[] shuffled = {LOGITS[2], LOGITS[0], LOGITS[3], LOGITS[1]};
        double[] f = frequencies(new Sampling(1, 2, 1, 1, 0), shuffled);
        assertEquals(0.625, f[1], 0.015);
        assertEquals(0.375, f[3], 0.015);
        assertEquals(0, f[0] + f[2]);
    }

    @Test
    void lowTemperatureSharpensAndGreedyTakesTheArgmaxTiesToTheLowestId() {
        double[] sharp = frequencies(new Sampling(0.25, 0, 1, 1, 0), LOGITS);
        // p ∝ p_i^4: 0.0625 / (0.0625 + 0.0081 + 0.000506 + 0.00000625) ≈ 0.879
        assertEquals(0.879, sharp[0], 0.015);
        SplittableRandom random = new SplittableRandom(1);
        Sampling greedy = Sampling.greedy(1);
        assertEquals(2, greedy.next(new float[] {-1, 3, 5, 5, 2}, random));
        assertEquals(0, greedy.next(new float[] {-7, -7}, random));
        assertEquals(2, new Sampling(2, 1, 1, 1, 9).next(new float[] {-1, 3, 5, 5, 2}, random), "top-k 1");
    }

    @Test
    void aNaNLogitIsAnError() {
        IllegalStateException e = assertThrows(
                IllegalStateException.class,
                () -> Sampling.greedy(1).next(new float[] {0, Float.NaN}, new SplittableRandom(0)));
        assertEquals("the model gave a NaN logit for token 1", e.getMessage());
    }

    @Test
    void settingsOutOfRangeAreRefusedAllAtOnceWithTheirRules() {
        assertEquals(
                "temperature -0.5 must be a number >= 0 (0: greedy); top-k -1 must be >= 0 (0: no limit); "
                        + "top-p 0.0 must be in (0, 1]; max tokens 0 must be > 0",
                assertThrows(IllegalArgumentException.class, () -> new Sampling(-0.5, -1, 0, 0, 1))
                        .getMessage());
        assertEquals(
                "top-p 1.5 must be in (0, 1]",
                assertThrows(IllegalArgumentException.class, () -> new Sampling(1, 0, 1.5, 10, 1))
                        .getMessage());
        assertEquals(
                "temperature NaN must be a number >= 0 (0: greedy)",
                assertThrows(IllegalArgumentException.class, () -> new Sampling(Double.NaN, 0, 1, 10, 1))
                        .getMessage());
    }
}
