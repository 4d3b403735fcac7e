package ipt.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.util.Map;

/**
 * A Hugging Face config.json, read for what {@link Gpt2} and {@link Llama} compute; settings they do not implement
 * are refused by name rather than ignored. {@code json} is the file as read, written back on export.
 *
 * @param modelType gpt2, llama or qwen2
 * @param headDim width of one attention head
 * @param kvHeads key/value heads (fewer than {@code heads}: grouped-query attention)
 * @param maxPositions the longest sequence the model was built for
 * @param normEps LayerNorm's (GPT-2) or RMSNorm's (Llama) epsilon
 * @param activation GPT-2's activation_function (gelu, gelu_new); silu for the Llama family
 * @param ropeTheta RoPE's base (Llama family)
 * @param qkvBias whether the q, k, v projections have biases
 * @param outputBias whether the attention output projection has a bias
 * @param eosTokenId the end-of-text id, or -1 where config.json names none
 */
record HfConfig(
        String modelType,
        int vocabSize,
        int hiddenSize,
        int layers,
        int heads,
        int kvHeads,
        int headDim,
        int intermediateSize,
        int maxPositions,
        double normEps,
        String activation,
        double ropeTheta,
        boolean tieWordEmbeddings,
        boolean qkvBias,
        boolean outputBias,
        int eosTokenId,
        ObjectNode json) {

    static final String GPT2 = "gpt2";
    static final String LLAMA = "llama";
    static final String QWEN2 = "qwen2";
    /** The transformers classes built here, by the model_type each one is. */
    private static final Map<String, String> ARCHITECTURES =
            Map.of("GPT2LMHeadModel", GPT2, "LlamaForCausalLM", LLAMA, "Qwen2ForCausalLM", QWEN2);

    private static final ObjectMapper JSON = new ObjectMapper();

    /** config.json's architectures (else its model_type) decide what is built; anything not built here is refused. */
    static HfConfig parse(byte[] bytes) throws IOException {
        JsonNode root = JSON.readTree(bytes);
        if (root == null || !root.isObject()) throw new IOException("config.json is not a JSON object");
        ObjectNode json = (ObjectNode) root;
        String modelType;
        JsonNode architectures = json.path("architectures");
        if (architectures.isArray() && !architectures.isEmpty()) {
            String name = architectures.get(0).asText();
            modelType = ARCHITECTURES.get(name);
            if (modelType == null)
                throw new IOException("config.json: architecture " + name + " is not supported (supported: "
                        + ARCHITECTURES.keySet() + ")");
        } else {
            modelType = json.path("model_type").asText();
            if (!ARCHITECTURES.containsValue(modelType))
                throw new IOException("config.json: model_type '" + modelType + "' is not supported (supported: "
                        + ARCHITECTURES.values() + ")");
        }
        return modelType.equals(GPT2) ? gpt2(json) : llama(json, modelType);
    }

    /** Defaults are GPT2Config's. */
    private static HfConfig gpt2(ObjectNode json) throws IOException {
        int embd = required(json, "n_embd");
        int heads = required(json, "n_head");
        if (embd % heads != 0) throw new IOException("config.json: n_embd " + embd + " is not a multiple of n_head");
        String activation = json.path("activation_function").asText("gelu_new");
        if (!activation.equals("gelu") && !activation.equals("gelu_new") && !activation.equals("gelu_pytorch_tanh"))
            throw new IOException("config.json: activation_function " + activation
                    + " is not supported (gelu, gelu_new, gelu_pytorch_tanh)");
        refuseIf(json, "scale_attn_weights", false, "unscaled attention");
        refuseIf(json, "scale_attn_by_inverse_layer_idx", true, "attention scaled by layer");
        return new HfConfig(
                GPT2,
                required(json, "vocab_size"),
                embd,
                required(json, "n_layer"),
                heads,
                heads,
                embd / heads,
                json.path("n_inner").isNumber() ? json.path("n_inner").asInt() : 4 * embd,
                required(json, "n_positions"),
                json.path("layer_norm_epsilon").asDouble(1e-5),
                activation,
                0,
                json.path("tie_word_embeddings").asBoolean(true),
                true,
                true,
                eos(json),
                json);
    }

    /** LlamaConfig's and Qwen2Config's defaults; Qwen2 is Llama with biases on q, k and v. */
    private static HfConfig llama(ObjectNode json, String modelType) throws IOException {
        int hidden = required(json, "hidden_size");
        int heads = required(json, "num_attention_heads");
        int kvHeads = json.path("num_key_value_heads").isNumber()
                ? json.path("num_key_value_heads").asInt()
                : heads;
        if (heads % kvHeads != 0)
            throw new IOException("config.json: num_attention_heads " + heads + " is not a multiple of "
                    + "num_key_value_heads " + kvHeads);
        if (!json.path("head_dim").isNumber() && hidden % heads != 0)
            throw new IOException("config.json: hidden_size " + hidden + " is not a multiple of num_attention_heads");
        String activation = json.path("hidden_act").asText("silu");
        if (!activation.equals("silu"))
            throw new IOException("config.json: hidden_act " + activation + " is not supported (silu)");
        if (!json.path("rope_scaling").isMissingNode()
                && !json.path("rope_scaling").isNull())
            throw new IOException("config.json: rope_scaling " + json.path("rope_scaling") + " is not supported");
        refuseIf(json, "mlp_bias", true, "biases in the MLP");
        refuseIf(json, "use_sliding_window", true, "sliding-window attention");
        boolean qwen = modelType.equals(QWEN2);
        boolean attentionBias = json.path("attention_bias").asBoolean(false);
        return new HfConfig(
                modelType,
                required(json, "vocab_size"),
                hidden,
                required(json, "num_hidden_layers"),
                heads,
                kvHeads,
                json.path("head_dim").isNumber() ? json.path("head_dim").asInt() : hidden / heads,
                required(json, "intermediate_size"),
                json.path("max_position_embeddings").asInt(qwen ? 32768 : 2048),
                json.path("rms_norm_eps").asDouble(1e-6),
                activation,
                json.path("rope_theta").asDouble(10000),
                json.path("tie_word_embeddings").asBoolean(false),
                qwen || attentionBias,
                !qwen && attentionBias,
                eos(json),
                json);
    }

    /**
     * The GPT-2 config.json of ipt's {@link Gpt}: the same shapes, DJL's GELU (the erf form, transformers' "gelu"),
     * DJL's LayerNorm epsilon, a head tied to the embedding, no dropout, and its tokenizer's end of text as bos and
     * eos.
     */
    static HfConfig gpt2Of(GptConfig config, int eos) {
        ObjectNode json = JSON.createObjectNode();
        json.putArray("architectures").add("GPT2LMHeadModel");
        json.put("model_type", GPT2)
                .put("vocab_size", config.vocabSize())
                .put("n_positions", config.contextLength())
                .put("n_embd", config.dModel())
                .put("n_layer", config.nLayers())
                .put("n_head", config.nHeads())
                .putNull("n_inner");
        json.put("activation_function", "gelu")
                .put("layer_norm_epsilon", 1e-5)
                .put("resid_pdrop", 0.0)
                .put("embd_pdrop", 0.0)
                .put("attn_pdrop", 0.0)
                .put("initializer_range", 0.02)
                .put("scale_attn_weights", true)
                .put("tie_word_embeddings", true)
                .put("bos_token_id", eos)
                .put("eos_token_id", eos)
                .put("torch_dtype", "float32");
        try {
            return gpt2(json);
        } catch (IOException e) {
            throw new IllegalStateException("ipt's own GPT-2 config.json is refused: " + e.getMessage(), e);
        }
    }

    /** The config.json to write with weights saved as float32. */
    byte[] toJson() throws IOException {
        ObjectNode copy = json.deepCopy();
        // transformers 4.56 renamed torch_dtype to dtype; either names the saved weights' type.
        copy.put(copy.has("dtype") ? "dtype" : "torch_dtype", "float32");
        return JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(copy);
    }

    /** generation_config.json for a directory that had none: config.json's bos and eos. */
    byte[] generationConfigJson() throws IOException {
        ObjectNode generation = JSON.createObjectNode();
        for (String field : new String[] {"bos_token_id", "eos_token_id"}) {
            if (json.has(field)) generation.set(field, json.get(field));
        }
        generation.put("_from_model_config", true);
        return JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(generation);
    }

    /** The summary the trainer, the scorer and FLOP estimates read; {@code contextLength} is the training window. */
    GptConfig gptConfig(int contextLength) {
        return new GptConfig(vocabSize, contextLength, hiddenSize, layers, heads);
    }

    private static int required(JsonNode json, String field) throws IOException {
        JsonNode value = json.path(field);
        if (!value.canConvertToInt() || value.asInt() <= 0)
            throw new IOException("config.json: " + field + " must be a positive integer, found " + value);
        return value.asInt();
    }

    private static void refuseIf(JsonNode json, String field, boolean value, String what) throws IOException {
        if (json.path(field).isBoolean() && json.path(field).asBoolean() == value)
            throw new IOException("config.json: " + field + " " + value + " (" + what + ") is not supported");
    }

    /** eos_token_id is one id or a list (chat models end on several); documents are separated by the first. */
    private static int eos(JsonNode json) {
        JsonNode eos = json.path("eos_token_id");
        if (eos.isArray() && !eos.isEmpty()) eos = eos.get(0);
        return eos.canConvertToInt() ? eos.asInt() : -1;
    }
}
