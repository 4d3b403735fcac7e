package ipt.ingest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.DataPointSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot;
import io.prometheus.metrics.model.snapshots.Labels;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import ipt.runtime.KafkaSettings;
import ipt.schemas.AvroSerde;
import ipt.schemas.RejectedDocument;
import ipt.schemas.Topics;
import ipt.testsupport.EmbeddedKafka;
import ipt.testsupport.SyntheticProse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.DoubleSupplier;
import java.util.stream.Stream;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.streams.KafkaStreams;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The dedup horizon on a real broker and real RocksDB: curation runs 300 documents a minute apart (record timestamps)
 * with a 1 h horizon, is closed, its state directory deleted, and started again: the stores rebuilt from their
 * changelogs hold one hour of entries, not 300 documents' worth, still drop a copy within the hour, and the sweep goes
 * on with the next documents.
 */
class DedupHorizonIT {
    private static final AvroSerde<RejectedDocument> REJECTIONS = AvroSerde.of(RejectedDocument.class);
    private static final long MINUTE = 60_000L;
    private static final int BANDS = MinHash.Config.defaults().bands();

    @TempDir
    Path work;

    @Test
    void theHorizonHoldsAcrossARestartOntoAnEmptyStateDirectory() throws Exception {
        // In the past: the broker refuses timestamps more than an hour ahead of its clock.
        long t0 = System.currentTimeMillis() - Duration.ofDays(2).toMillis();
        List<SyntheticProse.Doc> docs = SyntheticProse.load().documents("horizon", 420, 600, 11);
        CurationConfig config = CurationConfig.defaults().withDedupHorizon(Optional.of(Duration.ofHours(1)));
        Path state = work.resolve("streams");
        try (EmbeddedKafka broker = EmbeddedKafka.start()) {
            Map<String, Object> kafka = KafkaSettings.of(broker.bootstrapServers());
            try (Admin admin = Admin.create(kafka)) {
                // One partition: one stream time per stage, so the expected store contents are exact.
                Topics.ensure(admin, Topics.specs(1), (short) 1);
            }
            try (Outputs out = new Outputs(kafka)) {
                run(kafka, out, docs, config, state, t0);
            }
        }
    }

    /** Curation over 300 documents, closed, its state directory deleted, started again over 122 more. */
    private void run(
            Map<String, Object> kafka,
            Outputs out,
            List<SyntheticProse.Doc> docs,
            CurationConfig config,
            Path state,
            long t0)
            throws Exception {
        PrometheusRegistry first = new PrometheusRegistry();
        try (CurationService curation = CurationService.start(kafka, config, state, first);
                KafkaProducer<byte[], byte[]> producer = producer(kafka)) {
            for (int i = 0; i < 300; i++)
                send(producer, t0 + i * MINUTE, docs.get(i).json());
            producer.flush();
            out.await(300);
            // Stream time is minute 299: the hashes of minutes 240..299 are left.
            long exactKept = out.reachedDedup(docs.subList(240, 300));
            assertTrue(exactKept > 50, "most of this prose passes the quality rules: " + exactKept);
            await("exact entries", () -> value(first, "ipt_curation_dedup_entries", "exact"), exactKept);
            assertEquals(
                    out.reachedDedup(docs.subList(0, 240)), value(first, "ipt_curation_dedup_expired_total", "exact"));
            long nearKept = out.passed(docs.subList(240, 300));
            assertEquals(BANDS * nearKept, value(first, "ipt_curation_dedup_entries", "near"));
        }

        try (Stream<Path> files = Files.walk(state)) {
            files.sorted(java.util.Comparator.reverseOrder())
                    .forEach(p -> p.toFile().delete());
        }
        PrometheusRegistry second = new PrometheusRegistry();
        try (CurationService curation = CurationService.start(kafka, config, state, second);
                KafkaProducer<byte[], byte[]> producer = producer(kafka)) {
            await("running", () -> curation.state() == KafkaStreams.State.RUNNING ? 1 : 0, 1);
            // Restored from the changelogs (puts and the sweep's tombstones): one hour, as before.
            await(
                    "restored exact entries",
                    () -> value(second, "ipt_curation_dedup_entries", "exact"),
                    out.reachedDedup(docs.subList(240, 300)));
            assertEquals(
                    BANDS * out.passed(docs.subList(240, 300)), value(second, "ipt_curation_dedup_entries", "near"));

            SyntheticProse.Doc recent = docs.stream()
                    .skip(250)
                    .filter(d -> out.passedIds.contains(d.id()))
                    .findFirst()
                    .orElseThrow();
            SyntheticProse.Doc old = docs.stream()
                    .skip(100)
                    .filter(d -> out.passedIds.contains(d.id()))
                    .findFirst()
                    .orElseThrow();
            send(producer, t0 + 300 * MINUTE, copy("copy-recent", recent)); // about 50 minutes after its twin
            send(producer, t0 + 300 * MINUTE, copy("copy-old", old)); // swept before the restart
            for (int i = 300; i < 420; i++)
                send(producer, t0 + (i + 1) * MINUTE, docs.get(i).json());
            producer.flush();
            out.await(422);
            assertEquals("duplicate", out.rejections.get("copy-recent"));
            assertTrue(out.passedIds.contains("copy-old"), "a copy of a document swept out of the hour passes");
            // Stream time is minute 420: minutes 361..420 are left.
            await(
                    "exact entries after the restart",
                    () -> value(second, "ipt_curation_dedup_entries", "exact"),
                    out.reachedDedup(docs.subList(360, 420)));
            assertEquals(
                    BANDS * out.passed(docs.subList(360, 420)), value(second, "ipt_curation_dedup_entries", "near"));
        }
    }

    private static byte[] copy(String id, SyntheticProse.Doc doc) {
        return new SyntheticProse.Doc(id, doc.domain(), doc.text()).json();
    }

    private static KafkaProducer<byte[], byte[]> producer(Map<String, Object> kafka) {
        return new KafkaProducer<>(new HashMap<>(kafka), new ByteArraySerializer(), new ByteArraySerializer());
    }

    private static void send(KafkaProducer<byte[], byte[]> producer, long timestamp, byte[] json) {
        producer.send(new ProducerRecord<>(Topics.RAW.name(), null, timestamp, null, json));
    }

    private static double value(PrometheusRegistry registry, String name, String stage) {
        for (MetricSnapshot snapshot : registry.scrape()) {
            String metric = snapshot.getMetadata().getPrometheusName();
            if (!name.equals(metric) && !name.equals(metric + "_total")) continue;
            for (DataPointSnapshot point : snapshot.getDataPoints()) {
                if (!point.getLabels().equals(Labels.of("stage", stage))) continue;
                if (point instanceof GaugeSnapshot.GaugeDataPointSnapshot g) return g.getValue();
                if (point instanceof CounterSnapshot.CounterDataPointSnapshot c) return c.getValue();
            }
        }
        return Double.NaN;
    }

    private static void await(String what, DoubleSupplier value, double expected) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
        while (value.getAsDouble() != expected) {
            if (System.nanoTime() > deadline)
                throw new AssertionError(what + ": expected " + expected + ", is " + value.getAsDouble());
            Thread.sleep(100);
        }
    }

    /** Every id that reached curated or held-out, and every rejection's reason, read committed. */
    private static final class Outputs implements AutoCloseable {
        final Set<String> passedIds = new HashSet<>();
        final Map<String, String> rejections = new HashMap<>();
        private final KafkaConsumer<String, byte[]> consumer;

        Outputs(Map<String, Object> kafka) {
            Map<String, Object> props = new HashMap<>(kafka);
            props.put(ConsumerConfig.GROUP_ID_CONFIG, "dedup-horizon-it");
            props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
            props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
            consumer = new KafkaConsumer<>(props, new StringDeserializer(), new ByteArrayDeserializer());
            consumer.subscribe(List.of(Topics.CURATED.name(), Topics.HELDOUT.name(), Topics.REJECTED.name()));
        }

        void await(int total) {
            long deadline = System.nanoTime() + Duration.ofMinutes(3).toNanos();
            while (passedIds.size() + rejections.size() < total) {
                assertTrue(System.nanoTime() < deadline, "outputs: " + passedIds.size() + " + " + rejections.size());
                for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                    if (r.topic().equals(Topics.REJECTED.name())) {
                        RejectedDocument rejection = REJECTIONS.decode(r.value());
                        rejections.put(rejection.getDocumentId(), rejection.getReason());
                    } else {
                        passedIds.add(r.key());
                    }
                }
            }
            assertEquals(total, passedIds.size() + rejections.size(), "one output per document sent");
        }

        /** How many of {@code docs} got past the quality stage, so the exact store remembers their hashes. */
        long reachedDedup(List<SyntheticProse.Doc> docs) {
            return docs.stream()
                    .filter(d -> passedIds.contains(d.id())
                            || Set.of("duplicate", "near-duplicate").contains(rejections.get(d.id())))
                    .count();
        }

        @Override
        public void close() {
            consumer.close();
        }

        /** How many of {@code docs} passed every stage (so near-dup remembers their bands). */
        long passed(List<SyntheticProse.Doc> docs) {
            return docs.stream().filter(d -> passedIds.contains(d.id())).count();
        }
    }
}
