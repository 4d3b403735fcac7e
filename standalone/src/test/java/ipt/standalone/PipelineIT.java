package ipt.standalone;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ipt.checkpoints.RetentionPolicy;
import ipt.evaluator.EvaluatorConfig;
import ipt.ingest.CurationConfig;
import ipt.ingest.DocumentPublisher;
import ipt.ingest.FileLoader;
import ipt.ingest.LoadReport;
import ipt.model.ByteTokenizer;
import ipt.model.GptConfig;
import ipt.model.TrainConfig;
import ipt.schemas.AvroSerde;
import ipt.schemas.CheckpointPublished;
import ipt.schemas.Decision;
import ipt.schemas.Document;
import ipt.schemas.EvaluationReport;
import ipt.schemas.Promotion;
import ipt.schemas.Topics;
import ipt.testsupport.DemoCorpus;
import ipt.testsupport.EmbeddedKafka;
import ipt.trainer.TrainerConfig;
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
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A few hundred real documents through the real services on a real broker: curation, a trainer
 * with replay, the evaluator. Checks the exactly-once accounting end to end.
 */
class PipelineIT {
    private static final GptConfig TINY = new GptConfig(ByteTokenizer.VOCAB_SIZE, 32, 32, 1, 2);

    @TempDir
    Path work;

    @Test
    void documentsFlowThroughCurationTrainingAndEvaluationExactlyOnce() throws Exception {
        List<DemoCorpus.Text> texts = new ArrayList<>(DemoCorpus.europarl("en", 120_000));
        texts.addAll(DemoCorpus.java(120_000));
        TrainerConfig trainer = TrainerConfig.of("it", work, 0.25)
                .withRounds(10, 8, Duration.ofSeconds(1))
                .withPartitionWait(Duration.ofSeconds(1))
                .withModel(TINY, TrainConfig.defaults());
        int published;
        try (EmbeddedKafka kafka = EmbeddedKafka.start();
                LocalPipeline pipeline = new LocalPipeline(
                        kafka.bootstrapServers(),
                        work,
                        CurationConfig.defaults().withHeldoutFraction(0.1),
                        List.of(trainer),
                        EvaluatorConfig.of(work, 0.5, 16 * 33)
                                // Retention keeps every checkpoint: the test reads them all.
                                .with(new RetentionPolicy(Integer.MAX_VALUE, 10, 2)));
                DocumentPublisher publisher = new DocumentPublisher(pipeline.kafka())) {
            long sentAt = System.currentTimeMillis(); // no document arrives before
            List<CompletableFuture<?>> acks = new ArrayList<>();
            for (DemoCorpus.Text t : texts) {
                acks.add(publisher.send(Document.newBuilder()
                        .setId(t.id())
                        .setDomain(t.domain())
                        .setText(t.text())
                        .setSource("it")
                        .setIngestTime(Instant.now())
                        .setMetadata(Map.of())
                        .build()));
            }
            // A re-sent document (a retry) and two bad records: neither may reach training.
            DemoCorpus.Text first = texts.get(0);
            acks.add(publisher.send(Document.newBuilder()
                    .setId(first.id() + "-retry")
                    .setDomain(first.domain())
                    .setText(first.text())
                    .setSource("it")
                    .setIngestTime(Instant.now())
                    .setMetadata(Map.of())
                    .build()));
            CompletableFuture.allOf(acks.toArray(new CompletableFuture[0])).get();
            try (KafkaProducer<byte[], byte[]> raw =
                    new KafkaProducer<>(pipeline.kafka(), new ByteArraySerializer(), new ByteArraySerializer())) {
                raw.send(new ProducerRecord<>(
                                Topics.RAW.name(), "{\"id\": \"broken\", \"text\": ".getBytes(StandardCharsets.UTF_8)))
                        .get();
                raw.send(new ProducerRecord<>(
                                Topics.RAW.name(), new byte[] {(byte) 0xC3, 0x01, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}))
                        .get();
            }
            // The file loader: bad lines are reported with their line numbers and skipped, the rest is published.
            Path jsonl = work.resolve("mixed.jsonl");
            try (var out = Files.newOutputStream(jsonl)) {
                out.write(("{\"id\": \"file-1\", \"text\": \"Le Parlement a adopté la résolution sur la pêche "
                                + "après un long débat. Les députés"
                                + " ont demandé à la Commission de présenter un rapport sur les "
                                + "résultats du programme avant la fin de l'année prochaine.\"}\n"
                                + "{\"id\": \"file-2\", \"text\": \"broken\n"
                                + "{\"id\": \"file-3\", \"text\": \"")
                        .getBytes(StandardCharsets.UTF_8));
                out.write(new byte[] {(byte) 0xC3, 0x28});
                out.write(("\"}\n"
                                + "{\"id\": \"file-4\", \"text\": \"   \"}\n"
                                + "{\"id\": \"file-5\", \"domain\": \"de\", \"text\": \"Die Sitzung ist "
                                + "eröffnet und wir kommen zur Abstimmung über den"
                                + " Bericht des Ausschusses für Fischerei. Die Berichterstatterin hat um "
                                + "das Wort gebeten, um einige Änderungen zu erläutern.\"}\n")
                        .getBytes(StandardCharsets.UTF_8));
            }
            LoadReport loaded = new FileLoader(publisher, "fr").load(jsonl);
            assertEquals(2, loaded.published());
            assertEquals(
                    List.of(2L, 3L, 4L),
                    loaded.problems().stream().map(LoadReport.Problem::line).toList(),
                    loaded.problems().toString());
            // The HTTP ingest API: answered 202 only after Kafka acknowledged the document.
            HttpResponse<String> posted = HttpClient.newHttpClient()
                    .send(
                            HttpRequest.newBuilder(pipeline.ingestApiUrl().resolve("/v1/documents"))
                                    .header("Authorization", "Bearer " + pipeline.ingestToken())
                                    .header("Content-Type", "application/json")
                                    .POST(HttpRequest.BodyPublishers.ofString(
                                            "{\"id\": \"http-1\", \"domain\": \"en\", \"text\": "
                                                    + "\"The committee on fisheries"
                                                    + " adopted its opinion on the new quotas after "
                                                    + "a long debate, and asked the commission to publish "
                                                    + "the scientific advice"
                                                    + " on which the proposal is based before the "
                                                    + "vote in plenary next month.\"}"))
                                    .build(),
                            HttpResponse.BodyHandlers.ofString());
            assertEquals(202, posted.statusCode(), posted.body());
            long ackedAt = System.currentTimeMillis(); // every document arrived before
            published = acks.size() + 2 + 2 + 1;
            pipeline.awaitSettled(Duration.ofMinutes(8));

            // Every service answers /healthz and /metrics; the trainer's and evaluator's metrics saw the work.
            HttpClient http = HttpClient.newHttpClient();
            String metrics = "";
            for (var service : pipeline.statusPorts().entrySet()) {
                String base = "http://127.0.0.1:" + service.getValue();
                HttpResponse<String> health = http.send(
                        HttpRequest.newBuilder(URI.create(base + "/healthz")).build(),
                        HttpResponse.BodyHandlers.ofString());
                assertEquals(200, health.statusCode(), service.getKey() + ": " + health.body());
                metrics += http.send(
                                HttpRequest.newBuilder(URI.create(base + "/metrics"))
                                        .build(),
                                HttpResponse.BodyHandlers.ofString())
                        .body();
            }
            assertTrue(metrics.contains("ipt_trainer_steps_total{lineage=\"it\"}"), "trainer metrics exported");
            assertTrue(
                    metrics.contains("ipt_trainer_checkpoint_write_seconds_count{lineage=\"it\"}"),
                    "checkpoint write time exported");
            assertTrue(metrics.contains("ipt_trainer_consumer_lag_records{lineage=\"it\"}"), "consumer lag exported");
            assertTrue(metrics.contains("ipt_http_requests_total"), "ingest API metrics exported");
            assertTrue(
                    metrics.contains("ipt_curation_latency_seconds_count{topic=\"ipt.documents.curated\"}"),
                    "curation latency exported");
            assertTrue(metrics.contains("ipt_evaluator_evaluations_total"), "evaluator metrics exported");
            assertTrue(metrics.contains("ipt_curation_rejected_total"), "curation metrics exported");

            Map<String, Object> kafkaProps = pipeline.kafka();
            List<Document> curated = read(kafkaProps, Topics.CURATED.name()).stream()
                    .map(AvroSerde.of(Document.class)::decode)
                    .toList();
            List<Document> heldOut = read(kafkaProps, Topics.HELDOUT.name()).stream()
                    .map(AvroSerde.of(Document.class)::decode)
                    .toList();
            int rejected = read(kafkaProps, Topics.REJECTED.name()).size();
            List<CheckpointPublished> checkpoints = read(kafkaProps, Topics.CHECKPOINTS.name()).stream()
                    .map(AvroSerde.of(CheckpointPublished.class)::decode)
                    .toList();
            List<EvaluationReport> reports = read(kafkaProps, Topics.EVALUATIONS.name()).stream()
                    .map(AvroSerde.of(EvaluationReport.class)::decode)
                    .toList();
            List<Promotion> promotions = read(kafkaProps, Topics.PROMOTIONS.name()).stream()
                    .map(AvroSerde.of(Promotion.class)::decode)
                    .toList();

            assertEquals(
                    published,
                    curated.size() + heldOut.size() + rejected,
                    "every raw record is curated, held out or rejected");
            assertTrue(rejected >= 3, "duplicate and both bad records are rejected, got " + rejected);
            assertFalse(heldOut.isEmpty(), "some documents are held out");

            assertTrue(checkpoints.size() >= 2, "at least two checkpoints, got " + checkpoints.size());
            assertEquals(checkpoints.size(), reports.size(), "every checkpoint is evaluated exactly once");
            assertTrue(reports.stream().anyMatch(r -> r.getDecision() == Decision.PROMOTE), "at least one promotion");
            assertFalse(promotions.isEmpty());

            long trainedDocuments = checkpoints.stream()
                    .mapToLong(CheckpointPublished::getDocuments)
                    .sum();
            assertEquals(curated.size(), trainedDocuments, "curated documents == documents the trainer committed");

            List<String> trainedIds = new ArrayList<>();
            for (CheckpointPublished c : checkpoints) {
                for (String id : Files.readAllLines(Path.of(c.getLocation()).resolve("documents.txt")))
                    if (!id.isBlank()) trainedIds.add(id);
            }
            Set<String> curatedIds = new HashSet<>();
            curated.forEach(d -> curatedIds.add(d.getId()));
            assertEquals(curated.size(), trainedIds.size(), "no document trained twice");
            assertEquals(curatedIds, new HashSet<>(trainedIds), "the trained ids are exactly the curated ids");
            Set<String> arrived = new HashSet<>(curatedIds);
            heldOut.forEach(d -> arrived.add(d.getId()));
            assertTrue(
                    arrived.containsAll(List.of("file-1", "file-5", "http-1")),
                    "the file loader's good lines and the HTTP document arrive");
            for (Document h : heldOut)
                assertFalse(trainedIds.contains(h.getId()), "held-out document " + h.getId() + " was trained on");

            assertFreshness(
                    kafkaProps,
                    checkpoints,
                    reports,
                    sentAt,
                    ackedAt,
                    pipeline.statusPorts().get("evaluator"));
        }
    }

    /**
     * Arrival is the raw record's timestamp, kept by curation on the curated record and counted by the trainer into
     * each checkpoint; the evaluator's ipt_freshness_seconds holds exactly the documents of the promoted versions, each
     * at the promotion that first served it minus its arrival second, and that lies within what the test measured.
     */
    private static void assertFreshness(
            Map<String, Object> kafka,
            List<CheckpointPublished> checkpoints,
            List<EvaluationReport> reports,
            long sentAt,
            long ackedAt,
            int evaluatorPort)
            throws Exception {
        Map<String, Long> rawArrival = new HashMap<>();
        for (ConsumerRecord<byte[], byte[]> r : records(kafka, Topics.RAW.name()))
            if (r.key() != null) rawArrival.put(new String(r.key(), StandardCharsets.UTF_8), r.timestamp());
        Map<String, Long> arrival = new HashMap<>();
        for (ConsumerRecord<byte[], byte[]> r : records(kafka, Topics.CURATED.name())) {
            String id = new String(r.key(), StandardCharsets.UTF_8);
            assertEquals(rawArrival.get(id), r.timestamp(), "curated " + id + " keeps the raw record's timestamp");
            assertTrue(sentAt <= r.timestamp() && r.timestamp() <= ackedAt, id + " arrived while the test sent");
            arrival.put(id, r.timestamp());
        }
        long served = 0;
        double sum = 0, least = 0, most = 0;
        for (CheckpointPublished c : checkpoints) {
            Map<Long, Integer> seconds = new java.util.TreeMap<>();
            for (String id : Files.readAllLines(Path.of(c.getLocation()).resolve("documents.txt")))
                if (!id.isBlank()) seconds.merge(Math.floorDiv(arrival.get(id), 1000), 1, Integer::sum);
            assertEquals(
                    seconds,
                    c.getArrivals().stream()
                            .collect(java.util.stream.Collectors.toMap(a -> a.getSecond(), a -> a.getDocuments())),
                    "v" + c.getVersion() + " carries when each of its documents arrived");
            // Served first by the first promotion of this version or a later one.
            EvaluationReport promotion = reports.stream()
                    .filter(r -> r.getDecision() == Decision.PROMOTE && r.getCandidateVersion() >= c.getVersion())
                    .findFirst()
                    .orElse(null);
            if (promotion == null) continue;
            long promotedAt = promotion.getEvaluatedAt().toEpochMilli();
            for (Map.Entry<Long, Integer> e : seconds.entrySet()) {
                served += e.getValue();
                sum += e.getValue() * (promotedAt - e.getKey() * 1000) / 1000.0;
                least += e.getValue() * (promotedAt - ackedAt) / 1000.0;
                most += e.getValue() * ((promotedAt - sentAt) / 1000.0 + 1);
            }
        }
        assertTrue(served > 0, "a promotion served documents");
        // The evaluator observes right after the promotion's transaction commits, which the test may read first.
        String metrics;
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        do {
            metrics = HttpClient.newHttpClient()
                    .send(
                            HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + evaluatorPort + "/metrics"))
                                    .build(),
                            HttpResponse.BodyHandlers.ofString())
                    .body();
            if (metrics.contains("ipt_freshness_seconds_count{lineage=\"it\"} ")
                    && metric(metrics, "ipt_freshness_seconds_count") >= served) break;
            Thread.sleep(200);
        } while (System.nanoTime() < deadline);
        assertEquals(served, (long) metric(metrics, "ipt_freshness_seconds_count"), "every served document once");
        double observed = metric(metrics, "ipt_freshness_seconds_sum");
        assertEquals(sum, observed, 1e-6 * sum + 1e-3, "promotion minus arrival second, summed");
        assertTrue(
                least <= observed && observed <= most,
                "freshness summed " + observed + " s: at least " + least + " s (arrived before the test's last ack), at"
                        + " most " + most + " s (not before its first send)");
    }

    private static double metric(String exposition, String name) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("(?m)^" + name + "\\{lineage=\"it\"\\} (\\S+)$")
                .matcher(exposition);
        assertTrue(m.find(), name + " exported");
        return Double.parseDouble(m.group(1));
    }

    /** Every committed record's value of a topic, from the beginning. */
    static List<byte[]> read(Map<String, Object> kafka, String topic) {
        return records(kafka, topic).stream().map(ConsumerRecord::value).toList();
    }

    /** Every committed record of a topic, from the beginning. */
    static List<ConsumerRecord<byte[], byte[]>> records(Map<String, Object> kafka, String topic) {
        Map<String, Object> props = new HashMap<>(kafka);
        props.put("isolation.level", "read_committed");
        props.put("enable.auto.commit", "false");
        try (KafkaConsumer<byte[], byte[]> consumer =
                new KafkaConsumer<>(props, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            List<TopicPartition> partitions = consumer.partitionsFor(topic).stream()
                    .map(p -> new TopicPartition(topic, p.partition()))
                    .toList();
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            Map<TopicPartition, Long> end = consumer.endOffsets(partitions);
            List<ConsumerRecord<byte[], byte[]>> out = new ArrayList<>();
            while (partitions.stream().anyMatch(p -> consumer.position(p) < end.get(p))) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) out.add(r);
            }
            return out;
        }
    }
}
