package ipt.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * ipt's Hugging Face architectures against reference.py, an independent plain-torch forward pass that reads the
 * config.json and safetensors ipt wrote: tiny random models, the same token ids, logits within 1e-4.
 */
class HuggingFaceParityTest {

    static final String GPT2_TANH_TIED = """
            {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "vocab_size": 300, "n_positions": 16,
             "n_embd": 32, "n_layer": 2, "n_head": 4, "n_inner": 48, "activation_function": "gelu_new",
             "layer_norm_epsilon": 1e-5, "eos_token_id": 256}""";
    static final String GPT2_ERF_UNTIED = """
            {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "vocab_size": 300, "n_positions": 16,
             "n_embd": 32, "n_layer": 2, "n_head": 2, "n_inner": null, "activation_function": "gelu",
             "layer_norm_epsilon": 1e-6, "tie_word_embeddings": false}""";
    static final String LLAMA_GQA_UNTIED = """
            {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 300, "hidden_size": 32,
             "intermediate_size": 40, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
             "max_position_embeddings": 64, "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "hidden_act": "silu",
             "tie_word_embeddings": false, "bos_token_id": 1, "eos_token_id": 256}""";
    static final String LLAMA_MQA_TIED_BIASED = """
            {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 300, "hidden_size": 32,
             "intermediate_size": 24, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 1,
             "head_dim": 16, "max_position_embeddings": 64, "rms_norm_eps": 1e-5, "rope_theta": 500000.0,
             "attention_bias": true, "tie_word_embeddings": true, "eos_token_id": [256, 2]}""";
    static final String QWEN2_GQA_TIED = """
            {"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "vocab_size": 300, "hidden_size": 32,
             "intermediate_size": 40, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
             "max_position_embeddings": 64, "rms_norm_eps": 1e-6, "rope_theta": 1000000.0,
             "use_sliding_window": false, "tie_word_embeddings": true, "eos_token_id": 256}""";

    static Stream<Arguments> models() {
        return Stream.of(
                Arguments.of("gpt2, gelu_new, tied", GPT2_TANH_TIED, 1L << 30),
                Arguments.of("gpt2, gelu (erf), untied head", GPT2_ERF_UNTIED, 1L << 30),
                Arguments.of("llama, 4 heads over 2 kv heads, untied, sharded", LLAMA_GQA_UNTIED, 8_000L),
                Arguments.of("llama, 1 kv head, head_dim 16, biases, tied", LLAMA_MQA_TIED_BIASED, 1L << 30),
                Arguments.of("qwen2, q/k/v biases, 2 kv heads, tied", QWEN2_GQA_TIED, 1L << 30));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("models")
    void logitsMatchThePlainTorchReference(String name, String configJson, long maxShardBytes, @TempDir Path tmp)
            throws Exception {
        HfFixtures.pythonWithTorch();
        Path dir = HfFixtures.randomModel(tmp.resolve("model"), configJson, 5, maxShardBytes);
        assertEquals(maxShardBytes < 1 << 20, Files.exists(dir.resolve(SafeTensors.INDEX)), "sharded as asked");
        long[][] ids = HfFixtures.ids(2, 12, 300);
        try (LanguageModel model = LanguageModel.fromHuggingFace(dir)) {
            float diff =
                    HfFixtures.maxAbsDifference(HfFixtures.logits(model, ids), HfFixtures.referenceLogits(dir, ids));
            System.out.printf("parity %s: max |logit difference| %.3g%n", name, diff);
            assertTrue(diff <= 1e-4, name + ": logits differ from the reference by " + diff);
        }
    }

    @Test
    void iptGptExportedAsGpt2MatchesThePlainTorchReference(@TempDir Path tmp) throws Exception {
        HfFixtures.pythonWithTorch();
        GptConfig config = Corpus.tiny();
        Path dir = tmp.resolve("export");
        try (Training training = Training.create(config, TrainConfig.defaults())) {
            for (int s = 0; s < 3; s++) training.trainStep(Corpus.batch(s, 4, config.contextLength()), 1e-2f);
            training.model().writeHuggingFace(dir, 1L << 30);
            long[][] ids = HfFixtures.ids(2, config.contextLength(), config.vocabSize());
            float diff = HfFixtures.maxAbsDifference(
                    HfFixtures.logits(training.model(), ids), HfFixtures.referenceLogits(dir, ids));
            System.out.printf("parity ipt GPT exported as GPT-2: max |logit difference| %.3g%n", diff);
            assertTrue(diff <= 1e-4, "ipt's GPT differs from the GPT-2 reference by " + diff);
        }
    }
}
