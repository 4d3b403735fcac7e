package ipt.ingest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.DataPointSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.processor.api.MockProcessorContext;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.Stores;
import org.junit.jupiter.api.Test;

class DedupMemoryTest {
    private static final long T0 = 1_767_225_600_000L;
    private static final long MINUTE = 60_000L;

    private final MockProcessorContext<Object, Object> context = new MockProcessorContext<>();
    private final PrometheusRegistry registry = new PrometheusRegistry();

    private KeyValueStore<String, String> store(String name) {
        KeyValueStore<String, String> store = Stores.keyValueStoreBuilder(
                        Stores.inMemoryKeyValueStore(name), Serdes.String(), Serdes.String())
                .withLoggingDisabled() // the mock context has no changelog
                .build();
        store.init(context.getStateStoreContext(), store);
        context.addStateStore(store);
        return store;
    }

    @Test
    void stateWrittenBeforeTimestampsIsStampedWithTheFirstRecordsAndExpiresOneHorizonLater() {
        KeyValueStore<String, String> byKey = store("hashes");
        KeyValueStore<String, String> byTime = store("hashes-by-time");
        // The format before the horizon: the first id alone, no index.
        byKey.put("h1", "legacy-1");
        byKey.put("h2", "legacy-2");
        DedupMemory memory =
                new DedupMemory("hashes", "exact", Optional.of(Duration.ofHours(1)), new CurationMetrics(registry));
        memory.init(context);

        assertEquals(new DedupMemory.Remembered("legacy-1", T0), memory.get("h1", T0));
        assertEquals(List.of(T0 + "\0legacy-1", T0 + "\0legacy-2"), values(byKey));
        assertEquals(2, values(byTime).size());
        memory.remember("h3", "new", T0 + 30 * MINUTE, null);
        assertEquals(3.0, value("ipt_curation_dedup_entries"));

        context.scheduledPunctuators().get(0).getPunctuator().punctuate(T0 + 60 * MINUTE);
        assertNull(memory.get("h1", T0 + 60 * MINUTE));
        assertEquals(List.of((T0 + 30 * MINUTE) + "\0new"), values(byKey));
        assertEquals(1, values(byTime).size());
        assertEquals(1.0, value("ipt_curation_dedup_entries"));
        assertEquals(2.0, value("ipt_curation_dedup_expired"));
        memory.close();
        assertEquals(0.0, value("ipt_curation_dedup_entries"), "another task counts them once it opens the store");
    }

    @Test
    void aLateRecordBehindTheSweepIsSweptToo() {
        KeyValueStore<String, String> byKey = store("bands");
        store("bands-by-time");
        DedupMemory memory =
                new DedupMemory("bands", "near", Optional.of(Duration.ofHours(1)), new CurationMetrics(registry));
        memory.init(context);
        memory.remember("b1", "early", T0, null);
        memory.expire(T0); // sweeps b1, remembers where it stopped
        memory.remember("b2", "late", T0 - MINUTE, null);
        memory.expire(T0 + MINUTE);
        assertEquals(List.of(), values(byKey));
    }

    @Test
    void theSweepRunsEverySixtiethOfTheHorizonBetweenASecondAndAMinute() {
        assertEquals(Duration.ofMinutes(1), DedupMemory.sweepInterval(Duration.ofDays(30)));
        assertEquals(Duration.ofSeconds(30), DedupMemory.sweepInterval(Duration.ofMinutes(30)));
        assertEquals(Duration.ofSeconds(1), DedupMemory.sweepInterval(Duration.ofSeconds(10)));
    }

    private static List<String> values(KeyValueStore<String, String> store) {
        List<String> out = new ArrayList<>();
        try (KeyValueIterator<String, String> it = store.all()) {
            it.forEachRemaining(kv -> out.add(kv.value));
        }
        return out;
    }

    private double value(String name) {
        for (MetricSnapshot snapshot : registry.scrape()) {
            if (!snapshot.getMetadata().getName().equals(name)) continue;
            for (DataPointSnapshot point : snapshot.getDataPoints()) {
                if (point instanceof GaugeSnapshot.GaugeDataPointSnapshot g) return g.getValue();
                if (point instanceof CounterSnapshot.CounterDataPointSnapshot c) return c.getValue();
            }
        }
        return Double.NaN;
    }
}
