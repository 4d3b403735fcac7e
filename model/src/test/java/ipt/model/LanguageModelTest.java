package ipt.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class LanguageModelTest {

    private static final int BATCH = 4;
    private static final TrainConfig TRAIN = TrainConfig.defaults();

    @Test
    void resumingFromSavedWeightsAndOptimizerStateReproducesTheUninterruptedRun() throws Exception {
        GptConfig config = Corpus.tiny();
        int k = 15;
        float[] uninterrupted = new float[2 * k];
        byte[] weights = null;
        byte[] optimizer = null;
        byte[] finalParams;
        try (Training a = Training.create(config, TRAIN)) {
            for (int s = 0; s < 2 * k; s++) {
                if (s == k) {
                    weights = a.model().parameterBytes();
                    optimizer = a.optimizerBytes();
                }
                uninterrupted[s] =
                        a.trainStep(Corpus.batch(s, BATCH, config.contextLength()), LrSchedule.at(s, 2 * k, TRAIN));
            }
            finalParams = a.model().parameterBytes();
        }
        LanguageModel saved = LanguageModel.of(config, LanguageModel.IPT_GPT, weights, null);
        try (Training b = Training.resume(saved, TRAIN, optimizer, k)) {
            assertEquals(k, b.step());
            for (int s = k; s < 2 * k; s++) {
                float resumed =
                        b.trainStep(Corpus.batch(s, BATCH, config.contextLength()), LrSchedule.at(s, 2 * k, TRAIN));
                assertEquals(uninterrupted[s], resumed, 1e-5f, "loss at step " + s);
            }
            assertEquals(2L * k, b.step());
            assertArrayEquals(finalParams, b.model().parameterBytes(), "resumed weights are bit-identical");
        }
    }

    @Test
    void savedWeightsScoreAsTheTrainedModelWithoutAnOptimizer() throws Exception {
        GptConfig config = Corpus.tiny();
        List<int[]> heldOut = List.of(Arrays.copyOfRange(Corpus.TOKENS, 0, 33));
        try (Training trained = Training.create(config, TRAIN)) {
            for (int s = 0; s < 5; s++) trained.trainStep(Corpus.batch(s, BATCH, config.contextLength()), 1e-3f);
            try (LanguageModel scored = LanguageModel.of(
                    config, LanguageModel.IPT_GPT, trained.model().parameterBytes(), null)) {
                assertEquals(trained.model().loss(heldOut), scored.loss(heldOut));
            }
        }
    }

    @Test
    void trainingLowersTheLoss() {
        GptConfig config = Corpus.tiny();
        List<int[]> heldOut =
                List.of(Arrays.copyOfRange(Corpus.TOKENS, 0, 33), Arrays.copyOfRange(Corpus.TOKENS, 300, 333));
        try (Training model = Training.create(config, TRAIN)) {
            double before = model.model().loss(heldOut);
            assertEquals(Math.log(config.vocabSize()), before, 0.3, "fresh model predicts near-uniformly");
            float first = Float.NaN;
            float last = Float.NaN;
            for (int s = 0; s < 60; s++) {
                last = model.trainStep(Corpus.batch(s, BATCH, config.contextLength()), 3e-3f);
                first = s == 0 ? last : first;
            }
            double after = model.model().loss(heldOut);
            assertTrue(last < first - 2.0, "train loss " + first + " -> " + last);
            assertTrue(after < before - 2.0, "held-out loss " + before + " -> " + after);
        }
    }

    @Test
    void paddingIsMaskedInLoss() {
        GptConfig config = Corpus.tiny();
        try (Training model = Training.create(config, TRAIN)) {
            for (int s = 0; s < 5; s++) {
                model.trainStep(Corpus.batch(s, BATCH, config.contextLength()), 1e-3f);
            }
            int[] shortSequence = {'a', 'b', 'c'};
            int[] longSequence = Arrays.copyOfRange(Corpus.TOKENS, 0, config.contextLength() + 1);
            double alone = model.model().loss(List.of(shortSequence));
            double longAlone = model.model().loss(List.of(longSequence));
            double together = model.model().loss(List.of(shortSequence, longSequence));
            // Mean over all predicted tokens: 2 from the short sequence, 32 from the long one.
            assertEquals((2 * alone + 32 * longAlone) / 34, together, 1e-5);
            // 17 sequences: more than one evaluation batch.
            List<int[]> many = new ArrayList<>();
            for (int i = 0; i < 17; i++) {
                many.add(shortSequence);
            }
            assertEquals(alone, model.model().loss(many), 1e-5);
        }
    }

    @Test
    void nonFiniteLossLeavesWeightsUntouched() throws Exception {
        GptConfig config = Corpus.tiny();
        List<int[]> heldOut = List.of(Arrays.copyOfRange(Corpus.TOKENS, 0, 33));
        try (Training model = Training.create(config, TRAIN)) {
            boolean sawNonFinite = false;
            for (int s = 0; s < 50 && !sawNonFinite; s++) {
                byte[] paramsBefore = model.model().parameterBytes();
                double lossBefore = model.model().loss(heldOut);
                long stepBefore = model.step();
                float loss = model.trainStep(Corpus.batch(s, BATCH, config.contextLength()), 1e6f);
                if (!Float.isFinite(loss)) {
                    sawNonFinite = true;
                    assertArrayEquals(paramsBefore, model.model().parameterBytes());
                    assertEquals(lossBefore, model.model().loss(heldOut));
                    assertEquals(stepBefore, model.step());
                }
            }
            assertTrue(sawNonFinite, "lr 1e6 diverges within 50 steps");
        }
    }

    @Test
    void gradientAccumulationMakesTheSameUpdateAsOnePass() throws Exception {
        GptConfig config = Corpus.tiny();
        try (Training whole = Training.create(config, TRAIN);
                Training parts = Training.create(config, TRAIN)) {
            for (int s = 0; s < 5; s++) {
                int[][] batch = Corpus.batch(s, BATCH, config.contextLength());
                Training.StepResult a = whole.train(batch, 1e-3f, 1);
                Training.StepResult b = parts.train(batch, 1e-3f, 2);
                assertEquals(a.loss(), b.loss(), 1e-5f, "loss at step " + s);
                assertArrayEquals(a.rowLosses(), b.rowLosses(), 1e-5f);
            }
            float[] w = whole.model().parameterValues();
            float[] p = parts.model().parameterValues();
            double maxDiff = 0;
            for (int i = 0; i < w.length; i++) maxDiff = Math.max(maxDiff, Math.abs(w[i] - p[i]));
            assertTrue(maxDiff < 1e-5, "weights differ by up to " + maxDiff);
            try (Training fresh = Training.create(config, TRAIN)) {
                assertFalse(Arrays.equals(w, fresh.model().parameterValues()), "the steps changed the weights");
            }
        }
    }

    @Test
    void frozenParametersStayPutWhileTheRestTrains() throws Exception {
        GptConfig config = new GptConfig(ByteTokenizer.VOCAB_SIZE, 32, 32, 2, 2);
        try (Training model = Training.create(config, TRAIN)) {
            model.freeze(true, 1);
            List<String> trainable = model.trainableParameters();
            assertFalse(trainable.contains("wte") || trainable.contains("wpe"), trainable.toString());
            assertTrue(trainable.stream().noneMatch(p -> p.contains("h0_")), trainable.toString());
            assertTrue(trainable.stream().anyMatch(p -> p.contains("h1_")), trainable.toString());
            Map<String, float[]> before = model.model().parameterValuesByPath();
            for (int s = 0; s < 5; s++)
                assertTrue(Float.isFinite(model.trainStep(Corpus.batch(s, BATCH, config.contextLength()), 1e-3f)));
            Map<String, float[]> after = model.model().parameterValuesByPath();
            before.forEach((path, values) -> assertEquals(
                    !trainable.contains(path),
                    Arrays.equals(values, after.get(path)),
                    path + (trainable.contains(path) ? " should have trained" : " is frozen and moved")));
        }
    }

    @Test
    void anL2PullKeepsTheWeightsCloserToTheAnchor() throws Exception {
        GptConfig config = Corpus.tiny();
        float[] anchor;
        double free;
        double pulled;
        try (Training a = Training.create(config, TRAIN);
                Training b = Training.create(config, TRAIN);
                Training start = Training.create(config, TRAIN)) {
            anchor = start.model().parameterValues();
            b.pullTowards(start.model(), 50f);
            // On a fresh thread, as the trainer trains: PyTorch's grad mode is on there.
            Thread training = new Thread(() -> {
                for (int s = 0; s < 20; s++) {
                    int[][] batch = Corpus.batch(s, BATCH, config.contextLength());
                    a.trainStep(batch, 1e-3f);
                    b.trainStep(batch, 1e-3f);
                }
            });
            List<Throwable> failure = new ArrayList<>();
            training.setUncaughtExceptionHandler((t, e) -> failure.add(e));
            training.start();
            training.join();
            assertEquals(List.of(), failure);
            free = distance(a.model().parameterValues(), anchor);
            pulled = distance(b.model().parameterValues(), anchor);
        }
        assertTrue(pulled < 0.8 * free, "pulled " + pulled + " vs free " + free);
    }

    private static double distance(float[] x, float[] y) {
        double sum = 0;
        for (int i = 0; i < x.length; i++) sum += (x[i] - y[i]) * (double) (x[i] - y[i]);
        return Math.sqrt(sum);
    }

    @Test
    void initIsDeterministicFromTheSeed() throws Exception {
        GptConfig config = Corpus.tiny();
        TrainConfig other = new TrainConfig(1e-3f, 1e-4f, 20, 0.1f, 0.9f, 0.95f, 1e-8f, 1f, 99);
        try (Training a = Training.create(config, TRAIN);
                Training b = Training.create(config, TRAIN);
                Training c = Training.create(config, other)) {
            assertArrayEquals(a.model().parameterBytes(), b.model().parameterBytes());
            assertFalse(Arrays.equals(a.model().parameterBytes(), c.model().parameterBytes()));
            // wte, wpe, 2 x (2 LayerNorms, qkv, proj, fc, proj), final LayerNorm
            long d = config.dModel();
            long perBlock = 4 * d + (3 * d * d + 3 * d) + (d * d + d) + (4 * d * d + 4 * d) + (4 * d * d + d);
            assertEquals(
                    config.vocabSize() * d + config.contextLength() * d + 2 * perBlock + 2 * d,
                    a.model().parameterCount());
        }
    }

    @Test
    void memoryStaysFlatOverSteps() {
        GptConfig config = Corpus.tiny();
        List<int[]> heldOut = List.of(Arrays.copyOfRange(Corpus.TOKENS, 0, 33), new int[] {1, 2, 3});
        try (Training model = Training.create(config, TRAIN)) {
            NDManager modelManager = model.trainer().getModel().getNDManager();
            int afterWarmup = 0;
            for (int s = 0; s < 200; s++) {
                model.trainStep(Corpus.batch(s, BATCH, config.contextLength()), 1e-3f);
                if (s % 50 == 0) {
                    model.model().loss(heldOut);
                }
                if (s == 9) {
                    afterWarmup = modelManager.getManagedArrays().size();
                }
            }
            assertEquals(afterWarmup, modelManager.getManagedArrays().size(), "live NDArrays after 10 and 200 steps");
        }
    }

    @Test
    void modelsTrainAndEvaluateSideBySide() throws Exception {
        GptConfig config = Corpus.tiny();
        List<int[]> heldOut = List.of(Arrays.copyOfRange(Corpus.TOKENS, 0, 33));
        try (Training a = Training.create(config, TRAIN);
                Training b = Training.create(config, TRAIN);
                Training evaluated = Training.create(config, TRAIN)) {
            double expected = evaluated.model().loss(heldOut);
            float[] lossesA = new float[20];
            Thread trainA = new Thread(() -> {
                for (int s = 0; s < 20; s++) {
                    lossesA[s] = a.trainStep(Corpus.batch(s, BATCH, config.contextLength()), 1e-3f);
                }
            });
            List<Throwable> failures = java.util.Collections.synchronizedList(new ArrayList<>());
            trainA.setUncaughtExceptionHandler((thread, e) -> failures.add(e));
            trainA.start();
            float[] lossesB = new float[20];
            for (int s = 0; s < 20; s++) {
                lossesB[s] = b.trainStep(Corpus.batch(s, BATCH, config.contextLength()), 1e-3f);
                assertEquals(expected, evaluated.model().loss(heldOut), 1e-6);
            }
            trainA.join();
            assertEquals(List.of(), failures);
            assertArrayEquals(lossesA, lossesB, "same seed and batches on two threads, same losses");
            assertArrayEquals(
                    a.model().parameterBytes(),
                    b.model().parameterBytes(),
                    "same seed and batches on two threads, same weights");
        }
    }

    /**
     * Autograd keeps the operands of an op for the backward pass; one living in a Java buffer that a garbage
     * collection frees between forward and backward was read after it was freed (DJL's {@code mul(Number)}).
     */
    @Test
    void garbageCollectionsDuringSteps() throws Exception {
        GptConfig config = Corpus.tiny();
        try (Training quiet = Training.create(config, TRAIN);
                Training collected = Training.create(config, TRAIN)) {
            for (int s = 0; s < 10; s++) quiet.trainStep(Corpus.batch(s, BATCH, config.contextLength()), 1e-3f);
            Thread collector = new Thread(() -> {
                while (!Thread.currentThread().isInterrupted()) System.gc();
            });
            collector.start();
            try {
                for (int s = 0; s < 10; s++) collected.trainStep(Corpus.batch(s, BATCH, config.contextLength()), 1e-3f);
            } finally {
                collector.interrupt();
                collector.join();
            }
            assertArrayEquals(
                    quiet.model().parameterBytes(),
                    collected.model().parameterBytes(),
                    "the same steps, with and without collections");
        }
    }
}
