package ipt.evaluator;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ipt.model.ByteTokenizer;
import ipt.model.Tokenizer;
import java.util.List;
import org.junit.jupiter.api.Test;

class HeldOutSetTest {
  @Test
  void packsDocumentsPerDomainAndStopsGrowingWhenFull() {
    HeldOutSet set = new HeldOutSet(10);
    set.add("en", "abcd");      // a b c d EOS
    set.add("de", "xy");
    set.add("en", "efghij");    // fills the remaining 5 tokens: e f g h i
    set.add("en", "never");
    assertEquals(List.of("de", "en"), set.domains());
    List<int[]> sequences = set.sequences("en", 4, Tokenizer.BYTES);
    assertEquals(3, sequences.size());
    assertEquals(ByteTokenizer.EOS, sequences.get(1)[0]);
    assertEquals('i', sequences.get(2)[1]);
    assertEquals(2, set.documents("en"), "the third document did not fit");
  }

  @Test
  void anotherTokenizerReadsTheSameTextWithItsOwnEndOfText() {
    HeldOutSet set = new HeldOutSet(12);
    set.add("en", "ab cd");   // 5 bytes + EOS
    set.add("en", "é fgh");   // 6 bytes (é is two): the set is full
    Tokenizer words = new Tokenizer() { // one id per word: its length; 99 ends a document
      @Override
      public int[] encode(String text) {
        return java.util.Arrays.stream(text.split(" ")).mapToInt(String::length).toArray();
      }

      @Override
      public int eos() {
        return 99;
      }

      @Override
      public int vocabSize() {
        return 100;
      }
    };
    List<int[]> sequences = set.sequences("en", 3, words);
    assertEquals(2, sequences.size());
    assertArrayEquals(new int[] {2, 2, 99}, sequences.get(0));
    assertArrayEquals(new int[] {1, 3}, sequences.get(1));
  }
}
