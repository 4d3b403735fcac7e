package ipt.ingest;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.processor.PunctuationType;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.Stores;

/**
 * What a dedup stage remembers, for a horizon of stream time: each key (a content hash, or a domain's MinHash band)
 * maps to the first document's id and the timestamp of the record that brought it; a second store,
 * {@code <store>-by-time}, holds the same entries keyed by that timestamp (16 hex digits) + the key, so the ones older
 * than the horizon are deleted oldest first by a range scan that a punctuator runs on stream time.
 *
 * <p>Why not RocksDB's TTL: it expires by wall-clock time during compactions, so what a replay or a restarted task
 * drops would depend on when it runs, and its deletes never reach the changelog, so a store restored from the
 * changelog would hold everything again. Here the deletes are ordinary store deletes: they go to the changelog (a
 * compacted topic), and a restored store is as bounded as the lost one.
 *
 * <p>State written before timestamps were kept (plain ids, no index) is stamped with the timestamp of the first record
 * a task processes after the upgrade: it expires one horizon later.
 */
final class DedupMemory {
    /** The first document's id and its record's timestamp. */
    record Remembered(String firstId, long timestamp) {}

    /** Document ids contain no control characters ({@link DocumentValidator}): a value without one is legacy. */
    private static final char SEPARATOR = '\0';

    private static final int TIME_DIGITS = 16;
    private static final int BATCH = 1000;
    private static final Duration MIN_SWEEP = Duration.ofSeconds(1);
    private static final Duration MAX_SWEEP = Duration.ofMinutes(1);

    private final String store;
    private final String stage;
    private final Optional<Duration> horizon;
    private final CurationMetrics metrics;
    private KeyValueStore<String, String> byKey;
    private KeyValueStore<String, String> byTime;
    private long entries;
    private boolean legacy;
    /** Where the next sweep starts: the last key it deleted, so it does not walk over their tombstones again. */
    private String sweptTo;

    /**
     * @param stage the metrics label: {@code exact} or {@code near}
     * @param horizon how long an entry is remembered in stream time; empty: forever
     */
    DedupMemory(String store, String stage, Optional<Duration> horizon, CurationMetrics metrics) {
        this.store = store;
        this.stage = stage;
        this.horizon = horizon;
        this.metrics = metrics;
    }

    static String byTimeStore(String store) {
        return store + "-by-time";
    }

    /** Adds the two stores; a stage using them names both ({@link #stores}). */
    static void addStores(StreamsBuilder builder, String store) {
        for (String name : stores(store)) {
            builder.addStateStore(Stores.keyValueStoreBuilder(
                    Stores.persistentKeyValueStore(name), Serdes.String(), Serdes.String()));
        }
    }

    static String[] stores(String store) {
        return new String[] {store, byTimeStore(store)};
    }

    /**
     * How often expired entries are deleted, in stream time: a store holds at most one horizon plus this much. A
     * sixtieth of the horizon, between 1 s and 1 min.
     */
    static Duration sweepInterval(Duration horizon) {
        Duration d = horizon.dividedBy(60);
        return d.compareTo(MIN_SWEEP) < 0 ? MIN_SWEEP : d.compareTo(MAX_SWEEP) > 0 ? MAX_SWEEP : d;
    }

    void init(ProcessorContext<?, ?> context) {
        byKey = context.getStateStore(store);
        byTime = context.getStateStore(byTimeStore(store));
        // Restored before a processor starts: counting is one pass over a store the horizon keeps small.
        try (KeyValueIterator<String, String> it = byTime.all()) {
            while (it.hasNext()) {
                it.next();
                entries++;
            }
        }
        if (entries == 0) {
            try (KeyValueIterator<String, String> it = byKey.all()) {
                legacy = it.hasNext();
            }
        }
        metrics.dedupEntries(stage, entries);
        metrics.dedupExpired(stage, 0); // exported from 0, so a rate over it sees the first expiry
        horizon.ifPresent(h -> context.schedule(
                sweepInterval(h), PunctuationType.STREAM_TIME, streamTime -> expire(streamTime - h.toMillis())));
    }

    /** The entry for {@code key} even if expired (not yet swept), to pass to {@link #remember}; null if none. */
    Remembered get(String key, long timestamp) {
        if (legacy) stampLegacy(timestamp);
        String value = byKey.get(key);
        return value == null ? null : decode(value, timestamp);
    }

    /** {@code entry} if it is younger than the horizon at {@code timestamp}, else null. */
    Remembered live(Remembered entry, long timestamp) {
        if (entry == null) return null;
        return horizon.isPresent()
                        && timestamp - entry.timestamp() >= horizon.get().toMillis()
                ? null
                : entry;
    }

    /** Remembers {@code key} for {@code firstId} from {@code timestamp} on, replacing {@code expired} if not null. */
    void remember(String key, String firstId, long timestamp, Remembered expired) {
        long at = Math.max(0, timestamp);
        if (expired == null) {
            entries++;
            metrics.dedupEntries(stage, 1);
        } else {
            byTime.delete(indexKey(expired.timestamp(), key));
            metrics.dedupExpired(stage, 1);
        }
        byKey.put(key, at + String.valueOf(SEPARATOR) + firstId);
        String indexKey = indexKey(at, key);
        byTime.put(indexKey, "");
        // A late record can land behind the sweep: the next one starts from the beginning again.
        if (sweptTo != null && indexKey.compareTo(sweptTo) < 0) sweptTo = null;
    }

    /** Deletes every entry whose timestamp is at or before {@code cutoff}, oldest first, in batches. */
    void expire(long cutoff) {
        if (cutoff < 0) return;
        String upTo = timeDigits(cutoff + 1); // below every key of cutoff + 1, above every key of cutoff
        List<String> batch = new ArrayList<>(BATCH);
        do {
            batch.clear();
            try (KeyValueIterator<String, String> it = byTime.range(sweptTo, upTo)) {
                while (it.hasNext() && batch.size() < BATCH) batch.add(it.next().key);
            }
            for (String indexKey : batch) {
                byTime.delete(indexKey);
                byKey.delete(indexKey.substring(TIME_DIGITS));
            }
            if (!batch.isEmpty()) {
                sweptTo = batch.get(batch.size() - 1);
                entries -= batch.size();
                metrics.dedupEntries(stage, -batch.size());
                metrics.dedupExpired(stage, batch.size());
            }
        } while (batch.size() == BATCH);
    }

    /** Takes this task's entries off the gauge: the task that opens the store next (here or elsewhere) counts them. */
    void close() {
        metrics.dedupEntries(stage, -entries);
        entries = 0;
    }

    /** Gives every legacy entry the timestamp {@code now} and an index entry, in batches of keys in order. */
    private void stampLegacy(long now) {
        legacy = false;
        long at = Math.max(0, now);
        String after = null;
        List<KeyValue<String, String>> batch = new ArrayList<>(BATCH);
        do {
            batch.clear();
            try (KeyValueIterator<String, String> it = byKey.range(after, null)) {
                while (it.hasNext() && batch.size() < BATCH) {
                    KeyValue<String, String> kv = it.next();
                    if (!kv.key.equals(after)) batch.add(kv);
                }
            }
            for (KeyValue<String, String> kv : batch) {
                Remembered r = decode(kv.value, at);
                byKey.put(kv.key, r.timestamp() + String.valueOf(SEPARATOR) + r.firstId());
                byTime.put(indexKey(r.timestamp(), kv.key), "");
            }
            if (!batch.isEmpty()) after = batch.get(batch.size() - 1).key;
            entries += batch.size();
            metrics.dedupEntries(stage, batch.size());
        } while (!batch.isEmpty());
    }

    /** A legacy value (a plain id) reads as remembered at {@code legacyTimestamp}. */
    private static Remembered decode(String value, long legacyTimestamp) {
        int sep = value.indexOf(SEPARATOR);
        if (sep < 0) return new Remembered(value, legacyTimestamp);
        return new Remembered(value.substring(sep + 1), Long.parseLong(value, 0, sep, 10));
    }

    private static String indexKey(long timestamp, String key) {
        return timeDigits(timestamp) + key;
    }

    /** Fixed-width hex, so the strings sort as the (non-negative) numbers do. */
    private static String timeDigits(long timestamp) {
        String hex = Long.toHexString(timestamp);
        return "0".repeat(TIME_DIGITS - hex.length()) + hex;
    }
}
