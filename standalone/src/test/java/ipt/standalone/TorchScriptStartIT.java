package ipt.standalone;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.prometheus.metrics.model.registry.PrometheusRegistry;
import ipt.checkpoints.Checkpoint;
import ipt.checkpoints.RetentionPolicy;
import ipt.evaluator.EvaluatorConfig;
import ipt.ingest.CurationConfig;
import ipt.ingest.DocumentPublisher;
import ipt.model.GptConfig;
import ipt.model.LanguageModel;
import ipt.model.TrainConfig;
import ipt.schemas.AvroSerde;
import ipt.schemas.CheckpointPublished;
import ipt.schemas.Document;
import ipt.schemas.EvaluationReport;
import ipt.schemas.TaskResult;
import ipt.schemas.Topics;
import ipt.testsupport.DemoCorpus;
import ipt.testsupport.EmbeddedKafka;
import ipt.trainer.TrainerConfig;
import ipt.trainer.TrainerService;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A lineage that starts from an existing model: the tiny TorchScript GPT and byte-level BPE tokenizer.json
 * that bench/make_torchscript.py wrote, trained by the real trainer on a real broker and scored by the
 * evaluator with the same tokenizer (carried in every checkpoint).
 */
class TorchScriptStartIT {
    private static final Path RESOURCES = Path.of("../model/src/test/resources/torchscript");

    @TempDir
    Path work;

    @Test
    void aLineageStartedFromTorchScriptTrainsCheckpointsAndIsEvaluatedWithItsTokenizer() throws Exception {
        TrainerConfig trainer = TrainerConfig.of("ts", work, 0.25)
                .withRounds(8, 8, Duration.ofSeconds(1))
                .withPartitionWait(Duration.ofSeconds(1))
                .withModel(new GptConfig(1, 32, 32, 2, 2), TrainConfig.defaults()) // vocabulary: the tokenizer's
                .with(new TrainerConfig.Start(RESOURCES.resolve("tiny-gpt.pt"), RESOURCES.resolve("tokenizer.json")));
        List<DemoCorpus.Text> texts = DemoCorpus.europarl("en", 60_000);
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
            pipeline.awaitSettled(Duration.ofMinutes(6));

            Map<String, Object> props = pipeline.kafka();
            List<Document> curated = PipelineIT.read(props, Topics.CURATED.name()).stream()
                    .map(AvroSerde.of(Document.class)::decode)
                    .toList();
            List<CheckpointPublished> checkpoints = PipelineIT.read(props, Topics.CHECKPOINTS.name()).stream()
                    .map(AvroSerde.of(CheckpointPublished.class)::decode)
                    .toList();
            List<EvaluationReport> reports = PipelineIT.read(props, Topics.EVALUATIONS.name()).stream()
                    .map(AvroSerde.of(EvaluationReport.class)::decode)
                    .toList();

            assertTrue(checkpoints.size() >= 2, "at least two rounds, got " + checkpoints.size());
            byte[] tokenizer = Files.readAllBytes(RESOURCES.resolve("tokenizer.json"));
            long steps = 0;
            for (CheckpointPublished c : checkpoints) {
                Checkpoint checkpoint = Checkpoint.open(Path.of(c.getLocation()));
                assertEquals(LanguageModel.TORCHSCRIPT, checkpoint.manifest().architecture());
                assertEquals(
                        new GptConfig(321, 32, 32, 2, 2), checkpoint.manifest().model());
                assertArrayEquals(
                        tokenizer,
                        checkpoint.file("tokenizer.json"),
                        "the lineage's tokenizer travels with every checkpoint");
                assertTrue(checkpoint.manifest().step() > steps, "steps grow round by round");
                steps = checkpoint.manifest().step();
            }
            assertEquals(
                    curated.size(),
                    checkpoints.stream()
                            .mapToLong(CheckpointPublished::getDocuments)
                            .sum(),
                    "every curated document trained in exactly one round");

            assertEquals(checkpoints.size(), reports.size(), "every checkpoint evaluated");
            for (EvaluationReport r : reports) {
                List<TaskResult> heldOut = r.getTasks().stream()
                        .filter(t -> t.getTask().equals("heldout/en"))
                        .toList();
                assertFalse(heldOut.isEmpty(), "v" + r.getCandidateVersion() + " scored on held-out English: " + r);
                double loss = heldOut.get(0).getCandidate();
                // Nats per BPE token: below uniform over 321 tokens once trained, far from the byte tokenizer's 257
                // ids.
                assertTrue(
                        Double.isFinite(loss) && loss < Math.log(321),
                        "v" + r.getCandidateVersion() + " held-out loss " + loss);
            }
            double first = reports.get(0).getTasks().get(0).getCandidate();
            double last = reports.get(reports.size() - 1).getTasks().get(0).getCandidate();
            assertTrue(last < first, "held-out loss falls as the TorchScript model trains: " + first + " -> " + last);

            // A second lineage branches off the first one's last checkpoint directory: its weights, step and tokenizer.
            CheckpointPublished parent = checkpoints.get(checkpoints.size() - 1);
            TrainerService fork = TrainerService.start(
                    props,
                    TrainerConfig.of("fork", work, 0.25)
                            .withRounds(8, 8, Duration.ofSeconds(1))
                            .withPartitionWait(Duration.ofSeconds(1))
                            .withModel(new GptConfig(1, 32, 32, 2, 2), TrainConfig.defaults())
                            .with(new TrainerConfig.Start(Path.of(parent.getLocation()), null)),
                    new PrometheusRegistry());
            try {
                Checkpoint forked = awaitFirstCheckpoint(props, "fork");
                assertEquals(LanguageModel.TORCHSCRIPT, forked.manifest().architecture());
                assertArrayEquals(tokenizer, forked.file("tokenizer.json"));
                assertEquals(
                        parent.getStep() + 8, forked.manifest().step(), "the branch continues the parent's step count");
            } finally {
                fork.close();
            }
        }
    }

    private static Checkpoint awaitFirstCheckpoint(Map<String, Object> props, String lineage) throws Exception {
        long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
        while (System.nanoTime() < deadline) {
            for (byte[] value : PipelineIT.read(props, Topics.CHECKPOINTS.name())) {
                CheckpointPublished c = AvroSerde.of(CheckpointPublished.class).decode(value);
                if (c.getLineage().equals(lineage)) return Checkpoint.open(Path.of(c.getLocation()));
            }
            Thread.sleep(300);
        }
        throw new AssertionError(lineage + " committed no checkpoint");
    }
}
