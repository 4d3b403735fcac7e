package ipt.evaluator;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ipt.model.ByteTokenizer;
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
    List<int[]> sequences = set.sequences("en", 4);
    assertEquals(3, sequences.size());
    assertEquals(ByteTokenizer.EOS, sequences.get(1)[0]);
    assertEquals('i', sequences.get(2)[1]);
    assertEquals(2, set.documents("en"), "the third document did not fit");
  }
}
