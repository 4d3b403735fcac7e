package ipt.model;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/** Byte-level tokenizer: a token is a UTF-8 byte (0..255), so every language encodes without unknowns. */
public final class ByteTokenizer {

    /** Separates packed documents. */
    public static final int EOS = 256;

    public static final int VOCAB_SIZE = 257;

    private ByteTokenizer() {}

    /** UTF-8 bytes as ints in 0..255; no EOS appended. */
    public static int[] encode(String text) {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        int[] ids = new int[bytes.length];
        for (int i = 0; i < bytes.length; i++) {
            ids[i] = bytes[i] & 0xFF;
        }
        return ids;
    }

    /** Text of the byte tokens; special tokens are skipped, invalid UTF-8 becomes U+FFFD. */
    public static String decode(int[] ids) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(ids.length);
        for (int id : ids) {
            if (id >= 0 && id < 256) {
                bytes.write(id);
            }
        }
        return bytes.toString(StandardCharsets.UTF_8);
    }
}
