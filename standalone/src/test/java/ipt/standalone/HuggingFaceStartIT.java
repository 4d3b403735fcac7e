package ipt.standalone;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ipt.checkpoints.Checkpoint;
import ipt.evaluator.EvaluatorConfig;
import ipt.ingest.CurationConfig;
import ipt.ingest.DocumentPublisher;
import ipt.model.ByteTokenizer;
import ipt.model.GptConfig;
import ipt.model.LanguageModel;
import ipt.model.TrainConfig;
import ipt.schemas.AvroSerde;
import ipt.schemas.CheckpointPublished;
import ipt.schemas.Document;
import ipt.schemas.EvaluationReport;
import ipt.schemas.Promotion;
import ipt.schemas.TaskResult;
import ipt.schemas.Topics;
import ipt.testsupport.DemoCorpus;
import ipt.testsupport.EmbeddedKafka;
import ipt.trainer.TrainerConfig;
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
 * A lineage that starts from a Hugging Face model directory (IPT_START_FROM=/models/...): a tiny GPT2LMHeadModel with
 * its byte-level tokenizer.json, trained by the real trainer in its own shape (wider and deeper than the configured
 * IPT_D_MODEL and IPT_LAYERS) on a real broker, scored by the evaluator, promoted; every checkpoint is that
 * architecture's Hugging Face directory again.
 */
class HuggingFaceStartIT {

    @TempDir
    Path work;

    @Test
    void aLineageStartedFromAHuggingFaceDirectoryTrainsIsEvaluatedAndGetsAChampion() throws Exception {
        Path model = work.resolve("models/tiny-gpt2");
        GptConfig own = new GptConfig(ByteTokenizer.VOCAB_SIZE, 64, 48, 3, 4);
        try (LanguageModel pretrained = LanguageModel.create(own, 5)) {
            pretrained.writeHuggingFace(model, 1L << 30);
        }
        TrainerConfig trainer = TrainerConfig.of("hf", work, 0.25)
                .withRounds(8, 8, Duration.ofSeconds(1))
                .withModel(new GptConfig(ByteTokenizer.VOCAB_SIZE, 32, 32, 2, 2), TrainConfig.defaults())
                .with(new TrainerConfig.Start(model, null));
        List<DemoCorpus.Text> texts = DemoCorpus.europarl("en", 60_000);
        try (EmbeddedKafka kafka = EmbeddedKafka.start();
                LocalPipeline pipeline = new LocalPipeline(
                        kafka.bootstrapServers(),
                        work,
                        CurationConfig.defaults().withHeldoutFraction(0.1),
                        List.of(trainer),
                        EvaluatorConfig.of(work, 0.5, 16 * 33));
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
            List<Promotion> promotions = PipelineIT.read(props, Topics.PROMOTIONS.name()).stream()
                    .map(AvroSerde.of(Promotion.class)::decode)
                    .toList();

            assertTrue(checkpoints.size() >= 2, "at least two rounds, got " + checkpoints.size());
            byte[] tokenizer = Files.readAllBytes(model.resolve("tokenizer.json"));
            long steps = 0;
            for (CheckpointPublished c : checkpoints) {
                Checkpoint checkpoint = Checkpoint.open(Path.of(c.getLocation()));
                assertEquals(LanguageModel.GPT2, checkpoint.manifest().architecture());
                assertEquals(
                        new GptConfig(ByteTokenizer.VOCAB_SIZE, 32, 48, 3, 4),
                        checkpoint.manifest().model(),
                        "the model's own width, depth and heads, the lineage's context length");
                assertArrayEquals(tokenizer, checkpoint.file("tokenizer.json"), "the model's tokenizer travels on");
                assertTrue(checkpoint.manifest().files().containsKey("model.safetensors"));
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
                assertTrue(
                        Double.isFinite(heldOut.get(0).getCandidate())
                                && heldOut.get(0).getCandidate() < Math.log(ByteTokenizer.VOCAB_SIZE),
                        "v" + r.getCandidateVersion() + " held-out loss "
                                + heldOut.get(0).getCandidate());
            }

            List<Promotion> champions =
                    promotions.stream().filter(p -> p.getLineage().equals("hf")).toList();
            assertFalse(champions.isEmpty(), "the lineage got a champion: " + reports);
            Promotion champion = champions.get(champions.size() - 1);
            Checkpoint promoted = Checkpoint.open(Path.of(champion.getLocation()));
            assertEquals(champion.getSha256(), promoted.sha256());
            try (LanguageModel loaded = promoted.model()) {
                assertEquals(LanguageModel.GPT2, loaded.architecture());
            }
            // What transformers reads: the champion's directory reopens as the Hugging Face model it is.
            try (LanguageModel reimported = LanguageModel.fromHuggingFace(promoted.dir(), 32)) {
                assertEquals(promoted.manifest().model(), reimported.config());
            }
        }
    }
}
