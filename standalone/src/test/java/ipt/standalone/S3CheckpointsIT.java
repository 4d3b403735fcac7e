package ipt.standalone;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ipt.evaluator.EvaluatorConfig;
import ipt.ingest.CurationConfig;
import ipt.ingest.DocumentPublisher;
import ipt.model.ByteTokenizer;
import ipt.model.GptConfig;
import ipt.model.LanguageModel;
import ipt.model.TrainConfig;
import ipt.model.Training;
import ipt.schemas.AvroSerde;
import ipt.schemas.CheckpointPublished;
import ipt.schemas.Decision;
import ipt.schemas.Document;
import ipt.schemas.EvaluationReport;
import ipt.schemas.Topics;
import ipt.testsupport.DemoCorpus;
import ipt.testsupport.EmbeddedKafka;
import ipt.trainer.TrainerConfig;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The trainer keeps its checkpoints in an S3-compatible store and the evaluator judges them from there: S3Proxy
 * (Maven Central's jar-with-dependencies, as model's build copies it) on loopback, the whole pipeline on the
 * embedded broker, one store URI for both services.
 */
class S3CheckpointsIT {
    private static final GptConfig TINY = new GptConfig(ByteTokenizer.VOCAB_SIZE, 32, 32, 1, 2);

    @TempDir
    Path work;

    @Test
    void checkpointsGoThroughS3AndAreJudgedFromThere() throws Exception {
        int port;
        try (ServerSocket socket = new ServerSocket(0)) {
            port = socket.getLocalPort();
        }
        String endpoint = "http://127.0.0.1:" + port;
        Path conf = work.resolve("s3proxy.conf");
        Files.writeString(
                conf,
                String.join(
                        "\n",
                        "s3proxy.endpoint=" + endpoint,
                        "s3proxy.authorization=aws-v2-or-v4",
                        "s3proxy.identity=ipt",
                        "s3proxy.credential=ipt-secret",
                        "jclouds.provider=transient",
                        "jclouds.identity=ipt",
                        "jclouds.credential=ipt-secret",
                        ""));
        Process s3proxy = new ProcessBuilder(
                        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                        "-jar",
                        Path.of("..", "checkpoints", "target", "s3proxy", "s3proxy.jar")
                                .toString(),
                        "--properties",
                        conf.toString())
                .redirectErrorStream(true)
                .redirectOutput(work.resolve("s3proxy.log").toFile())
                .start();
        System.setProperty("aws.accessKeyId", "ipt"); // the AWS SDK's default credential chain reads these
        System.setProperty("aws.secretAccessKey", "ipt-secret");
        try {
            createBucket(endpoint, "ipt-checkpoints");
            // The lineage starts from a Hugging Face directory in the bucket (IPT_START_FROM=s3://…), fetched once.
            Path model = Files.createDirectories(work.resolve("gpt2"));
            try (Training fresh = Training.create(TINY, TrainConfig.defaults())) {
                fresh.model().writeHuggingFace(model, Long.MAX_VALUE);
            }
            upload(endpoint, "ipt-checkpoints", "it/models/tiny-gpt2/", model);
            String store = "s3://ipt-checkpoints/it?endpoint=" + endpoint;
            TrainerConfig trainer = TrainerConfig.of("s3", work, 0.25)
                    .withRounds(10, 8, Duration.ofSeconds(1))
                    .withPartitionWait(Duration.ofSeconds(1))
                    .withModel(TINY, TrainConfig.defaults())
                    .withCheckpointStore(store)
                    .with(new TrainerConfig.Start("s3://ipt-checkpoints/it/models/tiny-gpt2", null));
            EvaluatorConfig evaluator = EvaluatorConfig.of(work, 0.5, 16 * 33);
            evaluator = evaluator.withCheckpointStore(store);
            List<DemoCorpus.Text> texts = DemoCorpus.europarl("en", 60_000);
            try (EmbeddedKafka kafka = EmbeddedKafka.start();
                    LocalPipeline pipeline = new LocalPipeline(
                            kafka.bootstrapServers(),
                            work,
                            CurationConfig.defaults().withHeldoutFraction(0.1),
                            List.of(trainer),
                            evaluator);
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
                pipeline.awaitSettled(Duration.ofMinutes(5));

                List<CheckpointPublished> checkpoints =
                        PipelineIT.read(pipeline.kafka(), Topics.CHECKPOINTS.name()).stream()
                                .map(AvroSerde.of(CheckpointPublished.class)::decode)
                                .toList();
                List<EvaluationReport> reports = PipelineIT.read(pipeline.kafka(), Topics.EVALUATIONS.name()).stream()
                        .map(AvroSerde.of(EvaluationReport.class)::decode)
                        .toList();
                assertTrue(checkpoints.size() >= 2, "rounds: " + checkpoints.size());
                try (LanguageModel last = ipt.checkpoints.CheckpointStore.of(store, work.resolve("first"), Map.of())
                        .open(checkpoints.get(checkpoints.size() - 1).getLocation())
                        .model()) {
                    assertEquals(LanguageModel.GPT2, last.architecture(), "trained from the model fetched from S3");
                }
                for (CheckpointPublished c : checkpoints) {
                    assertEquals(String.format("s3://ipt-checkpoints/it/s3/v%06d", c.getVersion()), c.getLocation());
                }
                assertEquals(checkpoints.size(), reports.size(), "every checkpoint judged once");
                assertTrue(
                        reports.stream().noneMatch(r -> r.getDecidingRule().equals("integrity")),
                        "fetched from S3 and verified: " + reports);
                assertTrue(reports.stream().anyMatch(r -> r.getDecision() == Decision.PROMOTE));
                assertTrue(
                        Files.isDirectory(
                                work.resolve("evaluator").resolve("fetched").resolve("s3")),
                        "the evaluator's copies, fetched from S3");
                // Retention (defaults: the newest 5 and up to 10 recent champions) deleted the rest from the bucket.
                long newest = checkpoints.get(checkpoints.size() - 1).getVersion();
                long promoted = reports.stream()
                        .filter(r -> r.getDecision() == Decision.PROMOTE)
                        .count();
                long bound = 5 + Math.min(promoted, 10);
                var bucket = ipt.checkpoints.CheckpointStore.of(store, work.resolve("probe"), Map.of());
                long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
                while (bucket.held("s3").size() > bound && System.nanoTime() < deadline) Thread.sleep(250);
                var held = bucket.held("s3").keySet();
                assertTrue(held.contains(newest), "the newest is kept: " + held);
                assertTrue(held.size() <= bound, "at most the newest 5 and the champions: " + held);
                assertTrue(
                        checkpoints.size() <= bound || held.size() < checkpoints.size(),
                        "retention deleted from the bucket: " + held + " of " + checkpoints.size());
                // The trainer's local copies are a cache: the one it resumes from (and an L2 anchor, none here).
                try (var local = Files.list(work.resolve("checkpoints").resolve("s3"))) {
                    List<String> copies = local.map(p -> p.getFileName().toString())
                            .filter(n -> n.matches("v\\d+"))
                            .toList();
                    assertEquals(List.of(String.format("v%06d", newest)), copies, "the trainer's local copies");
                }
            }
        } finally {
            s3proxy.destroy();
            s3proxy.waitFor(30, TimeUnit.SECONDS);
        }
    }

    /** The bucket, made once S3Proxy answers. */
    private static void upload(String endpoint, String bucket, String prefix, Path dir) throws Exception {
        try (var s3 = software.amazon.awssdk.services.s3.S3Client.builder()
                        .endpointOverride(URI.create(endpoint))
                        .forcePathStyle(true)
                        .region(software.amazon.awssdk.regions.Region.US_EAST_1)
                        .build();
                var files = Files.list(dir)) {
            for (Path f : files.toList())
                s3.putObject(
                        b -> b.bucket(bucket).key(prefix + f.getFileName()),
                        software.amazon.awssdk.core.sync.RequestBody.fromFile(f));
        }
    }

    private static void createBucket(String endpoint, String bucket) throws Exception {
        try (var s3 = software.amazon.awssdk.services.s3.S3Client.builder()
                .endpointOverride(URI.create(endpoint))
                .forcePathStyle(true)
                .region(software.amazon.awssdk.regions.Region.US_EAST_1)
                .build()) {
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (true) {
                try {
                    s3.createBucket(b -> b.bucket(bucket));
                    return;
                } catch (RuntimeException starting) {
                    if (System.nanoTime() > deadline) throw starting;
                    Thread.sleep(250);
                }
            }
        }
    }
}
