package ipt.standalone;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.prometheus.metrics.model.registry.PrometheusRegistry;
import ipt.checkpoints.Checkpoint;
import ipt.evaluator.EvaluatorConfig;
import ipt.evaluator.EvaluatorService;
import ipt.runtime.DirectoryTree;
import ipt.runtime.KafkaSettings;
import ipt.schemas.AvroSerde;
import ipt.schemas.CheckpointPublished;
import ipt.schemas.Document;
import ipt.schemas.Topics;
import ipt.testsupport.ChildJvm;
import ipt.testsupport.EmbeddedKafka;
import ipt.testsupport.SyntheticProse;
import ipt.trainer.ReplayStore;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;

/**
 * `ipt train` as a child process, killed with SIGKILL at 20+ moments (random ones, and ones timed to land as a
 * checkpoint is being written) while thousands of curated documents stream in over the default number of partitions
 * (keyed by id, so spread over all of them), restarted each time, with replay
 * steered by the reports of a real evaluator judging every checkpoint. Then an uninterrupted trainer runs over the
 * same topic, steered by the same evaluator's reports on its own checkpoints. From the committed checkpoints'
 * manifests and the topic: every
 * document was trained on as new data exactly once, in the same rounds as the uninterrupted run; the replay store
 * holds no sequence twice and equals the uninterrupted run's; weights and optimizer state are bit for bit those of
 * the uninterrupted run after every round.
 */
class TrainerCrashIT {
    private static final int DOCUMENTS = 2400;
    private static final int KILLS = 20;
    private static final int HELD_OUT_BYTES = 4096;
    private static final AvroSerde<Document> DOCUMENT = AvroSerde.of(Document.class);
    private static final AvroSerde<CheckpointPublished> CHECKPOINT = AvroSerde.of(CheckpointPublished.class);

    /** Kept after the run (under target/) for whoever has to find out why it failed; cleaned at the start. */
    private final Path work = Path.of("target", "trainer-crash-it").toAbsolutePath();

    @Test
    void aTrainerKilledTwentyTimesTrainsEveryDocumentOnceAndEndsWhereAnUninterruptedOneEnds() throws Exception {
        DirectoryTree.delete(work);
        Files.createDirectories(work);
        List<SyntheticProse.Doc> docs = SyntheticProse.load().documents("crash", DOCUMENTS, 300, 11);
        try (EmbeddedKafka broker = EmbeddedKafka.start()) {
            Map<String, Object> kafka = KafkaSettings.of(broker.bootstrapServers());
            try (Admin admin = Admin.create(kafka)) {
                // The default partitioning: both runs cut their rounds at the same records only because the trainer
                // merges the partitions in an order that depends on the log, not on how its polls interleave them.
                Topics.ensure(admin, Topics.specs(Topics.DEFAULT_DOCUMENT_PARTITIONS), (short) 1);
            }
            publishHeldOut(kafka);
            // The evaluator reads the checkpoints where the trainers keep them (their data dir's store).
            EvaluatorService evaluator = EvaluatorService.start(
                    kafka,
                    EvaluatorConfig.fromEnv(Map.of(
                            "IPT_DATA_DIR",
                            work.resolve("evaluator").toString(),
                            "IPT_CHECKPOINT_STORE",
                            work.resolve("data").resolve("checkpoints").toString(),
                            "IPT_HELDOUT_TOKENS_PER_DOMAIN",
                            String.valueOf(HELD_OUT_BYTES),
                            "IPT_RETAIN_LAST", // every checkpoint kept: the test compares them all
                            String.valueOf(Integer.MAX_VALUE))),
                    new PrometheusRegistry());
            Thread stream = new Thread(() -> publishSlowly(kafka, docs), "stream");
            stream.start();

            Path data = work.resolve("data");
            Path checkpoints = data.resolve("checkpoints").resolve("crash");
            SplittableRandom random = new SplittableRandom(2026);
            List<String> kills = new ArrayList<>();
            for (int k = 0; k < KILLS; k++) {
                Path log = work.resolve("crash-" + k + ".log");
                Process trainer = trainer("crash", data, log, broker);
                awaitLog(log, "resumed from checkpoint|starting fresh", trainer);
                if (k % 2 == 0) {
                    Thread.sleep(random.nextLong(200, 2500));
                } else {
                    awaitCheckpointWrite(checkpoints, trainer); // then lands mid-write or between write and commit
                    Thread.sleep(random.nextLong(0, 12));
                }
                trainer.destroyForcibly(); // SIGKILL
                trainer.waitFor();
                kills.add("kill " + (k + 1) + " after "
                        + lastLine(log, "round v\\d+ committed").replaceAll(".*(round v\\d+) committed.*", "$1"));
            }
            stream.join();
            Path finalLog = work.resolve("crash-final.log");
            Process last = trainer("crash", data, finalLog, broker);
            awaitCommitted(kafka, "crash", DOCUMENTS, last);
            last.destroy();
            assertTrue(last.waitFor(60, TimeUnit.SECONDS));

            Process reference = trainer("reference", data, work.resolve("reference.log"), broker);
            awaitCommitted(kafka, "reference", DOCUMENTS, reference);
            reference.destroy();
            assertTrue(reference.waitFor(60, TimeUnit.SECONDS));

            // Where each kill landed, from what the next start had to clean up.
            Map<String, Integer> landed = new TreeMap<>();
            for (int k = 1; k <= KILLS; k++) {
                Path next = k == KILLS ? finalLog : work.resolve("crash-" + k + ".log");
                String removed = lastLine(next, "removed checkpoint directories");
                String phase = removed.contains(".v")
                        ? "mid checkpoint write"
                        : java.util.regex.Pattern.compile("[\\[ ]v\\d{6}[,\\]]")
                                        .matcher(removed)
                                        .find()
                                ? "checkpoint written, not committed"
                                : "mid round";
                landed.merge(phase, 1, Integer::sum);
                kills.set(k - 1, kills.get(k - 1) + ": " + phase);
            }
            System.out.println("trainer kills:\n  " + String.join("\n  ", kills) + "\nlanded: " + landed);
            assertTrue(
                    landed.getOrDefault("mid round", 0) >= 1 && landed.size() >= 2,
                    "kills landed in different phases: " + landed);

            Map<Long, CheckpointPublished> crash = committed(kafka, "crash");
            Map<Long, CheckpointPublished> uninterrupted = committed(kafka, "reference");
            List<String> topic = docs.stream().map(SyntheticProse.Doc::id).toList();
            List<String> trained = new ArrayList<>();
            for (CheckpointPublished c : crash.values()) {
                List<String> ids = Files.readAllLines(
                                Path.of(c.getLocation()).resolve("documents.txt"), StandardCharsets.UTF_8)
                        .stream()
                        .filter(s -> !s.isEmpty())
                        .toList();
                assertEquals(c.getDocuments(), ids.size(), "v" + c.getVersion() + " lists the documents it counts");
                assertEquals(
                        c.getDocuments(),
                        c.getArrivals().stream()
                                .mapToLong(a -> a.getDocuments())
                                .sum(),
                        "v" + c.getVersion() + " carries the arrival of each of its documents, once");
                trained.addAll(ids);
            }
            assertEquals(
                    topic.size(),
                    trained.size(),
                    "documents trained on as new data, over " + crash.size() + " committed rounds");
            assertEquals(new HashSet<>(topic), new HashSet<>(trained), "every curated document, each once");

            assertEquals(uninterrupted.keySet(), crash.keySet(), "the same rounds");
            for (long v : crash.keySet()) {
                Checkpoint a = Checkpoint.open(Path.of(crash.get(v).getLocation()));
                Checkpoint b = Checkpoint.open(Path.of(uninterrupted.get(v).getLocation()));
                for (String file : List.of(
                        "documents.txt",
                        "packer-tail.bin",
                        "trainer-state.properties",
                        "config.json",
                        "model.safetensors",
                        "optimizer.bin")) {
                    assertEquals(
                            b.manifest().files().get(file), a.manifest().files().get(file), file + " of round v" + v);
                }
                assertEquals(b.manifest().step(), a.manifest().step(), "step of v" + v);
            }
            System.out.printf(
                    "weights and optimizer state bit-identical to the uninterrupted run's in all %d rounds%n",
                    crash.size());

            long version = crash.size();
            List<ReplayStore.Entry> replay =
                    ReplayStore.snapshotEntries(data.resolve("replay").resolve("crash"), version);
            List<ReplayStore.Entry> replayReference =
                    ReplayStore.snapshotEntries(data.resolve("replay").resolve("reference"), version);
            Set<String> keys = new HashSet<>();
            for (ReplayStore.Entry e : replay) {
                assertTrue(
                        keys.add(e.version() + "/" + e.index()),
                        "sequence " + e.version() + "/" + e.index() + " stored twice");
                assertTrue(e.version() >= 1 && e.version() <= version, "entry of an uncommitted round v" + e.version());
            }
            assertEquals(describe(replayReference), describe(replay), "the same replay store");
            evaluator.close();
            Properties state = new Properties();
            state.load(new java.io.ByteArrayInputStream(
                    Checkpoint.open(Path.of(crash.get(version).getLocation())).file("trainer-state.properties")));
            assertEquals(
                    "0",
                    state.getProperty("timedOutWaits"),
                    "every round had its reports in time (else resume may differ): " + state);
            assertEquals(
                    String.valueOf(version - 1),
                    state.getProperty("evaluatedThrough"),
                    "steered by the reports through v" + (version - 1));
            assertTrue(
                    state.getProperty("replayShares").contains("en:")
                            && state.getProperty("replayShares").contains("de:"),
                    state.toString());
            System.out.println("lineage state of v" + version + ": " + state);
            System.out.printf(
                    "%d documents in %d rounds to step %d; replay store %d sequences, no duplicates, "
                            + "identical to the uninterrupted"
                            + " run's%n",
                    trained.size(),
                    crash.size(),
                    Checkpoint.open(Path.of(crash.get(version).getLocation()))
                            .manifest()
                            .step(),
                    replay.size());
        }
    }

    private static List<String> describe(List<ReplayStore.Entry> entries) {
        return entries.stream()
                .map(e ->
                        e.domain() + "/" + e.version() + "/" + e.index() + "/" + java.util.Arrays.hashCode(e.tokens()))
                .toList();
    }

    /** Held-out text of both domains, before any training, so both are tasks from the first checkpoint on. */
    private static void publishHeldOut(Map<String, Object> kafka) {
        try (KafkaProducer<String, byte[]> producer =
                new KafkaProducer<>(kafka, new StringSerializer(), new ByteArraySerializer())) {
            List<SyntheticProse.Doc> held =
                    SyntheticProse.load().documents("heldout", 2 * HELD_OUT_BYTES / 300 + 4, 300, 12);
            for (int i = 0; i < held.size(); i++) {
                SyntheticProse.Doc d = held.get(i);
                Document doc = Document.newBuilder()
                        .setId(d.id())
                        .setDomain(i % 2 == 1 ? "de" : "en")
                        .setText(d.text())
                        .setSource("crash-it")
                        .setIngestTime(Instant.EPOCH)
                        .setMetadata(Map.of())
                        .build();
                producer.send(new ProducerRecord<>(Topics.HELDOUT.name(), "heldout", DOCUMENT.encode(doc)));
            }
            producer.flush();
        }
    }

    /** Curated documents, as the curation service would write them, about 60 a second. */
    private static void publishSlowly(Map<String, Object> kafka, List<SyntheticProse.Doc> docs) {
        try (KafkaProducer<String, byte[]> producer =
                new KafkaProducer<>(kafka, new StringSerializer(), new ByteArraySerializer())) {
            for (int i = 0; i < docs.size(); i++) {
                SyntheticProse.Doc d = docs.get(i);
                Document doc = Document.newBuilder()
                        .setId(d.id())
                        .setDomain(i % 3 == 2 ? "de" : d.domain())
                        .setText(d.text())
                        .setSource("crash-it")
                        .setIngestTime(Instant.EPOCH)
                        .setMetadata(Map.of())
                        .build();
                producer.send(new ProducerRecord<>(Topics.CURATED.name(), d.id(), DOCUMENT.encode(doc)));
                if (i % 30 == 29) {
                    producer.flush();
                    Thread.sleep(500);
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private Process trainer(String lineage, Path data, Path log, EmbeddedKafka broker) throws Exception {
        Map<String, String> env = new HashMap<>();
        env.put("KAFKA_BOOTSTRAP_SERVERS", broker.bootstrapServers());
        env.put("IPT_STATUS_PORT", "0");
        env.put("IPT_LINEAGE", lineage);
        env.put("IPT_DATA_DIR", data.toString());
        env.put("IPT_CONTEXT_LENGTH", "32");
        env.put("IPT_D_MODEL", "32");
        env.put("IPT_LAYERS", "1");
        env.put("IPT_HEADS", "2");
        env.put("IPT_STEPS_PER_ROUND", "20");
        env.put("IPT_BATCH_SIZE", "8");
        env.put("IPT_REPLAY_FRACTION", "0.25");
        // Replay steered by the evaluator's reports: the mixture and the fraction (up to 0.5) follow measured
        // forgetting.
        env.put("IPT_REPLAY_POLICY", "steered");
        env.put("IPT_REPLAY_GAIN", "5");
        env.put("IPT_REPLAY_CAPACITY_MB", "0.05"); // ~640 sequences: reservoirs fill early and then replace
        // Only the end of the stream goes quiet this long, so both runs cut their rounds at the same records. No
        // partition goes without records for the default IPT_PARTITION_WAIT_SECONDS (10) before the stream's end.
        env.put("IPT_IDLE_FLUSH_SECONDS", "15");
        return ChildJvm.service(Ipt.class.getName(), 1024, "train").withEnv(env).start(log);
    }

    static void awaitLog(Path log, String pattern, Process p) throws Exception {
        long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
        while (lastLine(log, pattern).isEmpty()) {
            assertTrue(
                    p.isAlive() && System.nanoTime() < deadline,
                    "trainer never logged /" + pattern + "/: " + Files.readString(log));
            Thread.sleep(20);
        }
    }

    /** Waits for a checkpoint's temporary directory to appear. */
    private static void awaitCheckpointWrite(Path checkpoints, Process p) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (p.isAlive() && System.nanoTime() < deadline) {
            if (Files.isDirectory(checkpoints)) {
                try (Stream<Path> entries = Files.list(checkpoints)) {
                    if (entries.anyMatch(e -> e.getFileName().toString().startsWith(".v"))) return;
                } catch (java.io.UncheckedIOException | java.nio.file.NoSuchFileException raced) {
                    // a directory renamed while listed: look again
                }
            }
            Thread.onSpinWait();
        }
    }

    static String lastLine(Path log, String regex) throws Exception {
        if (!Files.exists(log)) return "";
        java.util.regex.Pattern p = java.util.regex.Pattern.compile(regex);
        String found = "";
        for (String line : Files.readAllLines(log, StandardCharsets.UTF_8))
            if (p.matcher(line).find()) found = line;
        return found;
    }

    private static void awaitCommitted(Map<String, Object> kafka, String lineage, int documents, Process p)
            throws Exception {
        // Each round waits for the evaluator's report on the one before: on a loaded machine that takes a while.
        long deadline = System.nanoTime() + Duration.ofMinutes(15).toNanos();
        while (committed(kafka, lineage).values().stream()
                        .mapToLong(CheckpointPublished::getDocuments)
                        .sum()
                < documents) {
            assertTrue(p.isAlive() && System.nanoTime() < deadline, lineage + " did not commit all documents in time");
            Thread.sleep(1000);
        }
    }

    /** The lineage's committed checkpoints by version, each once. */
    static Map<Long, CheckpointPublished> committed(Map<String, Object> kafka, String lineage) {
        Map<Long, CheckpointPublished> out = new LinkedHashMap<>();
        Map<Long, Integer> seen = new HashMap<>();
        for (byte[] value : PipelineIT.read(kafka, Topics.CHECKPOINTS.name())) {
            CheckpointPublished c = CHECKPOINT.decode(value);
            if (!c.getLineage().equals(lineage)) continue;
            seen.merge(c.getVersion(), 1, Integer::sum);
            out.put(c.getVersion(), c);
        }
        seen.forEach((v, n) -> assertEquals(1, n, lineage + " v" + v + " committed " + n + " times"));
        Map<Long, CheckpointPublished> sorted = new TreeMap<>(Comparator.naturalOrder());
        sorted.putAll(out);
        return sorted;
    }
}
