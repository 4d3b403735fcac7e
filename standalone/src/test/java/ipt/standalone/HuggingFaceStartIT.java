package ipt.standalone;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import ipt.checkpoints.Checkpoint;
import ipt.checkpoints.RetentionPolicy;
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
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A lineage that starts from a Hugging Face model directory (IPT_START_FROM=/models/...): a tiny random
 * LlamaForCausalLM with grouped-query attention and a byte-level tokenizer.json, trained by the real trainer in its own
 * shape (not the configured IPT_D_MODEL, IPT_LAYERS and IPT_HEADS) on a real broker, scored by the evaluator,
 * promoted; every checkpoint is a Llama directory again, and the champion is served at the lineage's fixed location.
 */
class HuggingFaceStartIT {

    @TempDir
    Path work;

    @Test
    void aLineageStartedFromAHuggingFaceDirectoryTrainsIsEvaluatedAndGetsAChampion() throws Exception {
        Path model = tinyLlama(work.resolve("models/tiny-llama"));
        TrainerConfig trainer = TrainerConfig.of("hf", work, 0.25)
                .withRounds(8, 8, Duration.ofSeconds(1))
                .withPartitionWait(Duration.ofSeconds(1))
                .withModel(new GptConfig(ByteTokenizer.VOCAB_SIZE, 32, 64, 1, 2), TrainConfig.defaults())
                .with(new TrainerConfig.Start(model, null));
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
            List<Promotion> promotions = PipelineIT.read(props, Topics.PROMOTIONS.name()).stream()
                    .map(AvroSerde.of(Promotion.class)::decode)
                    .toList();

            assertTrue(checkpoints.size() >= 2, "at least two rounds, got " + checkpoints.size());
            byte[] tokenizer = Files.readAllBytes(model.resolve("tokenizer.json"));
            long steps = 0;
            for (CheckpointPublished c : checkpoints) {
                Checkpoint checkpoint = Checkpoint.open(Path.of(c.getLocation()));
                assertEquals(LanguageModel.LLAMA, checkpoint.manifest().architecture());
                assertEquals(
                        new GptConfig(ByteTokenizer.VOCAB_SIZE, 32, 32, 2, 4),
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
                assertEquals(LanguageModel.LLAMA, loaded.architecture());
            }
            // What transformers reads: the champion's directory reopens as the Hugging Face model it is.
            try (LanguageModel reimported = LanguageModel.fromHuggingFace(promoted.dir(), 32)) {
                assertEquals(promoted.manifest().model(), reimported.config());
            }

            // And a serving system finds it at the lineage's one fixed location in the checkpoint store.
            Path served = work.resolve("checkpoints/_serving/hf");
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (!(Files.exists(served.resolve("model.safetensors"))
                            && Arrays.equals(
                                    promoted.file("model.safetensors"),
                                    Files.readAllBytes(served.resolve("model.safetensors"))))
                    && System.nanoTime() < deadline) Thread.sleep(200);
            assertArrayEquals(
                    promoted.file("model.safetensors"),
                    Files.readAllBytes(served.resolve("model.safetensors")),
                    "the champion's exact weights at " + served);
            assertArrayEquals(tokenizer, Files.readAllBytes(served.resolve("tokenizer.json")));
            assertTrue(Files.isSymbolicLink(served));
            assertFalse(Files.exists(served.resolve("optimizer.bin")), "none of ipt's own files");
            try (LanguageModel loaded = LanguageModel.fromHuggingFace(served, 32)) {
                assertEquals(LanguageModel.LLAMA, loaded.architecture());
                assertEquals(promoted.manifest().model(), loaded.config());
            }
        }
    }

    /**
     * A random LlamaForCausalLM written by hand as transformers lays it out: 4 query heads over 2 key-value heads, an
     * untied head, 64 positions, and the byte-level tokenizer.json ipt writes for its own GPT (eos 256).
     */
    private static Path tinyLlama(Path dir) throws IOException {
        try (LanguageModel bytes = LanguageModel.create(new GptConfig(ByteTokenizer.VOCAB_SIZE, 8, 8, 1, 1), 1)) {
            bytes.writeHuggingFace(dir.resolveSibling("bytes"), 1L << 30);
        }
        Files.createDirectories(dir);
        Files.copy(dir.resolveSibling("bytes").resolve("tokenizer.json"), dir.resolve("tokenizer.json"));
        Files.writeString(dir.resolve("config.json"), """
                {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 257, "hidden_size": 32,
                 "intermediate_size": 48, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
                 "max_position_embeddings": 64, "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "hidden_act": "silu",
                 "tie_word_embeddings": false, "bos_token_id": 256, "eos_token_id": 256}""");
        Map<String, long[]> shapes = new TreeMap<>();
        shapes.put("model.embed_tokens.weight", new long[] {257, 32});
        shapes.put("lm_head.weight", new long[] {257, 32});
        shapes.put("model.norm.weight", new long[] {32});
        for (int i = 0; i < 2; i++) {
            String layer = "model.layers." + i + ".";
            shapes.put(layer + "self_attn.q_proj.weight", new long[] {32, 32});
            shapes.put(layer + "self_attn.k_proj.weight", new long[] {16, 32});
            shapes.put(layer + "self_attn.v_proj.weight", new long[] {16, 32});
            shapes.put(layer + "self_attn.o_proj.weight", new long[] {32, 32});
            shapes.put(layer + "mlp.gate_proj.weight", new long[] {48, 32});
            shapes.put(layer + "mlp.up_proj.weight", new long[] {48, 32});
            shapes.put(layer + "mlp.down_proj.weight", new long[] {32, 48});
            shapes.put(layer + "input_layernorm.weight", new long[] {32});
            shapes.put(layer + "post_attention_layernorm.weight", new long[] {32});
        }
        ObjectNode header = new ObjectMapper().createObjectNode();
        header.putObject("__metadata__").put("format", "pt");
        ByteBuffer data = ByteBuffer.allocate(4
                        * shapes.values().stream()
                                .mapToInt(s -> (int) Arrays.stream(s).reduce(1, (a, b) -> a * b))
                                .sum())
                .order(ByteOrder.LITTLE_ENDIAN);
        SplittableRandom random = new SplittableRandom(17);
        for (Map.Entry<String, long[]> tensor : shapes.entrySet()) {
            int begin = data.position();
            boolean norm = tensor.getValue().length == 1;
            long n = Arrays.stream(tensor.getValue()).reduce(1, (a, b) -> a * b);
            for (long k = 0; k < n; k++) data.putFloat(norm ? 1f : (float) (0.02 * gaussian(random)));
            ObjectNode entry = header.putObject(tensor.getKey()).put("dtype", "F32");
            for (long d : tensor.getValue()) entry.withArray("shape").add(d);
            entry.putArray("data_offsets").add(begin).add(data.position());
        }
        byte[] json = new ObjectMapper().writeValueAsBytes(header);
        ByteBuffer file = ByteBuffer.allocate(8 + json.length + data.capacity()).order(ByteOrder.LITTLE_ENDIAN);
        file.putLong(json.length).put(json).put(data.array());
        Files.write(dir.resolve("model.safetensors"), file.array());
        return dir;
    }

    /** A standard normal draw (Box-Muller), from a seeded generator so the model is the same every run. */
    private static double gaussian(SplittableRandom random) {
        return Math.sqrt(-2 * Math.log(1 - random.nextDouble())) * Math.cos(2 * Math.PI * random.nextDouble());
    }
}
