package ipt.ingest;

import java.util.Arrays;

/**
 * Counts of 64-bit keys in one open-addressing table: the quality rules count thousands of n-gram hashes per
 * document, and boxing them into a HashMap was most of the curation thread's time.
 */
final class LongCounts {
    private final long[] keys;
    private final int[] counts;
    private final int mask;

    /** Room for {@code expected} distinct keys without growing (it never grows: callers know their n-gram count). */
    LongCounts(int expected) {
        int capacity = Integer.highestOneBit(Math.max(4, expected * 2) - 1) << 1;
        keys = new long[capacity];
        counts = new int[capacity];
        mask = capacity - 1;
    }

    /** Counts one more {@code key}; returns its count so far. */
    int add(long key) {
        int slot = (int) (key ^ (key >>> 32)) & mask;
        while (counts[slot] != 0 && keys[slot] != key) slot = (slot + 1) & mask;
        keys[slot] = key;
        return ++counts[slot];
    }

    void clear() {
        Arrays.fill(counts, 0);
    }
}
