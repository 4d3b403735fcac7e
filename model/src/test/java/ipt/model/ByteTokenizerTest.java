package ipt.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class ByteTokenizerTest {

    @Test
    void roundTripsAnyLanguageAndSkipsSpecialTokens() {
        String text = "Grüße, 世界! καλημέρα";
        int[] ids = ByteTokenizer.encode(text);
        assertEquals(text.getBytes(java.nio.charset.StandardCharsets.UTF_8).length, ids.length);
        assertEquals(text, ByteTokenizer.decode(ids));
        assertArrayEquals(new int[] {104, 105}, ByteTokenizer.encode("hi"));
        assertEquals("hihi", ByteTokenizer.decode(new int[] {104, 105, ByteTokenizer.EOS, 104, 105}));
        assertEquals(257, ByteTokenizer.VOCAB_SIZE);
    }
}
