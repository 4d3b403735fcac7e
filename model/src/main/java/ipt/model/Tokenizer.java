package ipt.model;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Text to token ids, as a lineage's model reads them: bytes for the ipt GPT, or the HuggingFace
 * tokenizer.json a model started from TorchScript came with (then saved in every checkpoint).
 */
public interface Tokenizer extends AutoCloseable {

    /** UTF-8 bytes, {@link ByteTokenizer}. */
    Tokenizer BYTES = new Tokenizer() {
        @Override
        public int[] encode(String text) {
            return ByteTokenizer.encode(text);
        }

        @Override
        public String decode(int[] ids) {
            return ByteTokenizer.decode(ids);
        }

        @Override
        public int eos() {
            return ByteTokenizer.EOS;
        }

        @Override
        public int vocabSize() {
            return ByteTokenizer.VOCAB_SIZE;
        }

        @Override
        public String toString() {
            return "bytes";
        }
    };

    /** The text's ids, no special tokens added. */
    int[] encode(String text);

    /** The text of ids, special tokens left out. */
    String decode(int[] ids);

    /** The id that separates packed documents. */
    int eos();

    int vocabSize();

    /**
     * The documents read as one text, {@link #eos} after each but the last, cut into windows of {@code length}
     * tokens (the last may be shorter): how held-out text is scored, identically wherever it is.
     */
    default List<int[]> windows(List<String> documents, int length) {
        List<int[]> parts = new ArrayList<>();
        int total = 0;
        for (int i = 0; i < documents.size(); i++) {
            int[] ids = encode(documents.get(i));
            parts.add(ids);
            total += ids.length + (i + 1 < documents.size() ? 1 : 0);
        }
        int[] all = new int[total];
        int at = 0;
        for (int i = 0; i < parts.size(); i++) {
            System.arraycopy(parts.get(i), 0, all, at, parts.get(i).length);
            at += parts.get(i).length;
            if (at < total) all[at++] = eos();
        }
        List<int[]> out = new ArrayList<>();
        for (int start = 0; start + 1 < all.length; start += length)
            out.add(Arrays.copyOfRange(all, start, Math.min(all.length, start + length)));
        return out;
    }

    @Override
    default void close() {}
}
