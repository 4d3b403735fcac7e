package ipt.bench;

import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import ipt.runtime.DirectoryTree;
import ipt.runtime.KafkaSettings;
import ipt.runtime.TopicReader;
import ipt.schemas.AvroSerde;
import ipt.schemas.Document;
import ipt.schemas.Topics;
import ipt.testsupport.DemoCorpus;
import ipt.testsupport.EmbeddedKafka;
import ipt.trainer.ReplayStore;
import ipt.trainer.TrainerConfig;
import ipt.trainer.TrainerService;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * How long a trainer takes to rebuild a lost replay store from {@code ipt.documents.curated} for the demo's stream
 * (900 KB English, 400 KB Java, 400 KB German, 400 KB French; three partitions; the trainer's defaults: the demo's
 * model, 50 steps of 16 sequences a round, replay 25%, 256 MB store), beside the reference of reading the same
 * curated topic through once (read_committed, no group) in the same run. The trainer first trains the whole stream;
 * then, {@code repeats} times, its replay directory is deleted and it restarts; each rebuilt store is compared with
 * the lost one entry by entry. Medians.
 *
 * <p>Usage: {@code IPT_TORCH_THREADS=1 bench/run ReplayRebuildBenchmark [repeats, default 3]}
 */
public final class ReplayRebuildBenchmark {
    private ReplayRebuildBenchmark() {}

    public static void main(String[] args) throws Exception {
        int repeats = args.length > 0 ? Integer.parseInt(args[0]) : 3;
        Path work = Files.createTempDirectory("ipt-replay-rebuild");
        try (EmbeddedKafka broker = EmbeddedKafka.start()) {
            Map<String, Object> kafka = KafkaSettings.of(broker.bootstrapServers());
            try (Admin admin = Admin.create(kafka)) {
                Topics.ensure(admin, Topics.specs(3), (short) 1);
            }
            long[] published = publishDemoStream(kafka);
            TrainerConfig.Steering st = TrainerConfig.of("bench", work, 0.25).steering();
            // No evaluator: rounds do not wait for reports. A round starts 2 s after the stream goes quiet, as in the
            // demo; an idle partition holds the others back 1 s.
            TrainerConfig config = TrainerConfig.of("bench", work, 0.25)
                    .withRounds(50, 16, Duration.ofSeconds(2))
                    .withPartitionWait(Duration.ofSeconds(1))
                    .with(new TrainerConfig.Steering(st.floor(), 0, Duration.ZERO, st.recovery(), st.keep()));
            long trainStart = System.nanoTime();
            TrainerService trainer = TrainerService.start(kafka, config, new PrometheusRegistry());
            long version = trainedAll(trainer, published[1]);
            trainer.close();
            System.out.printf(
                    "trained the demo stream (%d KB) in %.0f s: %d rounds%n",
                    published[0] >> 10, (System.nanoTime() - trainStart) / 1e9, version);
            List<ReplayStore.Entry> lost = ReplayStore.snapshotEntries(config.replayDir(), version);

            List<Double> reads = new ArrayList<>();
            List<Double> rebuilds = new ArrayList<>();
            List<Double> restarts = new ArrayList<>();
            for (int i = 0; i < repeats; i++) {
                long t = System.nanoTime();
                int records = TopicReader.readAll(kafka, Topics.CURATED.name()).size();
                reads.add((System.nanoTime() - t) / 1e9);

                DirectoryTree.delete(config.replayDir());
                PrometheusRegistry registry = new PrometheusRegistry();
                t = System.nanoTime();
                trainer = TrainerService.start(kafka, config, registry);
                while (value(registry, "ipt_trainer_replay_rebuilds", "exact") < 1) {
                    if (System.nanoTime() - t > Duration.ofMinutes(5).toNanos())
                        throw new IllegalStateException("no exact rebuild within 5 minutes");
                    Thread.sleep(20);
                }
                restarts.add((System.nanoTime() - t) / 1e9);
                rebuilds.add(value(registry, "ipt_trainer_replay_rebuild_seconds", null));
                trainer.close();
                if (!same(lost, ReplayStore.snapshotEntries(config.replayDir(), version)))
                    throw new IllegalStateException("the rebuilt store differs from the lost one");
                System.out.printf(
                        "repeat %d: %d curated records read through in %.2f s; rebuild %.2f s (restart to rebuilt"
                                + " %.2f s); %d entries equal%n",
                        i + 1, records, reads.get(i), rebuilds.get(i), restarts.get(i), lost.size());
            }
            double read = median(reads);
            double rebuild = median(rebuilds);
            System.out.printf(
                    "median over %d: rebuild of %d rounds %.2f s, restart to rebuilt %.2f s, curated read-through"
                            + " %.2f s; rebuild / read-through = %.1fx%n",
                    repeats, version, rebuild, median(restarts), read, rebuild / read);
        } finally {
            DirectoryTree.delete(work);
        }
    }

    /**
     * Publishes the demo's four phases to the curated topic as curation would (keys: document ids); returns the
     * bytes and documents published.
     */
    private static long[] publishDemoStream(Map<String, Object> kafka) {
        List<DemoCorpus.Text> texts = new ArrayList<>();
        texts.addAll(DemoCorpus.europarl("en", 900 * 1024));
        texts.addAll(DemoCorpus.java(400 * 1024));
        texts.addAll(DemoCorpus.europarl("de", 400 * 1024));
        texts.addAll(DemoCorpus.europarl("fr", 400 * 1024));
        AvroSerde<Document> serde = AvroSerde.of(Document.class);
        long bytes = 0;
        try (KafkaProducer<String, byte[]> producer =
                new KafkaProducer<>(kafka, new StringSerializer(), new ByteArraySerializer())) {
            for (DemoCorpus.Text t : texts) {
                bytes += t.text().length();
                producer.send(new ProducerRecord<>(
                        Topics.CURATED.name(),
                        t.id(),
                        serde.encode(Document.newBuilder()
                                .setId(t.id())
                                .setDomain(t.domain())
                                .setText(t.text())
                                .setSource("bench")
                                .setIngestTime(Instant.now())
                                .setMetadata(Map.of())
                                .build())));
            }
        }
        return new long[] {bytes, texts.size()};
    }

    /** The trainer's version once it has committed every one of the {@code documents}. */
    private static long trainedAll(TrainerService trainer, long documents) throws InterruptedException {
        while (trainer.status().documentsCommitted() < documents) Thread.sleep(200);
        return trainer.status().version();
    }

    private static boolean same(List<ReplayStore.Entry> a, List<ReplayStore.Entry> b) {
        if (a.size() != b.size()) return false;
        for (int i = 0; i < a.size(); i++) {
            ReplayStore.Entry x = a.get(i);
            ReplayStore.Entry y = b.get(i);
            if (!x.domain().equals(y.domain())
                    || x.version() != y.version()
                    || x.index() != y.index()
                    || !java.util.Arrays.equals(x.tokens(), y.tokens())) return false;
        }
        return true;
    }

    /** A counter's value with label outcome={@code outcome}, or a gauge's (outcome null), summed over series. */
    private static double value(PrometheusRegistry registry, String name, String outcome) {
        for (MetricSnapshot s : registry.scrape()) {
            if (!s.getMetadata().getName().equals(name)) continue;
            if (s instanceof CounterSnapshot c) {
                return c.getDataPoints().stream()
                        .filter(p -> outcome.equals(p.getLabels().get("outcome")))
                        .mapToDouble(CounterSnapshot.CounterDataPointSnapshot::getValue)
                        .sum();
            }
            return ((GaugeSnapshot) s)
                    .getDataPoints().stream()
                            .mapToDouble(GaugeSnapshot.GaugeDataPointSnapshot::getValue)
                            .sum();
        }
        return 0;
    }

    private static double median(List<Double> values) {
        List<Double> sorted = values.stream().sorted().toList();
        return sorted.get(sorted.size() / 2);
    }
}
