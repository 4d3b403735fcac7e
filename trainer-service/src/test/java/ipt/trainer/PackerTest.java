package ipt.trainer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ipt.model.ByteTokenizer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class PackerTest {
    @Test
    void everyTokenLandsInExactlyOneSequenceAcrossATailRoundTrip() {
        Random random = new Random(7);
        List<Integer> expected = new ArrayList<>();
        List<Integer> packed = new ArrayList<>();
        Packer packer = new Packer(16, ByteTokenizer.EOS);
        for (int doc = 0; doc < 200; doc++) {
            int[] tokens = random.ints(random.nextInt(40) + 1, 0, 256).toArray();
            for (int t : tokens) expected.add(t);
            expected.add(ByteTokenizer.EOS);
            packer.add(doc % 2 == 0 ? "en" : "de", tokens);
            if (doc % 17 == 0) {
                packer.take(3).forEach(s -> {
                    for (int t : s.tokens()) packed.add(t);
                });
                // Resume from the checkpointed tail, as a restarted trainer does.
                packer = Packer.fromTail(16, ByteTokenizer.EOS, packer.tailBytes());
            }
        }
        int documentTokens = expected.size();
        // A final filler document pushes every earlier token out of the tail.
        int[] filler = new int[16];
        for (int t : filler) expected.add(t);
        expected.add(ByteTokenizer.EOS);
        packer.add("en", filler);
        packer.take(Integer.MAX_VALUE).forEach(s -> {
            assertEquals(16, s.tokens().length);
            for (int t : s.tokens()) packed.add(t);
        });
        assertTrue(packed.size() >= documentTokens);
        assertEquals(expected.subList(0, packed.size()), packed);
    }

    @Test
    void aSequenceBelongsToTheDomainItStartsIn() {
        Packer packer = new Packer(4, ByteTokenizer.EOS);
        packer.add("en", new int[] {1, 2}); // 1 2 EOS
        packer.add("java", new int[] {3, 4, 5}); // 3 4 5 EOS
        packer.add("de", new int[] {6}); // 6 EOS
        List<Packer.Sequence> sequences = packer.take(2);
        assertEquals("en", sequences.get(0).domain());
        assertArrayEquals(
                new int[] {1, 2, ByteTokenizer.EOS, 3}, sequences.get(0).tokens());
        assertEquals("java", sequences.get(1).domain());
        Packer resumed = Packer.fromTail(4, ByteTokenizer.EOS, packer.tailBytes());
        resumed.add("de", new int[] {7, 8});
        assertEquals("de", resumed.take(1).get(0).domain(), "the carried tail starts inside the de document");
    }
}
