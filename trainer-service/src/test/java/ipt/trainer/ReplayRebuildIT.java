package ipt.trainer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import ipt.checkpoints.Checkpoint;
import ipt.model.ByteTokenizer;
import ipt.model.GptConfig;
import ipt.model.TrainConfig;
import ipt.runtime.DirectoryTree;
import ipt.runtime.KafkaSettings;
import ipt.schemas.AvroSerde;
import ipt.schemas.Document;
import ipt.schemas.Topics;
import ipt.testsupport.EmbeddedKafka;
import ipt.testsupport.SyntheticProse;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A trainer whose replay store is lost (its directory deleted) or damaged (a table file's bytes flipped) rebuilds it
 * from ipt.documents.curated on the real broker, to the entries the lost store held, byte for byte, and trains on.
 * Three partitions, so rounds interleave partitions and the rebuild must merge them as the trainer did.
 */
class ReplayRebuildIT {
    private static final GptConfig TINY = new GptConfig(ByteTokenizer.VOCAB_SIZE, 32, 32, 1, 2);
    private static final List<String> DOMAINS = List.of("de", "en", "fr");

    @TempDir
    Path work;

    @Test
    void aLostOrDamagedReplayStoreIsRebuiltAsItWas() throws Exception {
        try (EmbeddedKafka broker = EmbeddedKafka.start()) {
            Map<String, Object> kafka = KafkaSettings.of(broker.bootstrapServers());
            try (Admin admin = Admin.create(kafka)) {
                Topics.ensure(admin, Topics.specs(3), (short) 1);
            }
            TrainerConfig config = config("rebuild");
            List<SyntheticProse.Doc> docs = SyntheticProse.load().documents("rebuild", 60, 400, 7);
            try (KafkaProducer<String, byte[]> producer =
                    new KafkaProducer<>(kafka, new StringSerializer(), new ByteArraySerializer())) {
                publish(producer, docs.subList(0, 40), 0);
                long v = trainUntilQuiet(kafka, config, 3).version();
                byte[] lost = bytes(ReplayStore.snapshotEntries(config.replayDir(), v));

                DirectoryTree.delete(config.replayDir());
                assertEquals(v, restartAndRebuild(kafka, config).version(), "no new data: the trainer stays at v" + v);
                assertArrayEquals(lost, bytes(ReplayStore.snapshotEntries(config.replayDir(), v)), "after deletion");

                corruptTables(ReplayStore.snapshotDir(config.replayDir(), v));
                restartAndRebuild(kafka, config);
                assertArrayEquals(lost, bytes(ReplayStore.snapshotEntries(config.replayDir(), v)), "after damage");

                // The rebuilt lineage trains on from it.
                publish(producer, docs.subList(40, 60), 40);
                long after = trainUntilQuiet(kafka, config, v + 1).version();
                assertTrue(
                        ReplayStore.snapshotEntries(config.replayDir(), after).size() > 0);
            }
        }
    }

    /**
     * With one partition a round's contents are a function of the log, so a lineage that lost its replay store
     * mid-stream and rebuilt it goes on to the same checkpoint as one that never stopped: same replay entries, same
     * files (weights, AdamW state, packer tail, lineage state, documents).
     */
    @Test
    void aRebuiltLineageGoesOnAsAnUninterruptedOne() throws Exception {
        try (EmbeddedKafka broker = EmbeddedKafka.start()) {
            Map<String, Object> kafka = KafkaSettings.of(broker.bootstrapServers());
            try (Admin admin = Admin.create(kafka)) {
                Topics.ensure(admin, Topics.specs(1), (short) 1);
            }
            TrainerConfig interrupted = config("interrupted");
            TrainerConfig straight = config("straight");
            List<SyntheticProse.Doc> docs = SyntheticProse.load().documents("go-on", 30, 400, 11);
            try (KafkaProducer<String, byte[]> producer =
                    new KafkaProducer<>(kafka, new StringSerializer(), new ByteArraySerializer())) {
                publish(producer, docs.subList(0, 20), 0);
                TrainerService uninterrupted = TrainerService.start(kafka, straight, new PrometheusRegistry());
                try {
                    long v = trainUntilQuiet(kafka, interrupted, 2).version();
                    DirectoryTree.delete(interrupted.replayDir());
                    assertEquals(v, restartAndRebuild(kafka, interrupted).version());
                    publish(producer, docs.subList(20, 30), 20);
                    long end = trainUntilQuiet(kafka, interrupted, v + 1).version();
                    assertEquals(end, quiet(uninterrupted, end).version(), "both lineages end at the same version");
                    assertArrayEquals(
                            bytes(ReplayStore.snapshotEntries(straight.replayDir(), end)),
                            bytes(ReplayStore.snapshotEntries(interrupted.replayDir(), end)));
                    assertEquals(files(straight, end), files(interrupted, end));
                } finally {
                    uninterrupted.close();
                }
            }
        }
    }

    /** The sha256 of every file of the lineage's checkpoint {@code version}, by name. */
    private static Map<String, String> files(TrainerConfig config, long version) throws Exception {
        return Checkpoint.open(config.checkpointRoot().resolve(String.format("v%06d", version)))
                .manifest()
                .files();
    }

    private TrainerConfig config(String lineage) {
        TrainerConfig c = TrainerConfig.of(lineage, work, 0.25)
                .withModel(TINY, TrainConfig.defaults())
                // A long idle flush: rounds are cut only by size, never by a pause.
                .withRounds(3, 8, Duration.ofMinutes(5))
                // A partition with nothing left holds the others back briefly, so the trainer settles fast.
                .withPartitionWait(Duration.ofMillis(500));
        // A small store (about 12 sequences a domain), so reservoirs evict and shrink as domains arrive.
        c = c.with(new TrainerConfig.Replay(0.25, 3000, TrainerConfig.Replay.Policy.UNIFORM, null));
        TrainerConfig.Steering st = c.steering();
        // No evaluator here: no waiting for reports.
        return c.with(new TrainerConfig.Steering(st.floor(), 0, Duration.ZERO, st.recovery(), st.keep()));
    }

    /** Starts a trainer, waits until it commits nothing new for a while (past {@code atLeast}), stops it. */
    private static TrainerService.Status trainUntilQuiet(Map<String, Object> kafka, TrainerConfig config, long atLeast)
            throws Exception {
        TrainerService trainer = TrainerService.start(kafka, config, new PrometheusRegistry());
        try {
            return quiet(trainer, atLeast);
        } finally {
            trainer.close();
        }
    }

    /** Starts a trainer over a lost store, waits for its exact rebuild, stops it once quiet. */
    private static TrainerService.Status restartAndRebuild(Map<String, Object> kafka, TrainerConfig config)
            throws Exception {
        PrometheusRegistry registry = new PrometheusRegistry();
        TrainerService trainer = TrainerService.start(kafka, config, registry);
        try {
            long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
            while (rebuilds(registry, "exact") < 1 && System.nanoTime() < deadline) Thread.sleep(100);
            assertEquals(1.0, rebuilds(registry, "exact"), "one exact rebuild");
            assertEquals(0.0, rebuilds(registry, "inexact") + rebuilds(registry, "empty"));
            return quiet(trainer, 1);
        } finally {
            trainer.close();
        }
    }

    private static TrainerService.Status quiet(TrainerService trainer, long atLeast) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofMinutes(3).toNanos();
        long version = -1;
        long since = System.nanoTime();
        while (System.nanoTime() < deadline) {
            TrainerService.Status s = trainer.status();
            if (s.version() != version) {
                version = s.version();
                since = System.nanoTime();
            } else if (version >= atLeast
                    && System.nanoTime() - since > Duration.ofSeconds(4).toNanos()) {
                return s;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("the trainer did not settle past v" + atLeast + " (at v" + version + ")");
    }

    /** Flips bytes in the middle of every table file: RocksDB's block checksums catch it when the store opens. */
    private static void corruptTables(Path snapshot) throws IOException {
        int tables = 0;
        try (Stream<Path> files = Files.list(snapshot)) {
            for (Path f : files.filter(p -> p.toString().endsWith(".sst")).toList()) {
                try (RandomAccessFile file = new RandomAccessFile(f.toFile(), "rw")) {
                    long at = file.length() / 3;
                    for (int i = 0; i < 16; i++) {
                        file.seek(at + i);
                        int b = file.read();
                        file.seek(at + i);
                        file.write(b ^ 0xFF);
                    }
                }
                tables++;
            }
        }
        assertTrue(tables > 0, "the snapshot has table files to damage");
    }

    /** The entries as bytes: domain, version, index and tokens of each, in store order. */
    private static byte[] bytes(List<ReplayStore.Entry> entries) throws IOException {
        assertTrue(entries.size() > 0, "a replay store with entries");
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            for (ReplayStore.Entry e : entries) {
                out.writeUTF(e.domain());
                out.writeLong(e.version());
                out.writeInt(e.index());
                out.write(Packer.encodeTokens(e.tokens()));
            }
        }
        return bytes.toByteArray();
    }

    private static void publish(KafkaProducer<String, byte[]> producer, List<SyntheticProse.Doc> docs, int first) {
        AvroSerde<Document> serde = AvroSerde.of(Document.class);
        for (int i = 0; i < docs.size(); i++) {
            SyntheticProse.Doc d = docs.get(i);
            producer.send(new ProducerRecord<>(
                    Topics.CURATED.name(),
                    d.id(),
                    serde.encode(Document.newBuilder()
                            .setId(d.id())
                            .setDomain(DOMAINS.get((first + i) % DOMAINS.size()))
                            .setText(d.text())
                            .setSource("it")
                            .setIngestTime(Instant.now())
                            .setMetadata(Map.of())
                            .build())));
        }
        producer.flush();
    }

    private static double rebuilds(PrometheusRegistry registry, String outcome) {
        for (MetricSnapshot s : registry.scrape()) {
            if (s.getMetadata().getName().equals("ipt_trainer_replay_rebuilds")) {
                return ((CounterSnapshot) s)
                        .getDataPoints().stream()
                                .filter(p -> outcome.equals(p.getLabels().get("outcome")))
                                .mapToDouble(CounterSnapshot.CounterDataPointSnapshot::getValue)
                                .sum();
            }
        }
        return 0;
    }
}
