package ipt.standalone;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ipt.checkpoints.CheckpointStore;
import ipt.checkpoints.RetentionPolicy;
import ipt.evaluator.EvaluatorConfig;
import ipt.evaluator.ManualPromotion;
import ipt.evaluator.RetentionMarks;
import ipt.ingest.CurationConfig;
import ipt.ingest.DocumentPublisher;
import ipt.model.ByteTokenizer;
import ipt.model.GptConfig;
import ipt.model.TrainConfig;
import ipt.schemas.AvroSerde;
import ipt.schemas.CheckpointPublished;
import ipt.schemas.Decision;
import ipt.schemas.Document;
import ipt.schemas.EvaluationReport;
import ipt.schemas.Topics;
import ipt.testsupport.DemoCorpus;
import ipt.testsupport.EmbeddedKafka;
import ipt.trainer.TrainerConfig;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Retention on the whole pipeline (embedded broker, real training, the directory store): while the lineage keeps
 * training, the store holds exactly what the policy keeps (the newest, the recent champions, a pinned version),
 * the rest is deleted, a kept champion can still be rolled back to, and promoting a deleted version says
 * retention deleted it.
 */
class RetentionIT {
    private static final GptConfig TINY = new GptConfig(ByteTokenizer.VOCAB_SIZE, 32, 32, 1, 2);
    private static final String LINEAGE = "ret";
    private static final RetentionPolicy POLICY = new RetentionPolicy(2, 2, 1);

    @TempDir
    Path work;

    @Test
    void theStoreHoldsWhatThePolicyKeepsWhileTheLineageTrains() throws Exception {
        TrainerConfig trainer = TrainerConfig.of(LINEAGE, work, 0.25)
                .withRounds(10, 8, Duration.ofSeconds(1))
                .withModel(TINY, TrainConfig.defaults());
        EvaluatorConfig evaluator = EvaluatorConfig.of(work, 0.5, 16 * 33).with(POLICY);
        CheckpointStore store = CheckpointStore.of(work.resolve("checkpoints").toString(), work, Map.of());
        List<DemoCorpus.Text> texts = DemoCorpus.europarl("en", 60_000);
        try (EmbeddedKafka kafka = EmbeddedKafka.start();
                LocalPipeline pipeline = new LocalPipeline(
                        kafka.bootstrapServers(),
                        work,
                        CurationConfig.defaults().withHeldoutFraction(0.1),
                        List.of(trainer),
                        evaluator);
                DocumentPublisher publisher = new DocumentPublisher(pipeline.kafka())) {
            publish(publisher, texts.subList(0, texts.size() / 2));
            pipeline.awaitSettled(Duration.ofMinutes(5));
            long pinned =
                    published(pipeline).get(published(pipeline).size() - 1).getVersion();
            RetentionMarks.hold(pipeline.kafka(), LINEAGE, pinned, RetentionMarks.PIN, "retention-it", "kept");

            publish(publisher, texts.subList(texts.size() / 2, texts.size()));
            pipeline.awaitSettled(Duration.ofMinutes(5));

            List<CheckpointPublished> checkpoints = published(pipeline);
            List<EvaluationReport> reports = PipelineIT.read(pipeline.kafka(), Topics.EVALUATIONS.name()).stream()
                    .map(AvroSerde.of(EvaluationReport.class)::decode)
                    .toList();
            assertEquals(checkpoints.size(), reports.size(), "every checkpoint judged once");
            List<Long> champions = reports.stream()
                    .filter(r -> r.getDecision() == Decision.PROMOTE)
                    .map(EvaluationReport::getCandidateVersion)
                    .toList();
            long last = checkpoints.get(checkpoints.size() - 1).getVersion();
            assertTrue(last > pinned + POLICY.last(), "the lineage kept training past the pin: v" + last);
            assertTrue(champions.size() >= 2, "promotions: " + champions);
            var plan = POLICY.plan(
                    checkpoints.stream().map(CheckpointPublished::getVersion).toList(),
                    last,
                    champions,
                    champions.get(champions.size() - 1),
                    Set.of(pinned));
            assertTrue(plan.delete().size() > 0, "something to delete: " + plan);
            assertTrue(plan.keep().contains(pinned));
            SortedMap<Long, Long> held = awaitHeld(store, plan.keep());
            assertEquals(plan.keep(), held.keySet(), "the store holds what the policy keeps");

            // The champion before the current one is a rollback target: still there, and promotable.
            long previous = champions.stream()
                    .filter(v -> v != champions.get(champions.size() - 1))
                    .reduce((a, b) -> b)
                    .orElseThrow();
            ManualPromotion.promote(pipeline.kafka(), store, LINEAGE, previous, "rollback", "retention-it");
            long deleted = plan.delete().first();
            IllegalArgumentException gone = assertThrows(
                    IllegalArgumentException.class,
                    () -> ManualPromotion.promote(pipeline.kafka(), store, LINEAGE, deleted, "too old", "it"));
            assertTrue(gone.getMessage().contains("deleted by retention"), gone.getMessage());
            assertThrows(
                    IllegalArgumentException.class,
                    () -> RetentionMarks.hold(pipeline.kafka(), LINEAGE, deleted, RetentionMarks.PIN, "it", "late"));
        }
    }

    private static SortedMap<Long, Long> awaitHeld(CheckpointStore store, Set<Long> expected) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        SortedMap<Long, Long> held = store.held(LINEAGE);
        while (!held.keySet().equals(expected) && System.nanoTime() < deadline) {
            Thread.sleep(250); // retention runs right after the last decision commits
            held = store.held(LINEAGE);
        }
        return held;
    }

    private static List<CheckpointPublished> published(LocalPipeline pipeline) {
        return PipelineIT.read(pipeline.kafka(), Topics.CHECKPOINTS.name()).stream()
                .map(AvroSerde.of(CheckpointPublished.class)::decode)
                .toList();
    }

    private static void publish(DocumentPublisher publisher, List<DemoCorpus.Text> texts) throws Exception {
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
        CompletableFuture.allOf(acks.toArray(new CompletableFuture[0])).get();
    }
}
