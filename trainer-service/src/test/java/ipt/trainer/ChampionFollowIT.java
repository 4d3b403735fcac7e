package ipt.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import ipt.checkpoints.Checkpoint;
import ipt.model.ByteTokenizer;
import ipt.model.GptConfig;
import ipt.model.TrainConfig;
import ipt.runtime.KafkaSettings;
import ipt.runtime.TopicReader;
import ipt.schemas.AvroSerde;
import ipt.schemas.CheckpointPublished;
import ipt.schemas.Decision;
import ipt.schemas.Document;
import ipt.schemas.EvaluationReport;
import ipt.schemas.Promotion;
import ipt.schemas.Topics;
import ipt.testsupport.EmbeddedKafka;
import ipt.testsupport.SyntheticProse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The trainer follows the evaluator's decisions on the real broker: after N consecutive rejections, settled (the
 * round of version k reads the reports through k - 1), it restarts from the champion's weights with a raised replay
 * fraction, counting steps on, and the L2 pull anchors to the champion. The decisions are written as the evaluator
 * writes them, so the test controls which candidates fail.
 */
class ChampionFollowIT {
    private static final GptConfig TINY = new GptConfig(ByteTokenizer.VOCAB_SIZE, 32, 32, 1, 2);
    private static final AvroSerde<CheckpointPublished> CHECKPOINT = AvroSerde.of(CheckpointPublished.class);

    @TempDir
    Path work;

    @Test
    void twoRejectionsInARowResetTheWorkingWeightsToTheChampionAndRaiseReplay() throws Exception {
        try (EmbeddedKafka broker = EmbeddedKafka.start()) {
            Map<String, Object> kafka = KafkaSettings.of(broker.bootstrapServers());
            try (Admin admin = Admin.create(kafka)) {
                Topics.ensure(admin, Topics.specs(1), (short) 1);
            }
            TrainerConfig config = TrainerConfig.of("follow", work, 0.25)
                    .withModel(TINY, TrainConfig.defaults())
                    .withRounds(5, 4, Duration.ofSeconds(1))
                    .with(new TrainerConfig.Forgetting(false, 0, 0.5f, 2, 0.1, 0.5));
            TrainerConfig.Steering st = config.steering();
            config = config.with(new TrainerConfig.Steering(
                    st.floor(), 0, st.evaluationWait(), TrainerConfig.Steering.Recovery.RESET, st.keep()));
            PrometheusRegistry registry = new PrometheusRegistry();
            List<SyntheticProse.Doc> docs = SyntheticProse.load().documents("follow", 400, 300, 3);
            try (KafkaProducer<String, byte[]> producer =
                    new KafkaProducer<>(kafka, new StringSerializer(), new ByteArraySerializer())) {
                TrainerService trainer = TrainerService.start(kafka, config, registry);
                try {
                    publish(producer, docs.subList(0, 40));
                    CheckpointPublished v1 = await(kafka, 1);
                    decide(producer, v1, Decision.PROMOTE);
                    producer.send(new ProducerRecord<>(
                            Topics.PROMOTIONS.name(),
                            "follow",
                            AvroSerde.of(Promotion.class)
                                    .encode(Promotion.newBuilder()
                                            .setLineage("follow")
                                            .setVersion(1)
                                            .setPreviousVersion(null)
                                            .setLocation(v1.getLocation())
                                            .setSha256(v1.getSha256())
                                            .setDecidingRule("first-checkpoint")
                                            .setPromotedAt(Instant.now())
                                            .build())));
                    decide(producer, await(kafka, 2), Decision.REJECT);
                    decide(producer, await(kafka, 3), Decision.REJECT);
                    publish(producer, docs.subList(40, 400));
                    CheckpointPublished reset = awaitReset(kafka);
                    String state = new String(
                            Checkpoint.open(Path.of(reset.getLocation())).file("trainer-state.properties"),
                            StandardCharsets.UTF_8);
                    assertTrue(state.contains("replayFraction=0.35") && state.contains("lastResetAfter=3"), state);
                    // v4 is the first round whose settled reports (through v3) hold both rejections; it may not reset
                    // earlier.
                    assertEquals(4, reset.getVersion(), "the reset waits for the reports on the rounds it answers");
                    CheckpointPublished before = await(kafka, 3);
                    assertTrue(
                            reset.getStep() > before.getStep(),
                            "the step count goes on from the working model's (v3 ended at step " + before.getStep()
                                    + ", v4 at " + reset.getStep() + "), not back to the champion's");
                    assertEquals(1.0, counter(registry, "ipt_trainer_champion_resets"));
                    assertEquals(
                            0.0,
                            outcome(registry, "failed"),
                            "rounds that failed and were recovered (the pull, the reset must not fail)");
                } finally {
                    trainer.close();
                }
            }
        }
    }

    /** The first committed checkpoint whose lineage state records a reset. */
    private static CheckpointPublished awaitReset(Map<String, Object> kafka) throws Exception {
        long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
        while (System.nanoTime() < deadline) {
            for (CheckpointPublished c : committed(kafka)) {
                String state = new String(
                        Checkpoint.open(Path.of(c.getLocation())).file("trainer-state.properties"),
                        StandardCharsets.UTF_8);
                if (state.contains("resets=1")) return c;
            }
            Thread.sleep(500);
        }
        throw new AssertionError("the trainer never reset to the champion");
    }

    private static void publish(KafkaProducer<String, byte[]> producer, List<SyntheticProse.Doc> docs) {
        AvroSerde<Document> serde = AvroSerde.of(Document.class);
        for (SyntheticProse.Doc d : docs) {
            producer.send(new ProducerRecord<>(
                    Topics.CURATED.name(),
                    d.id(),
                    serde.encode(Document.newBuilder()
                            .setId(d.id())
                            .setDomain(d.domain())
                            .setText(d.text())
                            .setSource("it")
                            .setIngestTime(Instant.now())
                            .setMetadata(Map.of())
                            .build())));
        }
        producer.flush();
    }

    private static void decide(KafkaProducer<String, byte[]> producer, CheckpointPublished c, Decision decision) {
        EvaluationReport report = EvaluationReport.newBuilder()
                .setLineage("follow")
                .setCandidateVersion(c.getVersion())
                .setChampionVersion(1L)
                .setCandidateStep(c.getStep())
                .setTasks(List.of())
                .setDecision(decision)
                .setDecidingRule(decision == Decision.PROMOTE ? "first-checkpoint" : "regression:heldout/en")
                .setReason("set by the test")
                .setEvaluatedAt(Instant.now())
                .build();
        producer.send(new ProducerRecord<>(
                Topics.EVALUATIONS.name(),
                "follow",
                AvroSerde.of(EvaluationReport.class).encode(report)));
        producer.flush();
    }

    private static List<CheckpointPublished> committed(Map<String, Object> kafka) {
        return TopicReader.readAll(kafka, Topics.CHECKPOINTS.name()).stream()
                .map(r -> CHECKPOINT.decode(r.value()))
                .toList();
    }

    private static CheckpointPublished await(Map<String, Object> kafka, long version) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
        while (System.nanoTime() < deadline) {
            Optional<CheckpointPublished> c = committed(kafka).stream()
                    .filter(x -> x.getVersion() == version)
                    .findFirst();
            if (c.isPresent()) return c.get();
            Thread.sleep(200);
        }
        throw new AssertionError("checkpoint v" + version + " never committed");
    }

    private static double outcome(PrometheusRegistry registry, String outcome) {
        for (MetricSnapshot s : registry.scrape()) {
            if (s.getMetadata().getName().equals("ipt_trainer_rounds")) {
                return ((CounterSnapshot) s)
                        .getDataPoints().stream()
                                .filter(p -> outcome.equals(p.getLabels().get("outcome")))
                                .mapToDouble(CounterSnapshot.CounterDataPointSnapshot::getValue)
                                .sum();
            }
        }
        return 0;
    }

    private static double counter(PrometheusRegistry registry, String name) {
        for (MetricSnapshot s : registry.scrape()) {
            if (s.getMetadata().getName().equals(name)) {
                return ((CounterSnapshot) s)
                        .getDataPoints().stream()
                                .mapToDouble(CounterSnapshot.CounterDataPointSnapshot::getValue)
                                .sum();
            }
        }
        return 0;
    }
}
