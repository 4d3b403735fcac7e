package ipt.bench;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import ipt.model.Generation;
import ipt.model.Generation.Decoding;
import ipt.model.GptConfig;
import ipt.model.LanguageModel;
import ipt.model.Sampling;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * {@code ipt generate}'s speed with and without the KV cache: tokens/s of {@link Generation} with
 * {@link Decoding#KV_CACHE} against {@link Decoding#FULL_WINDOW} (a forward pass over the whole window for every
 * token, how generation ran before the cache: the reference), same model, prompt and seeds, in the same run. Batch 1,
 * sampled at temperature 1; the prompt and the new tokens fit the context, so every token after the prompt is one
 * position with the cache; the time includes the prompt's forward pass. Models: ipt's default byte GPT (also with a
 * prompt that fills the window, where each token is past the context and the cache cannot help), and, with
 * {@code hf}, a GPT-2-small-shaped and a Llama-shaped Hugging Face model with random weights (written to a temporary
 * directory and read as any model directory is: the arithmetic, not the weights, sets the speed).
 *
 * <p>Usage: {@code bench/run GenerationBenchmark [runs, default 3] [tokens a run, default 32] [hf]}
 */
public final class GenerationBenchmark {
    /** The prompt of the Hugging Face shapes, in tokens: a prompt such a model is typically given. */
    private static final int HF_PROMPT_TOKENS = 256;

    private GenerationBenchmark() {}

    public static void main(String[] args) throws IOException {
        int runs = args.length > 0 ? Integer.parseInt(args[0]) : 3;
        int tokens = args.length > 1 ? Integer.parseInt(args[1]) : 32;
        boolean hf = args.length > 2 && args[2].equals("hf");
        System.out.printf(
                "%nDJL %s, PyTorch engine threads %s; %d runs, medians; %d tokens a run, sampled at temperature 1%n",
                ai.djl.engine.Engine.getInstance().getVersion(),
                System.getProperty("ai.djl.pytorch.num_threads", "default"),
                runs,
                tokens);
        System.out.printf(
                "%n%-58s %7s %12s %12s %7s   %s%n",
                "model", "prompt", "full tok/s", "cached tok/s", "ratio", "runs (full | cached)");
        GptConfig small = GptConfig.small();
        try (LanguageModel model = LanguageModel.create(small, 1)) {
            String name = "ipt default byte GPT " + shape(small) + " " + millions(model);
            measure(model, name, bytes(small.contextLength() - tokens - 1), runs, tokens);
            measure(model, name + ", past the context", bytes(small.contextLength()), runs, tokens);
        }
        if (!hf) return;
        Path tmp = Files.createTempDirectory("ipt-generation-bench");
        try {
            Map<String, String> configs = new LinkedHashMap<>();
            configs.put("GPT-2-small-shaped (random weights)", """
                    {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "vocab_size": 50257,
                     "n_positions": 1024, "n_embd": 768, "n_layer": 12, "n_head": 12, "n_inner": null,
                     "activation_function": "gelu_new", "layer_norm_epsilon": 1e-5, "eos_token_id": 50256}""");
            configs.put("Llama-shaped, GQA 12/4 (random weights)", """
                    {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 32000,
                     "hidden_size": 768, "intermediate_size": 2048, "num_hidden_layers": 12,
                     "num_attention_heads": 12, "num_key_value_heads": 4, "max_position_embeddings": 1024,
                     "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "hidden_act": "silu",
                     "tie_word_embeddings": false, "eos_token_id": 2}""");
            for (Map.Entry<String, String> config : configs.entrySet()) {
                Path dir = RandomHfModel.write(tmp.resolve("m" + config.getKey().hashCode()), config.getValue());
                try (LanguageModel model = LanguageModel.fromHuggingFace(dir)) {
                    String name = config.getKey() + " " + shape(model.config()) + " " + millions(model);
                    measure(model, name, RandomHfModel.words(HF_PROMPT_TOKENS), runs, tokens);
                }
            }
        } finally {
            try (Stream<Path> files = Files.walk(tmp)) {
                for (Path file : files.sorted(Comparator.reverseOrder()).toList()) Files.delete(file);
            }
        }
    }

    private static void measure(LanguageModel model, String name, String prompt, int runs, int tokens) {
        // Warm-up: allocator, kernels, JIT.
        Generation.generate(model, prompt, new Sampling(1, 0, 1, 4, 5), Decoding.FULL_WINDOW);
        Generation.generate(model, prompt, new Sampling(1, 0, 1, 4, 5), Decoding.KV_CACHE);
        List<Double> full = new ArrayList<>();
        List<Double> cached = new ArrayList<>();
        int promptTokens = model.tokenizer().encode(prompt).length;
        for (int r = 0; r < runs; r++) {
            full.add(tokensPerSecond(model, prompt, tokens, r, Decoding.FULL_WINDOW));
            cached.add(tokensPerSecond(model, prompt, tokens, r, Decoding.KV_CACHE));
        }
        // The machine's load varies from run to run: the ratio is the median of the runs' own ratios.
        List<Double> ratios = new ArrayList<>();
        for (int i = 0; i < runs; i++) ratios.add(cached.get(i) / full.get(i));
        System.out.printf(
                Locale.ROOT,
                "%-58s %7d %12.2f %12.2f %7.2f   %s | %s%n",
                name,
                promptTokens,
                median(full),
                median(cached),
                median(ratios),
                list(full),
                list(cached));
        System.out.printf(
                Locale.ROOT,
                "RESULT %s prompt=%d full_window_tokens_per_s=%.2f kv_cache_tokens_per_s=%.2f ratio=%.2f%n",
                name.replace(' ', '_'),
                promptTokens,
                median(full),
                median(cached),
                median(ratios));
    }

    /** Tokens/s over continuations of {@code tokens} tokens (a random model may end the text sooner: more seeds). */
    private static double tokensPerSecond(LanguageModel model, String prompt, int tokens, int run, Decoding decoding) {
        long drawn = 0;
        long nanos = 0;
        for (int seed = 0; drawn < tokens; seed++) {
            Generation.Continuation c =
                    Generation.generate(model, prompt, new Sampling(1, 0, 1, tokens, run * 1000L + seed), decoding);
            drawn += c.tokens().length + (c.endOfText() ? 1 : 0);
            nanos += c.nanos();
        }
        return drawn / (nanos / 1e9);
    }

    private static String shape(GptConfig config) {
        return String.format("(d%d, %d blocks, context %d)", config.dModel(), config.nLayers(), config.contextLength());
    }

    private static String millions(LanguageModel model) {
        return String.format(Locale.ROOT, "%.1fM", model.parameterCount() / 1e6);
    }

    /** Random lowercase words, {@code length} bytes: a prompt of that many tokens for a byte-level model. */
    private static String bytes(int length) {
        SplittableRandom random = new SplittableRandom(11);
        StringBuilder s = new StringBuilder();
        while (s.length() < length) {
            for (int i = 1 + random.nextInt(9); i > 0; i--) s.append((char) ('a' + random.nextInt(26)));
            s.append(' ');
        }
        return s.substring(0, length);
    }

    private static double median(List<Double> values) {
        List<Double> sorted = values.stream().sorted().toList();
        return sorted.get(sorted.size() / 2);
    }

    private static String list(List<Double> values) {
        return values.stream().map(v -> String.format(Locale.ROOT, "%.2f", v)).collect(Collectors.joining(" "));
    }

    /**
     * A Hugging Face model directory with random weights under transformers' names (LayerNorm and RMSNorm gains 1,
     * biases 0, the rest N(0, 0.02)) and a word-level tokenizer.json of the config's vocabulary ("w0", "w1", ...).
     */
    static final class RandomHfModel {
        private static final ObjectMapper JSON = new ObjectMapper();

        private RandomHfModel() {}

        static Path write(Path dir, String configJson) throws IOException {
            Files.createDirectories(dir);
            Files.writeString(dir.resolve("config.json"), configJson);
            ObjectNode config = (ObjectNode) JSON.readTree(configJson);
            int vocab = config.path("vocab_size").asInt();
            Files.write(
                    dir.resolve("tokenizer.json"),
                    tokenizer(vocab, config.path("eos_token_id").asInt()));
            try (NDManager manager = NDManager.newBaseManager("PyTorch");
                    OutputStream out = Files.newOutputStream(dir.resolve("model.safetensors"))) {
                NDList tensors = new NDList();
                for (Map.Entry<String, long[]> named : shapes(config).entrySet()) {
                    String name = named.getKey();
                    Shape shape = new Shape(named.getValue());
                    NDArray tensor = name.endsWith(".bias")
                            ? manager.zeros(shape)
                            : name.contains("norm") || name.contains("ln_")
                                    ? manager.ones(shape)
                                    : manager.randomNormal(0, 0.02f, shape, DataType.FLOAT32);
                    tensor.setName(name);
                    tensors.add(tensor);
                }
                tensors.encode(out, NDList.Encoding.SAFETENSORS);
            }
            return dir;
        }

        /** Every tensor transformers' GPT2LMHeadModel or LlamaForCausalLM (untied head) holds for this config. */
        private static Map<String, long[]> shapes(ObjectNode config) {
            Map<String, long[]> shapes = new LinkedHashMap<>();
            long vocab = config.path("vocab_size").asLong();
            if (config.path("model_type").asText().equals("gpt2")) {
                long c = config.path("n_embd").asLong();
                shapes.put("transformer.wte.weight", new long[] {vocab, c});
                shapes.put(
                        "transformer.wpe.weight",
                        new long[] {config.path("n_positions").asLong(), c});
                for (int i = 0; i < config.path("n_layer").asInt(); i++) {
                    String h = "transformer.h." + i + ".";
                    for (String norm : List.of("ln_1", "ln_2")) {
                        shapes.put(h + norm + ".weight", new long[] {c});
                        shapes.put(h + norm + ".bias", new long[] {c});
                    }
                    conv1D(shapes, h + "attn.c_attn", c, 3 * c);
                    conv1D(shapes, h + "attn.c_proj", c, c);
                    conv1D(shapes, h + "mlp.c_fc", c, 4 * c);
                    conv1D(shapes, h + "mlp.c_proj", 4 * c, c);
                }
                shapes.put("transformer.ln_f.weight", new long[] {c});
                shapes.put("transformer.ln_f.bias", new long[] {c});
            } else {
                long c = config.path("hidden_size").asLong();
                long inner = config.path("intermediate_size").asLong();
                long heads = config.path("num_attention_heads").asLong();
                long hs = c / heads, kv = config.path("num_key_value_heads").asLong() * hs;
                shapes.put("model.embed_tokens.weight", new long[] {vocab, c});
                for (int i = 0; i < config.path("num_hidden_layers").asInt(); i++) {
                    String p = "model.layers." + i + ".";
                    shapes.put(p + "input_layernorm.weight", new long[] {c});
                    shapes.put(p + "self_attn.q_proj.weight", new long[] {heads * hs, c});
                    shapes.put(p + "self_attn.k_proj.weight", new long[] {kv, c});
                    shapes.put(p + "self_attn.v_proj.weight", new long[] {kv, c});
                    shapes.put(p + "self_attn.o_proj.weight", new long[] {c, heads * hs});
                    shapes.put(p + "post_attention_layernorm.weight", new long[] {c});
                    shapes.put(p + "mlp.gate_proj.weight", new long[] {inner, c});
                    shapes.put(p + "mlp.up_proj.weight", new long[] {inner, c});
                    shapes.put(p + "mlp.down_proj.weight", new long[] {c, inner});
                }
                shapes.put("model.norm.weight", new long[] {c});
                shapes.put("lm_head.weight", new long[] {vocab, c});
            }
            return shapes;
        }

        /** GPT-2's Conv1D: the weight stored (in, out). */
        private static void conv1D(Map<String, long[]> shapes, String name, long in, long out) {
            shapes.put(name + ".weight", new long[] {in, out});
            shapes.put(name + ".bias", new long[] {out});
        }

        /** Word-level: "w<id>" is token id, split on whitespace; the end-of-text token is special. */
        private static byte[] tokenizer(int vocab, int eos) throws IOException {
            ObjectNode root = JSON.createObjectNode();
            root.put("version", "1.0").putNull("truncation");
            root.putNull("padding");
            root.putArray("added_tokens")
                    .addObject()
                    .put("id", eos)
                    .put("content", "<|endoftext|>")
                    .put("single_word", false)
                    .put("lstrip", false)
                    .put("rstrip", false)
                    .put("normalized", false)
                    .put("special", true);
            root.putNull("normalizer");
            root.putObject("pre_tokenizer").put("type", "WhitespaceSplit");
            root.putNull("post_processor");
            root.putNull("decoder");
            ObjectNode model = root.putObject("model").put("type", "WordLevel").put("unk_token", "w0");
            ObjectNode words = model.putObject("vocab");
            for (int id = 0; id < vocab; id++) words.put(id == eos ? "<|endoftext|>" : "w" + id, id);
            return JSON.writeValueAsBytes(root);
        }

        /** A prompt of {@code tokens} random words of the word-level vocabulary (never the end-of-text token). */
        static String words(int tokens) {
            SplittableRandom random = new SplittableRandom(11);
            StringBuilder s = new StringBuilder();
            for (int i = 0; i < tokens; i++)
                s.append(i == 0 ? "" : " ").append("w").append(3 + random.nextInt(1000));
            return s.toString();
        }
    }
}
