package ipt.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import ipt.checkpoints.Checkpoint;
import ipt.evaluator.EvaluatorConfig;
import ipt.evaluator.EvaluatorService;
import ipt.runtime.KafkaSettings;
import ipt.runtime.TopicReader;
import ipt.schemas.CheckpointPublished;
import ipt.schemas.Document;
import ipt.schemas.EvaluationReport;
import ipt.schemas.TaskResult;
import ipt.schemas.Topic;
import ipt.schemas.Topics;
import ipt.testsupport.DemoCorpus;
import ipt.testsupport.EmbeddedKafka;
import ipt.trainer.TrainerService;
import java.io.ByteArrayInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * The defaults arm through the whole service path: the documents the offline run trained on go to an embedded Kafka
 * broker (every domain's held-out text to the held-out topic first, then the training text of each phase to the curated
 * topic, in the same order), a trainer service with the defaults trains them in its rounds, following the reports of
 * the evaluator service, which judges every checkpoint with its default gate.
 */
final class ServiceArms {
    /** Rounds are cut only when full, as in the offline run. */
    static final int NEVER_FLUSH_SECONDS = 86_400;
    /** The service's seed: TrainConfig's default, which the trainer's environment does not change. */
    static final long SEED = 1234;

    static final String LINEAGE = "service-defaults";

    /** The evaluator's losses on the last checkpoint, promotions per phase, and how many waits for a report ran out. */
    record Outcome(
            Map<String, Double> finalLoss,
            String promotionsPerPhase,
            boolean heldOutIdentical,
            int timedOutWaits,
            double minutes) {}

    private ServiceArms() {}

    static Outcome run(Path dir, ContinualPretraining.Corpus corpus, List<List<DemoCorpus.Text>> phases, int steps)
            throws Exception {
        long started = System.nanoTime();
        Files.createDirectories(dir);
        try (EmbeddedKafka kafka = EmbeddedKafka.start()) {
            Map<String, Object> props = KafkaSettings.of(kafka.bootstrapServers());
            try (Admin admin = Admin.create(props)) {
                Topics.ensure(admin, Topics.specs(1), (short) 1);
            }
            TrainerService trainer = TrainerService.start(
                    props, ContinualPretraining.config(LINEAGE, dir, SEED), new PrometheusRegistry());
            EvaluatorConfig evaluatorConfig = EvaluatorConfig.fromEnv(Map.of(
                    "IPT_DATA_DIR",
                    dir.toString(),
                    "IPT_HELDOUT_TOKENS_PER_DOMAIN",
                    String.valueOf(ContinualPretraining.HELD_OUT_TOKENS)));
            EvaluatorService evaluator = EvaluatorService.start(props, evaluatorConfig, new PrometheusRegistry());
            try {
                produce(props, corpus, phases);
                int roundsPerPhase = steps / ContinualPretraining.ROUND_STEPS;
                Map<Long, EvaluationReport> reports =
                        await(props, trainer, evaluator, (long) roundsPerPhase * phases.size(), Duration.ofMinutes(40));
                StringBuilder promotions = new StringBuilder();
                for (int p = 0; p < phases.size(); p++) {
                    int n = 0;
                    for (long v = (long) p * roundsPerPhase + 1; v <= (long) (p + 1) * roundsPerPhase; v++) {
                        if (reports.get(v).getDecision().toString().equals("PROMOTE")) n++;
                    }
                    promotions.append(p == 0 ? "" : "/").append(n);
                }
                EvaluationReport last = reports.get((long) roundsPerPhase * phases.size());
                Map<String, Double> loss = new TreeMap<>();
                for (TaskResult t : last.getTasks())
                    if (t.getMetric().equals("loss"))
                        loss.put(t.getTask().substring("heldout/".length()), t.getCandidate());
                return new Outcome(
                        loss,
                        promotions.toString(),
                        heldOutIdentical(evaluatorConfig.snapshots(), corpus),
                        timedOutWaits(props),
                        (System.nanoTime() - started) / 60e9);
            } finally {
                evaluator.close();
                trainer.close();
            }
        }
    }

    /** Held-out text first, so every domain is a task before the first checkpoint; one key keeps the order. */
    private static void produce(
            Map<String, Object> kafka, ContinualPretraining.Corpus corpus, List<List<DemoCorpus.Text>> phases)
            throws Exception {
        Map<String, Object> props = new HashMap<>(kafka);
        props.put("key.serializer", StringSerializer.class);
        props.put("value.serializer", ByteArraySerializer.class);
        try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(props)) {
            int i = 0;
            for (Map.Entry<String, List<String>> d : corpus.heldOut().entrySet()) {
                for (String text : d.getValue())
                    producer.send(record(Topics.HELDOUT, "heldout-" + i++, d.getKey(), text));
            }
            for (List<DemoCorpus.Text> phase : phases) {
                for (DemoCorpus.Text t : phase) producer.send(record(Topics.CURATED, t.id(), t.domain(), t.text()));
            }
            producer.flush();
        }
    }

    private static ProducerRecord<String, byte[]> record(
            Topic<String, Document> topic, String id, String domain, String text) {
        Document d = Document.newBuilder()
                .setId(id)
                .setDomain(domain)
                .setText(text)
                .setSource("experiment")
                .setIngestTime(Instant.now())
                .build();
        return topic.record("experiment", d);
    }

    /** Waits for the evaluator's reports on versions 1 to {@code versions}. */
    private static Map<Long, EvaluationReport> await(
            Map<String, Object> kafka,
            TrainerService trainer,
            EvaluatorService evaluator,
            long versions,
            Duration timeout)
            throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            if (!trainer.health().ok())
                throw new IllegalStateException(
                        "trainer failed: " + trainer.health().detail());
            if (!evaluator.health().ok())
                throw new IllegalStateException(
                        "evaluator failed: " + evaluator.health().detail());
            Map<Long, EvaluationReport> byVersion = new HashMap<>();
            for (ConsumerRecord<String, byte[]> r : TopicReader.readAll(kafka, Topics.EVALUATIONS.name())) {
                EvaluationReport e = Topics.EVALUATIONS.value(r);
                if (e.getLineage().equals(LINEAGE)) byVersion.putIfAbsent(e.getCandidateVersion(), e);
            }
            if (byVersion.containsKey(versions)) return byVersion;
            if (System.nanoTime() > deadline)
                throw new IllegalStateException("no evaluation of v" + versions + " within " + timeout);
            Thread.sleep(2000);
        }
    }

    /** Waits for a report that ran out, as the last checkpoint's lineage state counts them. */
    private static int timedOutWaits(Map<String, Object> kafka) throws Exception {
        CheckpointPublished last = null;
        for (ConsumerRecord<String, byte[]> r : TopicReader.readAll(kafka, Topics.CHECKPOINTS.name())) {
            CheckpointPublished c = Topics.CHECKPOINTS.value(r);
            if (last == null || c.getVersion() > last.getVersion()) last = c;
        }
        Properties state = new Properties();
        state.load(new ByteArrayInputStream(
                Checkpoint.open(Path.of(last.getLocation())).file("trainer-state.properties")));
        return Integer.parseInt(state.getProperty("timedOutWaits", "0"));
    }

    /** Whether the evaluator froze exactly the held-out text the offline run scores on. */
    @SuppressWarnings("unchecked")
    private static boolean heldOutIdentical(Path snapshots, ContinualPretraining.Corpus corpus) throws Exception {
        Path latest;
        try (Stream<Path> files = Files.list(snapshots)) {
            latest = files.filter(f -> f.getFileName().toString().matches("snapshot-\\d{6}\\.json"))
                    .sorted()
                    .reduce((x, y) -> y)
                    .orElseThrow();
        }
        Map<String, Object> json = new ObjectMapper().readValue(latest.toFile(), Map.class);
        Map<String, List<String>> domains = (Map<String, List<String>>) json.get("domains");
        return new ArrayList<>(corpus.heldOut().keySet()).equals(new ArrayList<>(domains.keySet()))
                && corpus.heldOut().entrySet().stream()
                        .allMatch(e -> e.getValue().equals(domains.get(e.getKey())));
    }
}
