package ipt.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class HuggingFaceModelTest {

    private static final TrainConfig TRAIN = TrainConfig.defaults();
    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void iptGptExportsAsGpt2ThatReimportsWithBitIdenticalWeightsAndLogits(@TempDir Path tmp) throws Exception {
        GptConfig config = Corpus.tiny();
        Path dir = tmp.resolve("export");
        try (Training training = Training.create(config, TRAIN)) {
            // Trained a little, so no bias or LayerNorm gain is still at its initial zero or one.
            for (int s = 0; s < 3; s++) training.trainStep(Corpus.batch(s, 4, config.contextLength()), 1e-2f);
            LanguageModel original = training.model();
            original.writeHuggingFace(dir, 1L << 30);
            for (String file : List.of("config.json", "model.safetensors", "tokenizer.json", "generation_config.json"))
                assertTrue(Files.exists(dir.resolve(file)), file);
            JsonNode json = JSON.readTree(dir.resolve("config.json").toFile());
            assertEquals("GPT2LMHeadModel", json.path("architectures").get(0).asText());
            assertEquals("gelu", json.path("activation_function").asText(), "DJL's gelu is the erf form");
            assertEquals(ByteTokenizer.EOS, json.path("eos_token_id").asInt());
            try (LanguageModel imported = LanguageModel.fromHuggingFace(dir)) {
                assertEquals(LanguageModel.GPT2, imported.architecture());
                assertEquals(config, imported.config());
                Map<String, float[]> weights = imported.parameterValuesByPath();
                Map<String, NDArray> exported = ((Gpt) original.net).gpt2Weights();
                assertEquals(exported.keySet(), weights.keySet());
                for (Map.Entry<String, NDArray> named : exported.entrySet())
                    assertArrayEquals(named.getValue().toFloatArray(), weights.get(named.getKey()), named.getKey());
                long[][] ids = HfFixtures.ids(3, config.contextLength(), config.vocabSize());
                assertArrayEquals(HfFixtures.logits(original, ids), HfFixtures.logits(imported, ids), "same logits");
                List<int[]> text = List.of(Arrays.copyOf(Corpus.TOKENS, config.contextLength() + 1));
                assertEquals(original.loss(text), imported.loss(text));

                String multilingual = "Grüße, 世界! naïve café — ½ ✓\n\t";
                assertArrayEquals(
                        ByteTokenizer.encode(multilingual), imported.tokenizer().encode(multilingual));
                assertEquals(ByteTokenizer.EOS, imported.tokenizer().eos());
                assertEquals(ByteTokenizer.VOCAB_SIZE, imported.tokenizer().vocabSize());
            }
        }
    }

    @Test
    void iptGptReopensFromItsExportAsIptGptThatTrainsOnBitForBit(@TempDir Path tmp) throws Exception {
        GptConfig config = Corpus.tiny();
        Path dir = tmp.resolve("export");
        try (Training original = Training.create(config, TRAIN)) {
            for (int s = 0; s < 3; s++) original.trainStep(Corpus.batch(s, 4, config.contextLength()), 1e-2f);
            original.model().writeHuggingFace(dir, 10_000);
            assertTrue(Files.exists(dir.resolve(SafeTensors.INDEX)), "sharded past 10 kB");
            LanguageModel reopened = LanguageModel.reopen(dir, LanguageModel.IPT_GPT, config);
            try (Training resumed = Training.resume(reopened, TRAIN, original.optimizerBytes(), original.step())) {
                assertEquals(LanguageModel.IPT_GPT, reopened.architecture());
                assertEquals(null, reopened.tokenizerJson(), "reads bytes, as the original did");
                assertArrayEquals(original.model().parameterBytes(), reopened.parameterBytes());
                for (int s = 3; s < 5; s++) {
                    int[][] batch = Corpus.batch(s, 4, config.contextLength());
                    assertEquals(original.trainStep(batch, 1e-2f), resumed.trainStep(batch, 1e-2f));
                }
                assertArrayEquals(original.model().parameterBytes(), reopened.parameterBytes());
                assertArrayEquals(original.optimizerBytes(), resumed.optimizerBytes());
            }
            IOException other = assertThrows(
                    IOException.class,
                    () -> LanguageModel.reopen(
                            dir,
                            LanguageModel.IPT_GPT,
                            new GptConfig(config.vocabSize(), config.contextLength(), config.dModel(), 1, 1)));
            assertTrue(other.getMessage().contains("not ipt's GPT"), other.getMessage());
            IOException torchScript =
                    assertThrows(IOException.class, () -> LanguageModel.reopen(dir, LanguageModel.TORCHSCRIPT, config));
            assertTrue(
                    torchScript.getMessage().contains("not kept as a Hugging Face directory"),
                    torchScript.getMessage());
        }
    }

    static Stream<Arguments> imported() {
        return Stream.of(
                Arguments.of("llama", HuggingFaceParityTest.LLAMA_GQA_UNTIED),
                Arguments.of("qwen2", HuggingFaceParityTest.QWEN2_GQA_TIED),
                Arguments.of("gpt2", HuggingFaceParityTest.GPT2_TANH_TIED));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("imported")
    void anImportedModelTrainsAndExportsShardedThenReimportsBitIdentical(
            String architecture, String configJson, @TempDir Path tmp) throws Exception {
        Path source = HfFixtures.randomModel(tmp.resolve("source"), configJson, 3, 1L << 30);
        Files.writeString(source.resolve("generation_config.json"), "{\"eos_token_id\": 256, \"temperature\": 0.7}");
        Path exported = tmp.resolve("exported");
        long[][] ids = HfFixtures.ids(2, 16, 300);
        try (Training training = Training.start(LanguageModel.fromHuggingFace(source, 16), TRAIN)) {
            LanguageModel model = training.model();
            assertEquals(architecture, model.architecture());
            assertEquals(256, model.tokenizer().eos());
            int[][] batch = Corpus.batch(0, 4, 16);
            List<int[]> scored = Arrays.asList(batch);
            double before = model.loss(scored);
            for (int s = 0; s < 8; s++) training.trainStep(batch, 3e-3f);
            double after = model.loss(scored);
            assertTrue(after < before - 0.1, "AdamW lowers the loss: " + before + " -> " + after);

            model.writeHuggingFace(exported, 10_000);
            assertTrue(Files.exists(exported.resolve(SafeTensors.INDEX)), "sharded past 10 kB");
            assertEquals(
                    "{\"eos_token_id\": 256, \"temperature\": 0.7}",
                    Files.readString(exported.resolve("generation_config.json")),
                    "the source's generation_config.json is carried as it was");
            JsonNode config = JSON.readTree(exported.resolve("config.json").toFile());
            assertEquals("float32", config.path("torch_dtype").asText());
            assertEquals(JSON.readTree(configJson), ((ObjectNode) config).without("torch_dtype"));
            try (LanguageModel reimported = LanguageModel.fromHuggingFace(exported, 16)) {
                Map<String, float[]> trained = model.parameterValuesByPath();
                Map<String, float[]> read = reimported.parameterValuesByPath();
                assertEquals(trained.keySet(), read.keySet());
                for (String name : trained.keySet()) assertArrayEquals(trained.get(name), read.get(name), name);
                assertArrayEquals(HfFixtures.logits(model, ids), HfFixtures.logits(reimported, ids));
            }
        }
    }

    @Test
    void freezingReachesTheEmbeddingAndFirstBlocksByTheirHuggingFaceNames(@TempDir Path tmp) throws Exception {
        Path dir = HfFixtures.randomModel(tmp.resolve("m"), HuggingFaceParityTest.LLAMA_GQA_UNTIED, 1, 1L << 30);
        try (Training training = Training.start(LanguageModel.fromHuggingFace(dir, 16), TRAIN)) {
            training.freeze(true, 1);
            List<String> trainable = training.trainableParameters();
            assertFalse(trainable.contains("model.embed_tokens.weight"));
            assertTrue(trainable.stream().noneMatch(p -> p.startsWith("model.layers.0.")), trainable.toString());
            assertTrue(trainable.contains("model.layers.1.self_attn.q_proj.weight"));
            assertTrue(trainable.contains("lm_head.weight"), "an untied head is not the embedding");
        }
    }

    @Test
    void openAisOriginalGpt2NamesAndMaskBuffersLoadAsTransformersNames(@TempDir Path tmp) throws Exception {
        String config = HuggingFaceParityTest.GPT2_TANH_TIED;
        try (NDManager manager = NDManager.newBaseManager("PyTorch")) {
            SortedMap<String, NDArray> tensors = HfFixtures.randomTensors(config, 9, manager);
            SortedMap<String, NDArray> original = new TreeMap<>();
            tensors.forEach((name, array) -> original.put(name.replaceFirst("^transformer\\.", ""), array));
            original.put("h.0.attn.bias", manager.ones(new Shape(1, 1, 16, 16)));
            original.put("lm_head.weight", tensors.get("transformer.wte.weight"));
            Path current = HfFixtures.writeModel(tmp.resolve("current"), config, tensors, 1L << 30);
            Path old = HfFixtures.writeModel(tmp.resolve("old"), config, original, 1L << 30);
            long[][] ids = HfFixtures.ids(1, 10, 300);
            try (LanguageModel a = LanguageModel.fromHuggingFace(current);
                    LanguageModel b = LanguageModel.fromHuggingFace(old)) {
                assertArrayEquals(HfFixtures.logits(a, ids), HfFixtures.logits(b, ids));
            }
        }
    }

    @Test
    void anArchitectureNotBuiltHereIsRefusedByName(@TempDir Path tmp) throws Exception {
        Path dir = HfFixtures.randomModel(tmp.resolve("m"), HuggingFaceParityTest.LLAMA_GQA_UNTIED, 1, 1L << 30);
        Files.writeString(
                dir.resolve("config.json"),
                HuggingFaceParityTest.LLAMA_GQA_UNTIED.replace("LlamaForCausalLM", "MistralForCausalLM"));
        assertRefused(dir, "architecture MistralForCausalLM is not supported");
    }

    @Test
    void aMissingTensorIsRefusedWithItsNameAndShape(@TempDir Path tmp) throws Exception {
        assertRefused(
                checkpointWith(tmp, tensors -> tensors.remove("model.layers.1.mlp.up_proj.weight")),
                "the checkpoint lacks tensor model.layers.1.mlp.up_proj.weight (expected shape (40, 32))");
    }

    @Test
    void aTensorOfTheWrongShapeIsRefusedWithBothShapes(@TempDir Path tmp) throws Exception {
        assertRefused(
                checkpointWith(
                        tmp,
                        tensors -> tensors.put(
                                "model.layers.0.self_attn.k_proj.weight",
                                tensors.get("model.layers.0.self_attn.q_proj.weight"))),
                "tensor model.layers.0.self_attn.k_proj.weight has shape (32, 32) in the checkpoint, config.json"
                        + " implies (16, 32)");
    }

    @Test
    void aTensorTheArchitectureLacksIsRefused(@TempDir Path tmp) throws Exception {
        assertRefused(
                checkpointWith(
                        tmp,
                        tensors -> tensors.put("model.layers.2.mlp.up_proj.weight", tensors.get("model.norm.weight"))),
                "tensors that are not parameters of LlamaForCausalLM with this config.json: "
                        + "[model.layers.2.mlp.up_proj.weight]");
    }

    private interface Edit {
        void apply(SortedMap<String, NDArray> tensors);
    }

    private static Path checkpointWith(Path tmp, Edit edit) throws IOException {
        String config = HuggingFaceParityTest.LLAMA_GQA_UNTIED;
        try (NDManager manager = NDManager.newBaseManager("PyTorch")) {
            SortedMap<String, NDArray> tensors = HfFixtures.randomTensors(config, 2, manager);
            edit.apply(tensors);
            return HfFixtures.writeModel(tmp.resolve("m"), config, tensors, 1L << 30);
        }
    }

    private static void assertRefused(Path dir, String reason) {
        IOException e = assertThrows(
                IOException.class, () -> LanguageModel.fromHuggingFace(dir).close());
        assertTrue(e.getMessage().contains(reason), e.getMessage());
    }
}
