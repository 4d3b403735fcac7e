package ipt.model;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * A Hugging Face model directory with random weights, written by ipt's own safetensors writer, for benchmarks at the
 * sizes of real models (in this package for the writer and the parameter layout, which are package-private).
 */
public final class RandomHuggingFace {

    private static final ObjectMapper JSON = new ObjectMapper();

    private RandomHuggingFace() {}

    /**
     * Writes config.json, model.safetensors (shards past {@code maxShardBytes}) and a tokenizer.json with the whole
     * vocabulary into {@code dir}. Weights are drawn as GPT-2 initialises them (normal, std 0.02; norm gains 1, biases
     * 0), from {@code seed}. The tokenizer is {@link HuggingFaceJson#byteLevelJson}'s byte-level BPE with filler tokens
     * up to config.json's vocab_size, its last id the special end-of-text token {@code eosToken} that config.json's
     * eos_token_id must name: text still reads as bytes, and every id the model can draw decodes.
     */
    public static Path write(Path dir, ObjectNode config, String eosToken, long seed, long maxShardBytes)
            throws IOException {
        byte[] configJson = JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(config);
        HfConfig hf = HfConfig.parse(configJson);
        if (hf.eosTokenId() != hf.vocabSize() - 1)
            throw new IllegalArgumentException("eos_token_id must be the last id, " + (hf.vocabSize() - 1));
        Files.createDirectories(dir);
        try (NDManager manager = NDManager.newBaseManager("PyTorch")) {
            Engine.getEngine("PyTorch").setRandomSeed((int) seed);
            SortedMap<String, NDArray> tensors = new TreeMap<>();
            for (Map.Entry<String, Shape> named : shapes(hf).entrySet()) {
                String name = named.getKey();
                Shape shape = named.getValue();
                boolean gain = (name.contains("norm") || name.contains("ln_")) && name.endsWith(".weight");
                tensors.put(
                        name,
                        gain
                                ? manager.ones(shape)
                                : name.endsWith(".bias")
                                        ? manager.zeros(shape)
                                        : manager.randomNormal(0f, 0.02f, shape, DataType.FLOAT32));
            }
            SafeTensors.write(dir, tensors, maxShardBytes);
        }
        Files.write(dir.resolve(LanguageModel.CONFIG_JSON), configJson);
        Files.write(dir.resolve(LanguageModel.TOKENIZER_JSON), tokenizerJson(hf.vocabSize(), eosToken));
        return dir;
    }

    /** Every tensor config.json implies, by name, in the shape model.safetensors stores it. */
    public static SortedMap<String, Shape> tensorShapes(ObjectNode config) throws IOException {
        return shapes(HfConfig.parse(JSON.writeValueAsBytes(config)));
    }

    private static SortedMap<String, Shape> shapes(HfConfig hf) {
        return HfDecoder.of(hf).checkpointShapes();
    }

    /** The byte-level tokenizer.json grown to {@code vocabSize} ids, {@code eosToken} the last. */
    static byte[] tokenizerJson(int vocabSize, String eosToken) throws IOException {
        ObjectNode root = (ObjectNode) JSON.readTree(HuggingFaceJson.byteLevelJson());
        ObjectNode vocab = (ObjectNode) root.path("model").path("vocab");
        for (int id = 256; id < vocabSize - 1; id++) vocab.put("<t" + id + ">", id);
        ObjectNode eos = (ObjectNode) root.path("added_tokens").get(0);
        eos.put("id", vocabSize - 1).put("content", eosToken);
        return JSON.writeValueAsBytes(root);
    }
}
