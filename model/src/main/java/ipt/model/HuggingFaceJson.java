package ipt.model;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
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
        return of(json, -1);
    }

    /** As {@link #of(byte[])}, with {@code eos} (a model's config.json eos_token_id) as end of text unless -1. */
    static HuggingFaceJson of(byte[] json, int eos) throws IOException {
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
        if (maxId < 0) throw new IOException("tokenizer.json has no model.vocab");
        if (eos > maxId) throw new IOException("end-of-text id " + eos + " is outside tokenizer.json's " + (maxId + 1));
        if (eos < 0) {
            eos = END_OF_TEXT.stream()
                    .filter(special::containsKey)
                    .findFirst()
                    .map(special::get)
                    .orElseThrow(() -> new IOException(
                            "tokenizer.json has no special end-of-text token (one of " + END_OF_TEXT + ")"));
        }
        HuggingFaceTokenizer tokenizer = HuggingFaceTokenizer.newInstance(
                new ByteArrayInputStream(json),
                Map.of("addSpecialTokens", "false", "truncation", "false", "padding", "false"));
        return new HuggingFaceJson(tokenizer, eos, maxId + 1);
    }

    /**
     * A tokenizer.json whose ids are {@link ByteTokenizer}'s: byte-level BPE without merges, so each UTF-8 byte is
     * the token of its value (bytes shown as GPT-2's printable stand-in characters), and {@code <|endoftext|>} is the
     * special token {@link ByteTokenizer#EOS}, the name transformers' GPT-2 tokenizer expects.
     */
    static byte[] byteLevelJson() {
        ObjectMapper mapper = new ObjectMapper();
        ObjectNode root = mapper.createObjectNode();
        root.put("version", "1.0").putNull("truncation");
        root.putNull("padding");
        root.putArray("added_tokens")
                .addObject()
                .put("id", ByteTokenizer.EOS)
                .put("content", "<|endoftext|>")
                .put("single_word", false)
                .put("lstrip", false)
                .put("rstrip", false)
                .put("normalized", false)
                .put("special", true);
        root.putNull("normalizer");
        ObjectNode byteLevel = mapper.createObjectNode()
                .put("type", "ByteLevel")
                .put("add_prefix_space", false)
                .put("trim_offsets", true)
                .put("use_regex", false);
        root.set("pre_tokenizer", byteLevel);
        root.putNull("post_processor");
        root.set("decoder", byteLevel.deepCopy());
        ObjectNode model = root.putObject("model")
                .put("type", "BPE")
                .putNull("dropout")
                .putNull("unk_token")
                .putNull("continuing_subword_prefix")
                .putNull("end_of_word_suffix")
                .put("fuse_unk", false)
                .put("byte_fallback", false);
        ObjectNode vocab = model.putObject("vocab");
        for (int b = 0; b < 256; b++) vocab.put(String.valueOf(Character.toChars(byteStandIn(b))), b);
        model.putArray("merges");
        try {
            return mapper.writerWithDefaultPrettyPrinter().writeValueAsBytes(root);
        } catch (IOException e) {
            throw new IllegalStateException("a JSON tree in memory cannot be written: " + e.getMessage(), e);
        }
    }

    /**
     * GPT-2's byte-level alphabet: printable Latin-1 bytes stand for themselves, the other 68 bytes, in order, for
     * the code points from 256 on (so no token is whitespace or a control character).
     */
    private static int byteStandIn(int b) {
        if (printableLatin1(b)) return b;
        int unprintableBefore = 0;
        for (int below = 0; below < b; below++) if (!printableLatin1(below)) unprintableBefore++;
        return 256 + unprintableBefore;
    }

    private static boolean printableLatin1(int b) {
        return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
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
