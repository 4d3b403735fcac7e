package ipt.bench;

import io.prometheus.metrics.model.registry.PrometheusRegistry;
import ipt.ingest.CurationConfig;
import ipt.ingest.CurationMetrics;
import ipt.ingest.CurationTopology;
import ipt.schemas.Topics;
import ipt.testsupport.SyntheticProse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.Properties;
import java.util.stream.Stream;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TopologyTestDriver;

/**
 * What the dedup horizon costs per document: the curation topology in a {@link TopologyTestDriver} (real RocksDB
 * stores, changelog writes captured in memory, no broker) over the same documents one second apart (record
 * timestamps), with {@code IPT_DEDUP_HORIZON=off} (the reference) and {@code 10m} (600 documents: the sweep
 * deletes all older ones),
 * runs alternating, each with an empty state directory. Two configurations: exact dedup alone (content filters off:
 * the horizon's share is largest) and the defaults (quality rules and MinHash near-dup).
 *
 * <p>Usage: {@code IPT_TORCH_THREADS=1 bench/run DedupHorizonCost [documents] [runs]}
 */
public final class DedupHorizonCost {
    private static final Instant T0 = Instant.parse("2026-01-01T00:00:00Z");

    public static void main(String[] args) throws Exception {
        int count = args.length > 0 ? Integer.parseInt(args[0]) : 20_000;
        int runs = args.length > 1 ? Integer.parseInt(args[1]) : 5;
        List<SyntheticProse.Doc> docs = SyntheticProse.load().documents("cost", count, 600, 5);
        List<byte[]> json = docs.stream().map(SyntheticProse.Doc::json).toList();
        System.out.printf("%d documents of ~600 chars, 1 s apart; %d runs per arm, alternating%n", count, runs);
        System.out.println("| configuration | horizon | µs/document (median) | runs | ratio to off |");
        System.out.println("|---|---|---:|---|---:|");
        for (boolean filters : new boolean[] {false, true}) {
            CurationConfig base = filters
                    ? CurationConfig.defaults()
                    : CurationConfig.defaults().withoutContentFilters();
            // Warm-up: JIT, RocksDB's native library, the corpus in cache.
            time(base.withDedupHorizon(Optional.empty()), json.subList(0, Math.min(count, 5_000)));
            List<Double> off = new ArrayList<>();
            List<Double> on = new ArrayList<>();
            for (int r = 0; r < runs; r++) {
                off.add(time(base.withDedupHorizon(Optional.empty()), json));
                on.add(time(base.withDedupHorizon(Optional.of(Duration.ofMinutes(10))), json));
            }
            String name = filters ? "defaults (quality, exact, near-dup)" : "exact dedup alone";
            double reference = median(off);
            System.out.printf("| %s | off | %.1f | %s | 1.000 |%n", name, reference, join(off));
            System.out.printf("| %s | 10m | %.1f | %s | %.3f |%n", name, median(on), join(on), median(on) / reference);
        }
    }

    /** Microseconds per document through the whole topology. */
    private static double time(CurationConfig config, List<byte[]> json) throws Exception {
        Path state = Files.createTempDirectory("dedup-cost");
        Properties props = new Properties();
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, "dedup-cost");
        props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "unused:9092");
        props.put(StreamsConfig.STATE_DIR_CONFIG, state.toString());
        try (TopologyTestDriver driver = new TopologyTestDriver(
                CurationTopology.build(config, new CurationMetrics(new PrometheusRegistry())), props)) {
            TestInputTopic<byte[], byte[]> raw =
                    driver.createInputTopic(Topics.RAW.name(), new ByteArraySerializer(), new ByteArraySerializer());
            // Outputs pile up in the driver: drained every 1,000 documents so memory stays flat.
            var curated = driver.createOutputTopic(
                    Topics.CURATED.name(), new ByteArrayDeserializer(), new ByteArrayDeserializer());
            var heldout = driver.createOutputTopic(
                    Topics.HELDOUT.name(), new ByteArrayDeserializer(), new ByteArrayDeserializer());
            var rejected = driver.createOutputTopic(
                    Topics.REJECTED.name(), new ByteArrayDeserializer(), new ByteArrayDeserializer());
            long start = System.nanoTime();
            for (int i = 0; i < json.size(); i++) {
                raw.pipeInput(json.get(i), T0.plusSeconds(i));
                if (i % 1000 == 999) {
                    curated.readRecordsToList();
                    heldout.readRecordsToList();
                    rejected.readRecordsToList();
                }
            }
            return (System.nanoTime() - start) / 1e3 / json.size();
        } finally {
            try (Stream<Path> files = Files.walk(state)) {
                files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    private static double median(List<Double> xs) {
        List<Double> sorted = new ArrayList<>(xs);
        sorted.sort(null);
        int n = sorted.size();
        return n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
    }

    private static String join(List<Double> xs) {
        return String.join(" · ", xs.stream().map(x -> String.format("%.1f", x)).toList());
    }
}
