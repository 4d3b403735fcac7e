package ipt.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A lineage started from a TorchScript model and a HuggingFace tokenizer.json: the tiny pair
 * bench/make_torchscript.py wrote (resources/torchscript/shape.txt), trained by DJL with trainParam.
 */
class TorchScriptStartTest {
    private static final Path DIR = Path.of("src/test/resources/torchscript");
    private static final Path MODULE = DIR.resolve("tiny-gpt.pt");
    private static final Path TOKENIZER = DIR.resolve("tokenizer.json");
    /** vocab is the tokenizer's (the first field is replaced); the rest as in shape.txt. */
    private static final GptConfig DECLARED = new GptConfig(1, 32, 32, 2, 2);

    private static final TrainConfig TRAIN = TrainConfig.defaults();
    private static final int BATCH = 4;

    @Test
    void theTokenizerReadsTextWithItsMergesAndEndOfText() throws Exception {
        try (Tokenizer t = HuggingFaceJson.of(Files.readAllBytes(TOKENIZER))) {
            assertEquals(321, t.vocabSize());
            assertEquals(320, t.eos());
            int[] ids = t.encode("the model");
            assertTrue(ids.length < "the model".length(), "merges shorten the text: " + Arrays.toString(ids));
            assertTrue(
                    t.encode(Corpus.TEXT.repeat(20)).length > 5000,
                    "no truncation at the tokenizer's model_max_length 512");
        }
    }

    @Test
    void aTorchScriptModelTrainsAndResumesFromItsSavedParts() throws Exception {
        int k = 10;
        float[] uninterrupted = new float[2 * k];
        byte[] archive = null;
        byte[] tokenizerJson = null;
        byte[] optimizer = null;
        float[] finalWeights;
        float[] initialWeights;
        List<int[][]> batches;
        try (Training a = Training.start(LanguageModel.fromTorchScript(MODULE, TOKENIZER, DECLARED), TRAIN)) {
            assertEquals(LanguageModel.TORCHSCRIPT, a.model().architecture());
            assertEquals(new GptConfig(321, 32, 32, 2, 2), a.model().config());
            batches = batches(a.model().tokenizer(), 2 * k);
            initialWeights = a.model().parameterValues();
            for (int s = 0; s < 2 * k; s++) {
                if (s == k) {
                    archive = a.model().parameterBytes();
                    tokenizerJson = a.model().tokenizerJson();
                    optimizer = a.optimizerBytes();
                }
                uninterrupted[s] = a.trainStep(batches.get(s), 3e-3f);
            }
            finalWeights = a.model().parameterValues();
            assertTrue(
                    uninterrupted[2 * k - 1] < uninterrupted[0] - 0.5,
                    "loss " + uninterrupted[0] + " -> " + uninterrupted[2 * k - 1]);
        }
        LanguageModel saved =
                LanguageModel.of(new GptConfig(321, 32, 32, 2, 2), LanguageModel.TORCHSCRIPT, archive, tokenizerJson);
        try (Training b = Training.resume(saved, TRAIN, optimizer, k)) {
            assertEquals(320, b.model().tokenizer().eos());
            assertFalse(
                    Arrays.equals(initialWeights, b.model().parameterValues()),
                    "the saved archive holds the trained weights");
            for (int s = k; s < 2 * k; s++) {
                assertEquals(uninterrupted[s], b.trainStep(batches.get(s), 3e-3f), 1e-5f, "loss at step " + s);
            }
            assertArrayEquals(
                    finalWeights, b.model().parameterValues(), 1e-6f, "resumed weights equal the uninterrupted run's");
        }
    }

    @Test
    void freezingFindsTheModulesEmbeddingsAndNumberedBlocks() throws Exception {
        try (Training m = Training.start(LanguageModel.fromTorchScript(MODULE, TOKENIZER, DECLARED), TRAIN)) {
            m.freeze(true, 1);
            List<String> trainable = m.trainableParameters();
            assertFalse(trainable.contains("wte.weight") || trainable.contains("wpe.weight"), trainable.toString());
            assertTrue(trainable.stream().noneMatch(p -> p.startsWith("h.0.")), trainable.toString());
            assertTrue(
                    trainable.contains("h.1.attn.qkv.weight") && trainable.contains("ln_f.weight"),
                    trainable.toString());
            Map<String, float[]> before = m.model().parameterValuesByPath();
            m.trainStep(batches(m.model().tokenizer(), 1).get(0), 1e-2f);
            Map<String, float[]> after = m.model().parameterValuesByPath();
            before.forEach((path, values) ->
                    assertEquals(!trainable.contains(path), Arrays.equals(values, after.get(path)), path));
        }
    }

    @Test
    void aShapeThatDoesNotMatchTheModuleIsRefusedWithTheReason(@TempDir Path dir) throws Exception {
        IOException width = assertThrows(
                IOException.class,
                () -> LanguageModel.fromTorchScript(MODULE, TOKENIZER, new GptConfig(1, 32, 64, 2, 2)));
        assertTrue(width.getMessage().contains("no (321, 64) embedding"), width.getMessage());
        IOException depth = assertThrows(
                IOException.class,
                () -> LanguageModel.fromTorchScript(MODULE, TOKENIZER, new GptConfig(1, 32, 32, 3, 2)));
        assertTrue(depth.getMessage().contains("has 2 numbered blocks"), depth.getMessage());
        IOException context = assertThrows(
                IOException.class,
                () -> LanguageModel.fromTorchScript(MODULE, TOKENIZER, new GptConfig(1, 48, 32, 2, 2)));
        assertTrue(context.getMessage().contains("(1, 48)"), context.getMessage());
        Path notAModule = Files.writeString(dir.resolve("model.pt"), "not a zip");
        IOException garbage =
                assertThrows(IOException.class, () -> LanguageModel.fromTorchScript(notAModule, TOKENIZER, DECLARED));
        assertTrue(garbage.getMessage().contains("not a TorchScript archive"), garbage.getMessage());
        Path noEos = Files.writeString(
                dir.resolve("tokenizer.json"), Files.readString(TOKENIZER).replace("<|endoftext|>", "<|pad|>"));
        IOException tokenizer =
                assertThrows(IOException.class, () -> LanguageModel.fromTorchScript(MODULE, noEos, DECLARED));
        assertTrue(tokenizer.getMessage().contains("no special end-of-text token"), tokenizer.getMessage());
    }

    /** Rows of contextLength+1 ids cut from the corpus as the tokenizer reads it, at offsets that depend only on the
     * batch number. */
    private static List<int[][]> batches(Tokenizer tokenizer, int count) {
        int[] ids = tokenizer.encode(Corpus.TEXT);
        List<int[][]> out = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            int[][] rows = new int[BATCH][];
            for (int r = 0; r < BATCH; r++) {
                int start = (int) (((long) (i * BATCH + r) * 7919) % (ids.length - 33));
                rows[r] = Arrays.copyOfRange(ids, start, start + 33);
            }
            out.add(rows);
        }
        return out;
    }
}
