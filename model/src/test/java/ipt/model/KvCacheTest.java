package ipt.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.BaseNDManager;
import ai.djl.pytorch.jni.JniUtils;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The KV cache against the full forward pass, for every architecture: logits at every position whichever way the
 * sequence is fed (prompt at once, chunks, one token at a time), and the same tokens with and without the cache when
 * the continuation runs past the context and the window slides.
 */
class KvCacheTest {

    /** Hugging Face models are opened with this context, below their n_positions: the window slides early. */
    private static final int HF_CONTEXT = 12;

    static Stream<Arguments> models() {
        return Stream.of(
                Arguments.of("ipt gpt", null),
                Arguments.of("gpt2, gelu_new, tied", HuggingFaceParityTest.GPT2_TANH_TIED),
                Arguments.of("gpt2, gelu (erf), untied head", HuggingFaceParityTest.GPT2_ERF_UNTIED),
                Arguments.of("llama, 4 heads over 2 kv heads, untied", HuggingFaceParityTest.LLAMA_GQA_UNTIED),
                Arguments.of("llama, 1 kv head, head_dim 16, biases", HuggingFaceParityTest.LLAMA_MQA_TIED_BIASED),
                Arguments.of("qwen2, q/k/v biases, 2 kv heads", HuggingFaceParityTest.QWEN2_GQA_TIED));
    }

    private static LanguageModel open(String configJson, Path tmp) throws Exception {
        if (configJson == null) return LanguageModel.create(Corpus.tiny(), 3);
        return LanguageModel.fromHuggingFace(
                HfFixtures.randomModel(tmp.resolve("model"), configJson, 5, 1L << 30), HF_CONTEXT);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("models")
    void cachedLogitsEqualTheFullForwardAtEveryPosition(String name, String configJson, @TempDir Path tmp)
            throws Exception {
        try (LanguageModel model = open(configJson, tmp)) {
            int context = model.config().contextLength();
            long[][] row = HfFixtures.ids(1, context, model.config().vocabSize());
            int[] ids = Arrays.stream(row[0]).mapToInt(id -> (int) id).toArray();
            float[] full = HfFixtures.logits(model, row); // (1, T, V) flattened
            int vocab = full.length / context;
            // Where each forward pass ends: one token at a time; a prompt then single tokens; chunks of several.
            List<int[]> schedules = List.of(range(1, context), concat(new int[] {5}, range(6, context)), new int[] {
                3, 4, 9, context - 1, context
            });
            float worst = 0;
            boolean gradMode = JniUtils.isGradMode();
            JniUtils.setGradMode(false);
            try {
                // Memory stays flat: after every step the model's manager holds its weights and the cache's two
                // arrays a layer, however many positions went through.
                int held = arrays(model);
                int layerArrays = 2 * model.config().nLayers();
                for (int[] ends : schedules) {
                    try (KvCache cache = new KvCache(model.model.getNDManager())) {
                        int from = 0;
                        for (int until : ends) {
                            float[] cached = Generation.nextLogits(model, cache, ids, from, until);
                            assertEquals(until, cache.positions());
                            assertEquals(held + layerArrays, arrays(model), "arrays held after position " + until);
                            float[] expected = Arrays.copyOfRange(full, (until - 1) * vocab, until * vocab);
                            float diff = HfFixtures.maxAbsDifference(cached, expected);
                            assertTrue(
                                    diff <= 1e-4,
                                    name + ": position " + (until - 1) + " of " + Arrays.toString(ends) + " differs by "
                                            + diff);
                            worst = Math.max(worst, diff);
                            from = until;
                        }
                    }
                    assertEquals(held, arrays(model), "arrays held once the cache is closed");
                }
            } finally {
                JniUtils.setGradMode(gradMode);
            }
            System.out.printf("kv cache %s: max |logit difference| %.3g over %d positions%n", name, worst, context);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("models")
    void greedyAndSeededSamplingDrawTheSameTokensWithAndWithoutTheCache(
            String name, String configJson, @TempDir Path tmp) throws Exception {
        try (LanguageModel model = open(configJson, tmp)) {
            int context = model.config().contextLength();
            int maxTokens = context + 6; // past the context: the window slides 6 + prompt times
            boolean slid = false;
            for (Sampling sampling : List.of(
                    Sampling.greedy(maxTokens),
                    new Sampling(1, 0, 1, maxTokens, 1),
                    new Sampling(0.8, 20, 0.95, maxTokens, 2))) {
                Generation.Continuation cached =
                        Generation.generate(model, "It was", sampling, Generation.Decoding.KV_CACHE);
                Generation.Continuation full =
                        Generation.generate(model, "It was", sampling, Generation.Decoding.FULL_WINDOW);
                assertArrayEquals(full.tokens(), cached.tokens(), name + ", " + sampling);
                assertEquals(full.endOfText(), cached.endOfText(), name + ", " + sampling);
                slid |= 1 + cached.promptTokens() + cached.tokens().length > context;
            }
            assertTrue(slid, name + ": no continuation ran past the context of " + context);
        }
    }

    private static int arrays(LanguageModel model) {
        return ((BaseNDManager) model.model.getNDManager()).getManagedArrays().size();
    }

    private static int[] range(int from, int toInclusive) {
        int[] values = new int[toInclusive - from + 1];
        for (int i = 0; i < values.length; i++) values[i] = from + i;
        return values;
    }

    private static int[] concat(int[] a, int[] b) {
        int[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
