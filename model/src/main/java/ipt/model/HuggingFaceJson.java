package ipt.model;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/** A HuggingFace tokenizer.json, run by DJL's binding of the tokenizers library, from its bytes (never a download). */
final class HuggingFaceJson implements Tokenizer {

    /** Special tokens that end a document, in the order they are looked for. */
    private static final List<String> END_OF_TEXT = List.of("<|endoftext|>", "</s>", "<eos>", "<|end_of_text|>");

    private final HuggingFaceTokenizer tokenizer;
    private final int eos;
    private final int vocabSize;

    private HuggingFaceJson(HuggingFaceTokenizer tokenizer, int eos, int vocabSize) {
        this.tokenizer = tokenizer;
        this.eos = eos;
        this.vocabSize = vocabSize;
    }

    /** Reads the JSON for its end-of-text token and vocabulary size; fails with the reason if it has neither. */
    static HuggingFaceJson of(byte[] json) throws IOException {
        JsonNode root = new ObjectMapper().readTree(json);
        int maxId = -1;
        Map<String, Integer> special = new HashMap<>();
        for (Iterator<JsonNode> ids = root.path("model").path("vocab").elements(); ids.hasNext(); )
            maxId = Math.max(maxId, ids.next().asInt());
        for (JsonNode added : root.path("added_tokens")) {
            maxId = Math.max(maxId, added.path("id").asInt());
            if (added.path("special").asBoolean())
                special.put(added.path("content").asText(), added.path("id").asInt());
        }
        Integer eos = END_OF_TEXT.stream()
                .filter(special::containsKey)
                .findFirst()
                .map(special::get)
                .orElse(null);
        if (maxId < 0) throw new IOException("tokenizer.json has no model.vocab");
        if (eos == null)
            throw new IOException("tokenizer.json has no special end-of-text token (one of " + END_OF_TEXT + ")");
        HuggingFaceTokenizer tokenizer = HuggingFaceTokenizer.newInstance(
                new ByteArrayInputStream(json),
                Map.of("addSpecialTokens", "false", "truncation", "false", "padding", "false"));
        return new HuggingFaceJson(tokenizer, eos, maxId + 1);
    }

    @Override
    public int[] encode(String text) {
        long[] ids = tokenizer.encode(text, false, false).getIds();
        int[] out = new int[ids.length];
        for (int i = 0; i < ids.length; i++) out[i] = Math.toIntExact(ids[i]);
        return out;
    }

    @Override
    public String decode(int[] ids) {
        long[] wide = new long[ids.length];
        for (int i = 0; i < ids.length; i++) wide[i] = ids[i];
        return tokenizer.decode(wide, true);
    }

    @Override
    public int eos() {
        return eos;
    }

    @Override
    public int vocabSize() {
        return vocabSize;
    }

    @Override
    public void close() {
        tokenizer.close();
    }

    @Override
    public String toString() {
        return "tokenizer.json (" + vocabSize + " tokens)";
    }
}
