package ipt.ingest;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * MinHash signatures and LSH band keys for near-duplicate detection, after datatrove's MinhashDedup
 * defaults: 5-gram shingles, 14 bands of 8 rows (112 hashes). Two documents share a band key with
 * probability 1 − (1 − J⁸)¹⁴ for shingle Jaccard similarity J: about 0.5 at J = 0.72, 0.99 at J = 0.87.
 * Shingles are word 5-grams of the lower-cased text, or letter 5-grams for text written without spaces.
 * Each shingle is hashed to 64 bits (FNV-1a), and hash i is (a_i·x + b_i) mod 2⁶¹−1 with a_i, b_i drawn
 * from a fixed seed, so signatures are the same in every process and after every restart.
 */
public final class MinHash {
  private static final long MERSENNE_61 = (1L << 61) - 1;

  /**
   * @param bands LSH bands; a shared band key makes a near duplicate
   * @param rows hashes per band
   * @param shingle words (or letters) per shingle
   * @param seed of the hash family; changing it makes every stored band key useless
   */
  public record Config(int bands, int rows, int shingle, long seed) {
    public Config {
      if (bands < 1 || rows < 1 || shingle < 1) throw new IllegalArgumentException("bands, rows and shingle must be positive");
    }

    public static Config defaults() {
      return new Config(14, 8, 5, 0x1b873593L);
    }
  }

  private final Config config;
  private final long[] a;
  private final long[] b;

  public MinHash(Config config) {
    this.config = config;
    int hashes = config.bands() * config.rows();
    a = new long[hashes];
    b = new long[hashes];
    SplittableRandom random = new SplittableRandom(config.seed());
    for (int i = 0; i < hashes; i++) {
      a[i] = 1 + random.nextLong(MERSENNE_61 - 1);
      b[i] = random.nextLong(MERSENNE_61);
    }
  }

  /** The signature: per hash function, the least hash over the text's shingles. */
  long[] signature(String text) {
    long[] min = new long[a.length];
    Arrays.fill(min, Long.MAX_VALUE);
    for (long x : shingleHashes(text)) {
      long reduced = Long.remainderUnsigned(x, MERSENNE_61);
      for (int i = 0; i < a.length; i++) {
        long h = mulMod(a[i], reduced) + b[i];
        if (h >= MERSENNE_61) h -= MERSENNE_61;
        if (h < min[i]) min[i] = h;
      }
    }
    return min;
  }

  /** One key per band, {@code <band>:<hex hash of its rows>}; equal keys in one band mean a candidate pair. */
  List<String> bandKeys(long[] signature) {
    List<String> keys = new ArrayList<>(config.bands());
    for (int band = 0; band < config.bands(); band++) {
      long h = 0xcbf29ce484222325L;
      for (int r = 0; r < config.rows(); r++) {
        h ^= signature[band * config.rows() + r];
        h *= 0x100000001b3L;
      }
      keys.add(band + ":" + Long.toHexString(h));
    }
    return keys;
  }

  /** Estimated Jaccard similarity of two signatures: the share of equal entries. */
  static double similarity(long[] x, long[] y) {
    int same = 0;
    for (int i = 0; i < x.length; i++) if (x[i] == y[i]) same++;
    return (double) same / x.length;
  }

  Set<Long> shingleHashes(String text) {
    List<String> tokens = QualityRules.isSpaceless(text) ? QualityRules.letters(text) : lowerWords(text);
    Set<Long> out = new HashSet<>();
    int n = Math.min(config.shingle(), tokens.size());
    for (int i = 0; i + n <= tokens.size(); i++) {
      if (n == 0) break;
      out.add(fnv1a(String.join(" ", tokens.subList(i, i + n))));
    }
    return out;
  }

  /** Exact Jaccard similarity of two texts' shingle sets (for tests and the evaluation, not the stream). */
  double jaccard(String x, String y) {
    Set<Long> sx = shingleHashes(x);
    Set<Long> sy = shingleHashes(y);
    Set<Long> union = new HashSet<>(sx);
    union.addAll(sy);
    sx.retainAll(sy);
    return union.isEmpty() ? 1 : (double) sx.size() / union.size();
  }

  private static List<String> lowerWords(String text) {
    List<String> out = new ArrayList<>();
    for (String token : text.toLowerCase(Locale.ROOT).split("[^\\p{L}\\p{N}]+")) if (!token.isEmpty()) out.add(token);
    return out;
  }

  private static long fnv1a(String s) {
    long h = 0xcbf29ce484222325L;
    for (byte b : s.getBytes(StandardCharsets.UTF_8)) {
      h ^= b & 0xff;
      h *= 0x100000001b3L;
    }
    return h;
  }

  /** (x·y) mod 2⁶¹−1 for x, y < 2⁶¹−1, from the 122-bit product. */
  private static long mulMod(long x, long y) {
    long hi = Math.multiplyHigh(x, y);
    long lo = x * y;
    long low61 = lo & MERSENNE_61;
    long high = (lo >>> 61) | (hi << 3);
    long r = low61 + high;
    if (r >= MERSENNE_61) r -= MERSENNE_61;
    return r;
  }
}
