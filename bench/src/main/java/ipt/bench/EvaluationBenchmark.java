package ipt.bench;

import io.prometheus.metrics.model.registry.PrometheusRegistry;
import ipt.checkpoints.Checkpoint;
import ipt.evaluator.EvaluatorConfig;
import ipt.evaluator.EvaluatorService;
import ipt.model.GptConfig;
import ipt.model.TrainConfig;
import ipt.model.Training;
import ipt.runtime.KafkaSettings;
import ipt.schemas.CheckpointPublished;
import ipt.schemas.Document;
import ipt.schemas.Topics;
import ipt.testsupport.EmbeddedKafka;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * The evaluator's speed. (1) Forward-only evaluation tokens/s (LanguageModel.loss: batches of 16, no
 * gradients) against the trainer's training tokens/s on the same model in the same run, the default model
 * GptConfig.small(). (2) On the embedded broker, with the real EvaluatorService and two held-out domains: the
 * latency from a checkpoint being published on ipt.checkpoints to its promotion being on ipt.promotions,
 * against a plain produce-to-consume round trip on the same broker; meanwhile a trainer thread keeps training
 * another model, and its tokens/s is compared with training alone.
 *
 * <p>Usage: {@code bench/run EvaluationBenchmark [runs, default 5] [checkpoints, default 10]}
 */
public final class EvaluationBenchmark {
    private static final int BATCH = 16;
    private static final int HELD_OUT = EvaluatorConfig.HELD_OUT_TOKENS;

    private EvaluationBenchmark() {}

    public static void main(String[] args) throws Exception {
        int runs = args.length > 0 ? Integer.parseInt(args[0]) : 5;
        int candidates = args.length > 1 ? Integer.parseInt(args[1]) : 10;
        GptConfig config = GptConfig.small();
        SplittableRandom random = new SplittableRandom(11);
        double trainAlone;
        try (Training model = Training.create(config, TrainConfig.defaults())) {
            List<int[]> heldOut = new ArrayList<>();
            for (int i = 0; i < HELD_OUT / (config.contextLength() + 1); i++) heldOut.add(batch(config, random, 1)[0]);
            long heldOutTokens = heldOut.stream().mapToLong(s -> s.length - 1).sum();
            for (int s = 0; s < 10; s++) {
                model.trainStep(batch(config, random, BATCH), 1e-3f);
                model.model().loss(heldOut);
            }
            List<Double> train = new ArrayList<>();
            List<Double> evaluate = new ArrayList<>();
            for (int r = 0; r < runs; r++) {
                long start = System.nanoTime();
                for (int s = 0; s < 20; s++) model.trainStep(batch(config, random, BATCH), 1e-3f);
                train.add(20.0 * BATCH * config.contextLength() / seconds(start));
                start = System.nanoTime();
                for (int s = 0; s < 5; s++) model.model().loss(heldOut);
                evaluate.add(5.0 * heldOutTokens / seconds(start));
            }
            trainAlone = median(train);
            System.out.printf(
                    "%nDJL %s, PyTorch engine threads %s; %s; %d runs, medians%n",
                    ai.djl.engine.Engine.getInstance().getVersion(),
                    System.getProperty("ai.djl.pytorch.num_threads", "default"),
                    config,
                    runs);
            System.out.printf("%-58s %10s %7s   %s%n", "measure", "tokens/s", "ratio", "runs");
            System.out.printf(
                    "%-58s %10.0f %7.3f   %s%n",
                    "training step, batch 16 (reference)", trainAlone, 1.0, list(train, "%.0f"));
            System.out.printf(
                    "%-58s %10.0f %7.3f   %s%n",
                    "evaluation, forward only, " + heldOut.size() + " sequences of " + (config.contextLength() + 1),
                    median(evaluate),
                    median(evaluate) / trainAlone,
                    list(evaluate, "%.0f"));
            System.out.printf(
                    "RESULT eval_tokens_per_s=%.1f train_tokens_per_s=%.1f ratio=%.3f%n",
                    median(evaluate), trainAlone, median(evaluate) / trainAlone);
        }
        latency(config, candidates, trainAlone);
    }

    private static void latency(GptConfig config, int candidates, double trainAlone) throws Exception {
        Path work = Files.createTempDirectory("ipt-bench-evaluation");
        try (EmbeddedKafka broker = EmbeddedKafka.start()) {
            Map<String, Object> kafka = KafkaSettings.of(broker.bootstrapServers());
            try (Admin admin = Admin.create(kafka)) {
                Topics.ensure(admin, Topics.specs(1), (short) 1);
            }
            List<Double> roundTrips = roundTrips(kafka, 20);
            PrometheusRegistry registry = new PrometheusRegistry();
            EvaluatorService evaluator =
                    EvaluatorService.start(kafka, EvaluatorConfig.of(work, 0.5, HELD_OUT), registry);
            AtomicBoolean training = new AtomicBoolean(true);
            AtomicLong trainedTokens = new AtomicLong();
            Thread trainer = new Thread(
                    () -> {
                        SplittableRandom random = new SplittableRandom(5);
                        try (Training other = Training.create(config, TrainConfig.defaults())) {
                            while (training.get()) {
                                other.trainStep(batch(config, random, BATCH), 1e-3f);
                                trainedTokens.addAndGet((long) BATCH * config.contextLength());
                            }
                        }
                    },
                    "trainer");
            List<Double> latencies = new ArrayList<>();
            try (KafkaProducer<String, byte[]> producer =
                            new KafkaProducer<>(kafka, new StringSerializer(), new ByteArraySerializer());
                    KafkaConsumer<String, byte[]> promotions = consumer(kafka, Topics.PROMOTIONS.name());
                    Training model = Training.create(config, TrainConfig.defaults())) {
                SplittableRandom random = new SplittableRandom(3);
                for (String domain : List.of("en", "de")) {
                    for (int i = 0; i < 8; i++) {
                        producer.send(Topics.HELDOUT.record(
                                domain + i,
                                Document.newBuilder()
                                        .setId(domain + i)
                                        .setDomain(domain)
                                        .setText(text(random, HELD_OUT / 6))
                                        .setSource("bench")
                                        .setIngestTime(Instant.now())
                                        .setMetadata(Map.of())
                                        .build()));
                    }
                }
                producer.flush();
                trainer.start();
                long trainStart = System.nanoTime();
                for (long v = 1; v <= candidates + 1; v++) {
                    for (int s = 0; s < 3; s++) model.trainStep(batch(config, random, BATCH), 1e-3f);
                    Checkpoint c = Checkpoint.write(
                            work.resolve("checkpoints").resolve("bench"),
                            String.format("v%06d", v),
                            new Checkpoint.Manifest(
                                    Checkpoint.FORMAT_VERSION,
                                    "bench",
                                    v,
                                    null,
                                    config,
                                    model.model().architecture(),
                                    model.step(),
                                    0,
                                    Map.of("ipt.documents.curated-0", v),
                                    5.0,
                                    System.currentTimeMillis(),
                                    Map.of()),
                            model,
                            Map.of());
                    CheckpointPublished event = CheckpointPublished.newBuilder()
                            .setLineage("bench")
                            .setVersion(v)
                            .setLocation(c.dir().toString())
                            .setSha256(c.sha256())
                            .setStep(model.step())
                            .setTokensSeen(0)
                            .setDocuments(0)
                            .setOffsets(List.of())
                            .setTrainLoss(5.0)
                            .setCreatedAt(Instant.now())
                            .build();
                    long published = System.nanoTime();
                    producer.send(Topics.CHECKPOINTS.record("bench", event)).get();
                    awaitPromotion(promotions, v);
                    // v1 is the lineage's first (no champion to score): the figures are for judging against a champion.
                    if (v > 1) latencies.add((System.nanoTime() - published) / 1e6);
                }
                training.set(false);
                trainer.join();
                double trainDuring = trainedTokens.get() / seconds(trainStart);
                System.out.printf(
                        "%n%d checkpoints of %s judged against the champion on 2 held-out domains of %d "
                                + "tokens, medians (ms):%n",
                        candidates, config, HELD_OUT);
                System.out.printf(
                        "%-58s %10.1f %7.3f   %s%n",
                        "Kafka produce -> consume round trip (reference)",
                        median(roundTrips),
                        1.0,
                        list(roundTrips, "%.1f"));
                System.out.printf(
                        "%-58s %10.1f %7.1f   %s%n",
                        "checkpoint published -> promotion on ipt.promotions",
                        median(latencies),
                        median(latencies) / median(roundTrips),
                        list(latencies, "%.0f"));
                System.out.printf(
                        "%-58s %10.0f %7.3f%n",
                        "trainer tokens/s meanwhile (vs training alone)", trainDuring, trainDuring / trainAlone);
                System.out.printf(
                        "RESULT decision_latency_ms=%.1f round_trip_ms=%.2f trainer_share=%.3f%n",
                        median(latencies), median(roundTrips), trainDuring / trainAlone);
            } finally {
                training.set(false);
                evaluator.close();
            }
        }
    }

    private static void awaitPromotion(KafkaConsumer<String, byte[]> promotions, long version) {
        long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
        while (System.nanoTime() < deadline) {
            for (ConsumerRecord<String, byte[]> r : promotions.poll(Duration.ofMillis(5))) {
                if (Topics.PROMOTIONS.value(r).getVersion() == version) return;
            }
        }
        throw new IllegalStateException("v" + version + " was not promoted within 2 minutes (see the evaluator's log)");
    }

    /** Milliseconds from send to a consumer's poll returning the record, on the same broker. */
    private static List<Double> roundTrips(Map<String, Object> kafka, int count) throws Exception {
        List<Double> out = new ArrayList<>();
        try (KafkaProducer<String, byte[]> producer =
                        new KafkaProducer<>(kafka, new StringSerializer(), new ByteArraySerializer());
                KafkaConsumer<String, byte[]> consumer = consumer(kafka, Topics.REJECTED.name())) {
            for (int i = 0; i < count + 3; i++) {
                long start = System.nanoTime();
                producer.send(new ProducerRecord<>(Topics.REJECTED.name(), "ping", new byte[100]))
                        .get();
                while (consumer.poll(Duration.ofMillis(5)).isEmpty()) {
                    // until it arrives
                }
                if (i >= 3) out.add((System.nanoTime() - start) / 1e6);
            }
        }
        return out;
    }

    private static KafkaConsumer<String, byte[]> consumer(Map<String, Object> kafka, String topic) {
        Map<String, Object> props = new HashMap<>(kafka);
        props.put("isolation.level", "read_committed");
        props.put("enable.auto.commit", "false");
        KafkaConsumer<String, byte[]> consumer =
                new KafkaConsumer<>(props, new StringDeserializer(), new ByteArrayDeserializer());
        List<TopicPartition> partitions = consumer.partitionsFor(topic).stream()
                .map(p -> new TopicPartition(topic, p.partition()))
                .toList();
        consumer.assign(partitions);
        consumer.seekToEnd(partitions);
        partitions.forEach(consumer::position); // resolve now: records sent from here on are read
        return consumer;
    }

    private static String text(SplittableRandom random, int length) {
        StringBuilder s = new StringBuilder();
        while (s.length() < length) {
            for (int i = 1 + random.nextInt(9); i > 0; i--) s.append((char) ('a' + random.nextInt(26)));
            s.append(' ');
        }
        return s.toString();
    }

    private static int[][] batch(GptConfig config, SplittableRandom random, int rows) {
        int[][] out = new int[rows][config.contextLength() + 1];
        for (int[] row : out) for (int i = 0; i < row.length; i++) row[i] = random.nextInt(256);
        return out;
    }

    private static double seconds(long start) {
        return (System.nanoTime() - start) / 1e9;
    }

    private static double median(List<Double> values) {
        List<Double> sorted = values.stream().sorted().toList();
        return sorted.get(sorted.size() / 2);
    }

    private static String list(List<Double> values, String format) {
        return values.stream().map(v -> String.format(format, v)).collect(Collectors.joining(" "));
    }
}
