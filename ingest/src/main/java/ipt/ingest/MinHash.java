package ipt.ingest;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * MinHash signatures and LSH band keys for near-duplicate detection, after datatrove's MinhashDedup
 * defaults: 5-gram shingles, 14 bands of 8 rows (112 hashes). Two documents share a band key with
 * probability 1 − (1 − J⁸)¹⁴ for shingle Jaccard similarity J: about 0.5 at J = 0.72, 0.99 at J = 0.87.
 * Shingles are word 5-grams of the lower-cased text (words: runs of letters and digits), or letter 5-grams
 * for text written without spaces. A shingle is a 64-bit hash of its words' 64-bit hashes; hash function i
 * is multiply-shift, the high 32 bits of a_i·x + b_i (mod 2⁶⁴) with odd a_i, both drawn from a fixed seed,
 * so signatures are the same in every process and after every restart.
 */
public final class MinHash {
    /**
     * @param bands LSH bands; a shared band key makes a near duplicate
     * @param rows hashes per band
     * @param shingle words (or letters) per shingle
     * @param seed of the hash family; changing it makes every stored band key useless
     */
    public record Config(int bands, int rows, int shingle, long seed) {
        public Config {
            if (bands < 1 || rows < 1 || shingle < 1)
                throw new IllegalArgumentException("bands, rows and shingle must be positive");
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
            a[i] = random.nextLong() | 1;
            b[i] = random.nextLong();
        }
    }

    /** The signature: per hash function, the least hash over the text's distinct shingles. */
    long[] signature(String text) {
        long[] min = new long[a.length];
        Arrays.fill(min, Long.MAX_VALUE);
        for (long x : shingleHashes(text)) {
            for (int i = 0; i < a.length; i++) {
                long h = (a[i] * x + b[i]) >>> 32;
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

    /** The text's distinct shingle hashes, sorted. */
    long[] shingleHashes(String text) {
        // Letters are the tokens where some script needs a dictionary for words: character shingles, as usual for CJK.
        long[] tokens = Scripts.of(text).needsDictionary() ? letterHashes(text) : wordHashes(text);
        int n = Math.min(config.shingle(), tokens.length);
        if (n == 0) return new long[0];
        long[] shingles = new long[tokens.length - n + 1];
        for (int i = 0; i < shingles.length; i++) {
            long h = 0;
            for (int j = i; j < i + n; j++) h = (h + tokens[j]) * 0x9E3779B97F4A7C15L;
            shingles[i] = mix(h);
        }
        Arrays.sort(shingles);
        int distinct = 0;
        for (int i = 0; i < shingles.length; i++)
            if (i == 0 || shingles[i] != shingles[i - 1]) shingles[distinct++] = shingles[i];
        return Arrays.copyOf(shingles, distinct);
    }

    /** FNV-1a of each lower-cased run of letters and digits. */
    private static long[] wordHashes(String text) {
        long[] out = new long[16];
        int count = 0;
        long h = 0;
        boolean inWord = false;
        for (int i = 0; i < text.length(); ) {
            int cp = text.codePointAt(i);
            i += Character.charCount(cp);
            if (Character.isLetterOrDigit(cp)) {
                if (!inWord) h = 0xcbf29ce484222325L;
                inWord = true;
                h = (h ^ Character.toLowerCase(cp)) * 0x100000001b3L;
            } else if (inWord) {
                if (count == out.length) out = Arrays.copyOf(out, count * 2);
                out[count++] = h;
                inWord = false;
            }
        }
        if (inWord) {
            if (count == out.length) out = Arrays.copyOf(out, count + 1);
            out[count++] = h;
        }
        return Arrays.copyOf(out, count);
    }

    /** Each letter or digit of text written without spaces, as its own token. */
    private static long[] letterHashes(String text) {
        return text.codePoints()
                .filter(Character::isLetterOrDigit)
                .mapToLong(cp -> mix(Character.toLowerCase(cp)))
                .toArray();
    }

    /** SplitMix64's finaliser: spreads the bits, so nearby inputs give unrelated hashes. */
    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
        z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
        return z ^ (z >>> 31);
    }
}
