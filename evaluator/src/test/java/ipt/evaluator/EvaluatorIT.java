package ipt.evaluator;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot;
import io.prometheus.metrics.model.snapshots.HistogramSnapshot;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import ipt.checkpoints.Checkpoint;
import ipt.checkpoints.CheckpointStore;
import ipt.model.ByteTokenizer;
import ipt.model.GptConfig;
import ipt.model.TrainConfig;
import ipt.model.Training;
import ipt.runtime.KafkaSettings;
import ipt.runtime.StatusServer;
import ipt.runtime.StatusServer.Health;
import ipt.runtime.TopicReader;
import ipt.schemas.ArrivalCount;
import ipt.schemas.AvroSerde;
import ipt.schemas.CheckpointPublished;
import ipt.schemas.Decision;
import ipt.schemas.Document;
import ipt.schemas.EvaluationReport;
import ipt.schemas.TaskResult;
import ipt.schemas.Topics;
import ipt.testsupport.DemoCorpus;
import ipt.testsupport.EmbeddedKafka;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SplittableRandom;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The evaluator on the real broker, judging real checkpoints of models the test trains on Europarl: a good
 * candidate is promoted; one trained further on German alone (no replay), which forgets English past the 2%
 * budget, is rejected by the English regression rule; corrupted, NaN and out-of-store checkpoints are refused
 * as integrity failures; a manual rollback moves the champion back, shows in the history and is what the next
 * candidate is compared with. The registry is read over its HTTP API.
 */
class EvaluatorIT {
    private static final GptConfig MODEL = new GptConfig(ByteTokenizer.VOCAB_SIZE, 32, 48, 2, 2);
    private static final int HELD_OUT = 2048;
    private static final AvroSerde<EvaluationReport> REPORTS = AvroSerde.of(EvaluationReport.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Version v's round trained on v documents that arrived in second ARRIVED + v. */
    private static final long ARRIVED = Instant.now().getEpochSecond() - 60;

    @TempDir
    Path work;

    @Test
    void promotesTheGoodRejectsTheForgetfulAndTheCorruptAndRollsBackByHand() throws Exception {
        List<DemoCorpus.Text> english = DemoCorpus.europarl("en", 150_000);
        List<DemoCorpus.Text> german = DemoCorpus.europarl("de", 80_000);
        byte[] englishTraining = text(english.subList(50, english.size()));
        byte[] germanTraining = text(german.subList(10, german.size()));
        Path root = work.resolve("checkpoints");
        Path suites = Files.createDirectories(work.resolve("suites"));
        Files.write(suites.resolve("cloze.jsonl"), cloze(english.subList(10, 50)), StandardCharsets.UTF_8);

        try (EmbeddedKafka broker = EmbeddedKafka.start()) {
            Map<String, Object> kafka = KafkaSettings.of(broker.bootstrapServers());
            try (Admin admin = Admin.create(kafka)) {
                Topics.ensure(admin, Topics.specs(1), (short) 1);
            }
            PrometheusRegistry metrics = new PrometheusRegistry();
            EvaluatorService evaluator = EvaluatorService.start(
                    kafka, EvaluatorConfig.of(work, 0.02, HELD_OUT).withSuites(suites), metrics);
            try (StatusServer status = StatusServer.start(
                            "127.0.0.1",
                            0,
                            metrics,
                            evaluator::health,
                            Map.of(RegistryApi.PATH, evaluator.registryApi()));
                    KafkaProducer<String, byte[]> producer =
                            new KafkaProducer<>(kafka, new StringSerializer(), new ByteArraySerializer());
                    Training model = Training.create(MODEL, TrainConfig.defaults())) {
                String api = "http://127.0.0.1:" + status.port() + RegistryApi.PATH;
                heldOut(producer, english.subList(0, 5));

                train(model, List.of(englishTraining), 200, 3e-3f, 1);
                Checkpoint first = write(root, model, 1);
                EvaluationReport v1 = judge(kafka, producer, first);
                assertEquals(Decision.PROMOTE, v1.getDecision(), v1.getReason());
                awaitServed(root, first);
                assertEquals("first-checkpoint", v1.getDecidingRule());
                assertEquals(
                        List.of(
                                "heldout/en/loss",
                                "heldout/en/bits_per_byte",
                                "heldout/en/nats_per_char",
                                "suite/cloze/acc",
                                "suite/cloze/acc_norm"),
                        tasks(v1));

                heldOut(producer, german.subList(0, 5)); // German becomes a task: the newest domain
                train(
                        model,
                        List.of(englishTraining, germanTraining),
                        200,
                        2e-3f,
                        2); // half of every batch replays English
                Checkpoint second = write(root, model, 2);
                EvaluationReport v2 = judge(kafka, producer, second);
                assertEquals(Decision.PROMOTE, v2.getDecision(), v2.getReason());
                // Freshness: each document once, at the promotion that first serves it.
                awaitFreshness(metrics, 3, fresh(v1, 1) + fresh(v2, 2));
                awaitServed(root, second);
                assertEquals("no-regression", v2.getDecidingRule());
                assertEquals(2, v2.getSnapshotVersion());
                assertNotNull(v2.getForwardTransfer(), "German arrived while v1 was champion");
                assertEquals(
                        List.of("heldout/en", "heldout/de"),
                        v2.getForgetting().stream().map(f -> f.getTask()).toList());

                try (Training forgetful =
                        Checkpoint.open(root.resolve("main").resolve("v000002")).training(TrainConfig.defaults())) {
                    train(forgetful, List.of(germanTraining), 300, 3e-3f, 4); // the new domain only, no replay
                    EvaluationReport v3 = judge(kafka, producer, write(root, forgetful, 3));
                    assertEquals(Decision.REJECT, v3.getDecision());
                    assertEquals("regression:heldout/en/loss", v3.getDecidingRule(), v3.getReason());
                    TaskResult en = v3.getTasks().stream()
                            .filter(t -> t.getTask().equals("heldout/en"))
                            .findFirst()
                            .orElseThrow();
                    assertTrue(
                            en.getRelativeChange() > 0.02 && !en.getPassed(),
                            "English loss rose " + en.getRelativeChange());
                    assertTrue(
                            v3.getRules().stream()
                                    .anyMatch(r -> r.getRule().equals("regression:heldout/de/loss") && r.getPassed()),
                            "German improved");
                }

                Checkpoint tampered = write(root, model, 4);
                byte[] params = Files.readAllBytes(tampered.dir().resolve("model.safetensors"));
                params[params.length / 3] ^= 0x10;
                Files.write(tampered.dir().resolve("model.safetensors"), params);
                EvaluationReport v4 = judge(kafka, producer, tampered);
                assertEquals("integrity", v4.getDecidingRule());
                assertTrue(v4.getReason().startsWith("model.safetensors: sha256"), v4.getReason());

                try (Training diverged =
                        Checkpoint.open(root.resolve("main").resolve("v000002")).training(TrainConfig.defaults())) {
                    diverged.trainStep(new int[2][MODEL.contextLength() + 1], Float.NaN);
                    EvaluationReport v5 = judge(kafka, producer, write(root, diverged, 5));
                    assertEquals("integrity", v5.getDecidingRule());
                    assertTrue(v5.getReason().startsWith("non-finite weights in "), v5.getReason());
                }

                EvaluationReport v6 = judge(kafka, producer, write(work.resolve("elsewhere"), model, 6));
                assertEquals("integrity", v6.getDecidingRule());
                assertTrue(v6.getReason().contains("outside the checkpoint store"), v6.getReason());

                JsonNode champion = get(api + "/main/champion", 200);
                assertEquals(2, champion.get("version").asLong());
                assertTrue(
                        gauge(metrics, "ipt_freshness_unserved_age_seconds")
                                >= Instant.now().getEpochSecond() - ARRIVED - 3,
                        "v3..v6 trained on documents no champion serves: the oldest arrived in second ARRIVED + 3");

                ManualPromotion.promote(
                        kafka,
                        CheckpointStore.of(root.toString(), work.resolve("fetched"), Map.of()),
                        "main",
                        1,
                        "v2 answers worse in production",
                        "evaluator-it");
                EvaluationReport rollback = await(kafka, 1, "manual");
                assertEquals(2L, rollback.getChampionVersion());
                assertEquals("evaluator-it", rollback.getRequestedBy());
                awaitChampion(api, 1);
                awaitServed(root, first); // a rollback by hand is served too, before any new candidate arrives
                JsonNode history = get(api + "/main/history", 200);
                JsonNode last = history.get(history.size() - 1);
                assertEquals("manual", last.get("decidingRule").asText());
                assertEquals(
                        "v2 answers worse in production", last.get("reason").asText());
                assertEquals(List.of(1L, 2L, 3L, 4L, 5L, 6L, 1L), versions(history));

                train(model, List.of(englishTraining), 20, 1e-3f, 5);
                EvaluationReport v7 = judge(kafka, producer, write(root, model, 7));
                assertEquals(
                        1L, v7.getChampionVersion(), "the next candidate is compared with the champion rolled back to");
                // The rollback served nothing new; v7, if promoted, serves the documents of v3..v7 first.
                long servedThrough = v7.getDecision() == Decision.PROMOTE ? 7 : 2;
                double freshness = fresh(v1, 1) + fresh(v2, 2);
                for (long v = 3; v <= servedThrough; v++) freshness += fresh(v7, v);
                awaitFreshness(metrics, servedThrough * (servedThrough + 1) / 2, freshness);

                JsonNode report = get(api + "/main/versions/3/report", 200);
                assertEquals(
                        "regression:heldout/en/loss",
                        report.get("reports").get(0).get("decidingRule").asText());
                assertEquals("main", get(api, 200).get(0).get("lineage").asText());
                assertEquals(
                        "unknown-lineage",
                        get(api + "/nope/history", 404).get("error").asText());
                assertEquals(
                        "bad-version",
                        get(api + "/main/versions/two/report", 400).get("error").asText());
                HttpResponse<String> post = HttpClient.newHttpClient()
                        .send(
                                HttpRequest.newBuilder(URI.create(api))
                                        .POST(HttpRequest.BodyPublishers.noBody())
                                        .build(),
                                HttpResponse.BodyHandlers.ofString());
                assertEquals(405, post.statusCode());

                assertTrue(
                        counter(metrics, "ipt_evaluator_champion_scores", "cache") >= 4,
                        "the champion was scored once per task, then from the cache");
                assertEquals(Health.ok("evaluating"), evaluator.health());

                // A restarted evaluator reads the log again and counts none of it again: not the rollback, not v7.
                evaluator.close();
                PrometheusRegistry restarted = new PrometheusRegistry();
                evaluator = EvaluatorService.start(
                        kafka, EvaluatorConfig.of(work, 0.02, HELD_OUT).withSuites(suites), restarted);
                awaitHealthy(evaluator);
                awaitFreshness(restarted, 0, 0); // the series from the start, at 0
                train(model, List.of(englishTraining), 20, 1e-3f, 6);
                EvaluationReport v8 = judge(kafka, producer, write(root, model, 8));
                if (v8.getDecision() != Decision.PROMOTE) {
                    ManualPromotion.promote(
                            kafka,
                            CheckpointStore.of(root.toString(), work.resolve("fetched"), Map.of()),
                            "main",
                            8,
                            "serve the newest",
                            "evaluator-it");
                    v8 = await(kafka, 8, "manual");
                }
                double afterRestart = 0;
                for (long v = servedThrough + 1; v <= 8; v++) afterRestart += fresh(v8, v);
                awaitFreshness(restarted, (8 * 9 - servedThrough * (servedThrough + 1)) / 2, afterRestart);
                assertEquals(0, gauge(restarted, "ipt_freshness_unserved_age_seconds"), "every document is served");
            } finally {
                evaluator.close();
            }
        }
    }

    /**
     * Multiple-choice items: 40 characters of a speech and, as choices, the next 16 characters of it and of three
     * other speeches (the four share their choices, so only reading the context beats chance).
     */
    private static List<String> cloze(List<DemoCorpus.Text> speeches) throws Exception {
        List<String> lines = new ArrayList<>();
        for (int group = 0; group + 4 <= speeches.size(); group += 4) {
            List<String> contexts = new ArrayList<>();
            List<String> choices = new ArrayList<>();
            for (DemoCorpus.Text t : speeches.subList(group, group + 4)) {
                contexts.add(t.text().substring(60, 100));
                choices.add(t.text().substring(100, 116));
            }
            for (int i = 0; i < 4; i++)
                lines.add(JSON.writeValueAsString(Map.of("context", contexts.get(i), "choices", choices, "answer", i)));
        }
        return lines;
    }

    private static byte[] text(List<DemoCorpus.Text> texts) {
        StringBuilder all = new StringBuilder();
        for (DemoCorpus.Text t : texts) all.append(t.text()).append('\n');
        return all.toString().getBytes(StandardCharsets.UTF_8);
    }

    /** Steps on batches of random windows, row r from {@code texts[r % texts.size()]}. */
    private static void train(Training model, List<byte[]> texts, int steps, float lr, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        for (int s = 0; s < steps; s++) {
            int[][] batch = new int[16][MODEL.contextLength() + 1];
            for (int r = 0; r < batch.length; r++) {
                int[] row = batch[r];
                byte[] text = texts.get(r % texts.size());
                int at = random.nextInt(text.length - row.length);
                for (int i = 0; i < row.length; i++) row[i] = text[at + i] & 0xff;
            }
            model.trainStep(batch, lr);
        }
    }

    private static void heldOut(KafkaProducer<String, byte[]> producer, List<DemoCorpus.Text> texts) {
        AvroSerde<Document> serde = AvroSerde.of(Document.class);
        for (DemoCorpus.Text t : texts) {
            producer.send(new ProducerRecord<>(
                    Topics.HELDOUT.name(),
                    t.id(),
                    serde.encode(Document.newBuilder()
                            .setId(t.id())
                            .setDomain(t.domain())
                            .setText(t.text())
                            .setSource("it")
                            .setIngestTime(Instant.now())
                            .setMetadata(Map.of())
                            .build())));
        }
        producer.flush();
    }

    private static Checkpoint write(Path root, Training model, long version) throws Exception {
        Checkpoint.Manifest manifest = new Checkpoint.Manifest(
                Checkpoint.FORMAT_VERSION,
                "main",
                version,
                version == 1 ? null : version - 1,
                MODEL,
                model.model().architecture(),
                model.step(),
                model.step() * 16 * 32,
                Map.of("ipt.documents.curated-0", version),
                2.0,
                System.currentTimeMillis(),
                Map.of());
        return Checkpoint.write(root.resolve("main"), String.format("v%06d", version), manifest, model, Map.of());
    }

    /** Publishes the checkpoint as a trainer would and waits for the evaluator's decision on it. */
    private static EvaluationReport judge(
            Map<String, Object> kafka, KafkaProducer<String, byte[]> producer, Checkpoint c) throws Exception {
        Checkpoint.Manifest m = c.manifest();
        CheckpointPublished event = CheckpointPublished.newBuilder()
                .setLineage("main")
                .setVersion(m.version())
                .setParentVersion(m.parentVersion())
                .setLocation(c.dir().toString())
                .setSha256(c.sha256())
                .setStep(m.step())
                .setTokensSeen(m.tokensSeen())
                .setDocuments(m.version())
                .setOffsets(List.of())
                .setArrivals(List.of(new ArrivalCount(ARRIVED + m.version(), (int) m.version())))
                .setTrainLoss(m.trainLoss())
                .setCreatedAt(Instant.now())
                .build();
        producer.send(new ProducerRecord<>(
                        Topics.CHECKPOINTS.name(),
                        "main",
                        AvroSerde.of(CheckpointPublished.class).encode(event)))
                .get();
        return await(kafka, m.version(), null);
    }

    private static EvaluationReport await(Map<String, Object> kafka, long version, String rule)
            throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
        while (System.nanoTime() < deadline) {
            Optional<EvaluationReport> r = TopicReader.readAll(kafka, Topics.EVALUATIONS.name()).stream()
                    .map(x -> REPORTS.decode(x.value()))
                    .filter(x -> x.getCandidateVersion() == version
                            && (rule == null
                                    ? !x.getDecidingRule().equals("manual")
                                    : x.getDecidingRule().equals(rule)))
                    .findFirst();
            if (r.isPresent()) return r.get();
            Thread.sleep(200);
        }
        throw new AssertionError("no decision on v" + version);
    }

    /** Waits until the lineage's fixed serving location holds exactly the champion's Hugging Face files. */
    private static void awaitServed(Path root, Checkpoint champion) throws Exception {
        Path served = root.resolve("_serving").resolve("main");
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (System.nanoTime() < deadline) {
            if (Files.exists(served.resolve("model.safetensors"))
                    && Arrays.equals(
                            champion.file("model.safetensors"),
                            Files.readAllBytes(served.resolve("model.safetensors")))) {
                for (String file : List.of("config.json", "tokenizer.json", "generation_config.json"))
                    assertArrayEquals(champion.file(file), Files.readAllBytes(served.resolve(file)), file);
                assertFalse(Files.exists(served.resolve("manifest.json")), "a plain Hugging Face directory");
                return;
            }
            Thread.sleep(200);
        }
        throw new AssertionError("v" + champion.manifest().version() + " never appeared at " + served);
    }

    private static void awaitChampion(String api, long version) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (System.nanoTime() < deadline) {
            HttpResponse<String> r = HttpClient.newHttpClient()
                    .send(
                            HttpRequest.newBuilder(URI.create(api + "/main/champion"))
                                    .build(),
                            HttpResponse.BodyHandlers.ofString());
            if (r.statusCode() == 200 && JSON.readTree(r.body()).get("version").asLong() == version) return;
            Thread.sleep(200);
        }
        throw new AssertionError("the registry API never showed v" + version + " as champion");
    }

    private static JsonNode get(String url, int status) throws Exception {
        HttpResponse<String> r = HttpClient.newHttpClient()
                .send(HttpRequest.newBuilder(URI.create(url)).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(status, r.statusCode(), url + ": " + r.body());
        assertEquals("application/json", r.headers().firstValue("Content-Type").orElse(""));
        return JSON.readTree(r.body());
    }

    private static List<String> tasks(EvaluationReport r) {
        return r.getTasks().stream().map(t -> t.getTask() + "/" + t.getMetric()).toList();
    }

    private static List<Long> versions(JsonNode history) {
        List<Long> out = new ArrayList<>();
        history.forEach(r -> out.add(r.get("candidateVersion").asLong()));
        return out;
    }

    /** Seconds from the arrival of version v's documents to {@code promotion}, summed over its v documents. */
    private static double fresh(EvaluationReport promotion, long version) {
        return version * (promotion.getEvaluatedAt().toEpochMilli() - (ARRIVED + version) * 1000) / 1000.0;
    }

    /** Waits until main's freshness histogram holds {@code count} documents whose freshness sums to {@code sum}. */
    private static void awaitFreshness(PrometheusRegistry registry, long count, double sum)
            throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        HistogramSnapshot.HistogramDataPointSnapshot point = null;
        while (System.nanoTime() < deadline) {
            point = registry.scrape().stream()
                    .filter(s -> s.getMetadata().getName().equals("ipt_freshness_seconds"))
                    .flatMap(s -> ((HistogramSnapshot) s).getDataPoints().stream())
                    .filter(p -> "main".equals(p.getLabels().get("lineage")))
                    .findFirst()
                    .orElse(null);
            if (point != null && point.getCount() == count && Math.abs(point.getSum() - sum) < 1e-6) return;
            Thread.sleep(100);
        }
        throw new AssertionError("freshness of main: expected " + count + " documents summing to " + sum + " s, got "
                + (point == null ? "no series" : point.getCount() + " summing to " + point.getSum()));
    }

    private static double gauge(PrometheusRegistry registry, String name) {
        return registry.scrape().stream()
                .filter(s -> s.getMetadata().getName().equals(name))
                .flatMap(s -> ((GaugeSnapshot) s).getDataPoints().stream())
                .filter(p -> "main".equals(p.getLabels().get("lineage")))
                .mapToDouble(GaugeSnapshot.GaugeDataPointSnapshot::getValue)
                .findFirst()
                .orElse(Double.NaN);
    }

    private static void awaitHealthy(EvaluatorService evaluator) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (!evaluator.health().equals(Health.ok("evaluating")) && System.nanoTime() < deadline) Thread.sleep(100);
        assertEquals(Health.ok("evaluating"), evaluator.health());
    }

    private static double counter(PrometheusRegistry registry, String name, String source) {
        for (MetricSnapshot s : registry.scrape()) {
            if (s.getMetadata().getName().equals(name)) {
                return ((CounterSnapshot) s)
                        .getDataPoints().stream()
                                .filter(p -> source.equals(p.getLabels().get("source")))
                                .mapToDouble(CounterSnapshot.CounterDataPointSnapshot::getValue)
                                .sum();
            }
        }
        return 0;
    }
}
