package ipt.trainer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ReplayStoreTest {
  @TempDir Path dir;

  private static List<Packer.Sequence> sequences(String domain, int first, int n) {
    List<Packer.Sequence> out = new ArrayList<>();
    for (int i = 0; i < n; i++) out.add(new Packer.Sequence(domain, new int[] {first + i, 256, 7}));
    return out;
  }

  @Test
  void survivesReopenAndRollsBackUncommittedRounds() throws Exception {
    try (ReplayStore store = new ReplayStore(dir)) {
      store.append(1, sequences("en", 0, 5));
      store.append(2, sequences("java", 100, 3));
      store.append(3, sequences("de", 200, 4));
      assertEquals(12, store.size());
    }
    try (ReplayStore store = new ReplayStore(dir)) {
      assertEquals(12, store.size());
      assertEquals(4, store.rollbackTo(2), "version 3 never committed");
      assertEquals(8, store.size());
      assertEquals(0, store.rollbackTo(2));
      ReplayStore.Entry last = store.get(7);
      assertEquals(2, last.version());
      assertEquals("java", last.domain());
      assertArrayEquals(new int[] {102, 256, 7}, last.tokens());
    }
    try (ReplayStore store = new ReplayStore(dir)) {
      assertEquals(8, store.size(), "rollback is durable");
      store.append(3, sequences("de", 300, 1));
      assertEquals(300, store.get(8).tokens()[0]);
    }
  }

  @Test
  void samplesOnlyFromTheGivenPrefixAndDeterministically() throws Exception {
    try (ReplayStore store = new ReplayStore(dir)) {
      store.append(1, sequences("en", 0, 10));
      store.append(2, sequences("de", 100, 10));
      List<ReplayStore.Entry> a = store.sample(50, 10, new SplittableRandom(3));
      List<ReplayStore.Entry> b = store.sample(50, 10, new SplittableRandom(3));
      assertTrue(a.stream().allMatch(e -> e.version() == 1));
      for (int i = 0; i < a.size(); i++) assertArrayEquals(a.get(i).tokens(), b.get(i).tokens());
    }
  }
}
