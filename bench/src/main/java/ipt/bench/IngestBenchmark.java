package ipt.bench;

import io.prometheus.metrics.model.registry.PrometheusRegistry;
import ipt.ingest.CurationConfig;
import ipt.ingest.CurationService;
import ipt.ingest.DocumentPublisher;
import ipt.ingest.HttpDocumentSink;
import ipt.ingest.IngestApi;
import ipt.ingest.IngestApiConfig;
import ipt.runtime.KafkaSettings;
import ipt.schemas.Document;
import ipt.schemas.Topics;
import ipt.testsupport.EmbeddedKafka;
import ipt.testsupport.SyntheticProse;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.tools.ProducerPerformance;

/**
 * Documents/s of ~1 KB real-prose documents through ipt's ingest paths, side by side with Kafka's own
 * {@code ProducerPerformance} sending the same documents' bytes with the same producer settings to the same
 * embedded broker, in the same process. Each path runs {@code repeats} times on fresh documents; medians.
 *
 * <p>Usage: {@code bench/run IngestBenchmark [documents per run, default 20000] [repeats, default 3]}
 */
public final class IngestBenchmark {
    private static final String REFERENCE_TOPIC = "ipt.bench.reference";
    private static final int DOC_BYTES = 1024;
    private static final Pattern RECORDS_PER_SEC = Pattern.compile("records sent, ([0-9.]+) records/sec");

    private final SyntheticProse corpus = SyntheticProse.load();
    private final Map<String, Object> kafka;
    private final Path work;
    private final int documents;
    private CurationService curation;
    private List<Document> backlog;

    private IngestBenchmark(Map<String, Object> kafka, Path work, int documents) {
        this.kafka = kafka;
        this.work = work;
        this.documents = documents;
    }

    public static void main(String[] args) throws Exception {
        int documents = args.length > 0 ? Integer.parseInt(args[0]) : 20_000;
        int repeats = args.length > 1 ? Integer.parseInt(args[1]) : 3;
        Path work = Files.createTempDirectory("ipt-bench-ingest");
        try (EmbeddedKafka broker = EmbeddedKafka.start()) {
            Map<String, Object> kafka = KafkaSettings.of(broker.bootstrapServers());
            try (Admin admin = Admin.create(kafka)) {
                Topics.ensure(admin, Topics.specs(3), (short) 1);
                admin.createTopics(List.of(new NewTopic(REFERENCE_TOPIC, 3, (short) 1)))
                        .all()
                        .get();
            }
            new IngestBenchmark(kafka, work, documents).run(repeats);
        }
    }

    private void run(int repeats) throws Exception {
        Map<String, List<Double>> rates = new LinkedHashMap<>();
        for (int r = 0; r < repeats; r++) {
            rates.computeIfAbsent("ProducerPerformance (reference)", k -> new ArrayList<>())
                    .add(producerPerformance(r));
            rates.computeIfAbsent("ipt publisher to raw, acked (curation stopped)", k -> new ArrayList<>())
                    .add(publishOnly(r));
            rates.computeIfAbsent("curation draining that backlog", k -> new ArrayList<>())
                    .add(drain(r));
            rates.computeIfAbsent("Kafka path: publish -> curated/held-out", k -> new ArrayList<>())
                    .add(endToEnd(r));
            double[] http = httpEndToEnd(r);
            rates.computeIfAbsent("HTTP API, acked (batches of 500, 4 in flight)", k -> new ArrayList<>())
                    .add(http[0]);
            rates.computeIfAbsent("HTTP path: POST -> curated/held-out", k -> new ArrayList<>())
                    .add(http[1]);
            curation.close();
        }
        double reference = median(rates.get("ProducerPerformance (reference)"));
        System.out.printf(
                "%n%d documents of ~%d B per run, %d runs, medians (docs/s):%n", documents, DOC_BYTES, repeats);
        System.out.printf("%-50s %12s %9s   %s%n", "path", "docs/s", "ratio", "runs");
        rates.forEach((path, values) -> System.out.printf(
                "%-50s %12.0f %9.3f   %s%n",
                path,
                median(values),
                median(values) / reference,
                values.stream().map(v -> String.format("%.0f", v)).collect(Collectors.joining(" "))));
    }

    /** Kafka's producer benchmark, fed the JSON bytes of this run's documents, with the publisher's producer
     * settings. */
    private double producerPerformance(int run) throws Exception {
        Path payload = work.resolve("payload-" + run + ".jsonl");
        try (var out = Files.newOutputStream(payload)) {
            for (SyntheticProse.Doc d : corpus.documents("ref-" + run, documents, DOC_BYTES, 100 + run)) {
                out.write(d.json());
                out.write('\n');
            }
        }
        List<String> args = new ArrayList<>(List.of(
                "--topic",
                REFERENCE_TOPIC,
                "--num-records",
                String.valueOf(documents),
                "--throughput",
                "-1",
                "--payload-file",
                payload.toString(),
                "--producer-props"));
        DocumentPublisher.producerProps(kafka).forEach((k, v) -> {
            if (!k.endsWith(".serializer")) args.add(k + "=" + v);
        });
        PrintStream stdout = System.out;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
        try {
            ProducerPerformance.main(args.toArray(String[]::new));
        } finally {
            System.setOut(stdout);
        }
        Matcher m = RECORDS_PER_SEC.matcher(captured.toString(StandardCharsets.UTF_8));
        double rate = -1;
        while (m.find()) rate = Double.parseDouble(m.group(1));
        if (rate < 0) throw new IllegalStateException("no summary from ProducerPerformance:\n" + captured);
        return rate;
    }

    private List<Document> avro(String prefix, int run) {
        Instant now = Instant.now();
        return corpus.documents(prefix + "-" + run, documents, DOC_BYTES, 200 * (run + 1) + prefix.hashCode()).stream()
                .map(d -> Document.newBuilder()
                        .setId(d.id())
                        .setDomain(d.domain())
                        .setText(d.text())
                        .setSource("bench")
                        .setIngestTime(now)
                        .setMetadata(Map.of())
                        .build())
                .toList();
    }

    private static double publish(DocumentPublisher publisher, List<Document> docs) {
        long start = System.nanoTime();
        List<CompletableFuture<?>> acks = new ArrayList<>(docs.size());
        for (Document d : docs) acks.add(publisher.send(d));
        publisher.flush();
        CompletableFuture.allOf(acks.toArray(CompletableFuture[]::new)).join();
        return docs.size() / seconds(System.nanoTime() - start);
    }

    private double publishOnly(int run) {
        backlog = avro("backlog", run);
        try (DocumentPublisher publisher = new DocumentPublisher(kafka)) {
            return publish(publisher, backlog);
        }
    }

    /** Curation started on the backlog; timed from the first document out to the last (startup excluded). */
    private double drain(int run) throws Exception {
        try (OutputWatch watch = new OutputWatch(kafka)) {
            curation = CurationService.start(
                    kafka, CurationConfig.defaults(), work.resolve("streams"), new PrometheusRegistry());
            OutputWatch.Arrivals out = watch.await(ids(backlog), Duration.ofMinutes(10));
            requireAllKept(out);
            return (out.kept() + out.rejected() - 1) / seconds(out.lastNanos() - out.firstNanos());
        }
    }

    /** Curation running: from the first send to the last document out of curation. */
    private double endToEnd(int run) throws Exception {
        List<Document> docs = avro("e2e", run);
        try (OutputWatch watch = new OutputWatch(kafka);
                DocumentPublisher publisher = new DocumentPublisher(kafka)) {
            long start = System.nanoTime();
            publish(publisher, docs);
            OutputWatch.Arrivals out = watch.await(ids(docs), Duration.ofMinutes(10));
            requireAllKept(out);
            return docs.size() / seconds(out.lastNanos() - start);
        }
    }

    /** Through the ingest API with the HTTP client `ipt ingest --http` uses: [acked docs/s, end-to-end docs/s]. */
    private double[] httpEndToEnd(int run) throws Exception {
        List<Document> docs = avro("http", run);
        try (OutputWatch watch = new OutputWatch(kafka);
                IngestApi api = IngestApi.start(
                        IngestApiConfig.of("127.0.0.1", 0, "bench"),
                        kafka,
                        CurationConfig.defaults(),
                        new PrometheusRegistry())) {
            long start = System.nanoTime();
            List<CompletableFuture<?>> acks = new ArrayList<>(docs.size());
            try (HttpDocumentSink sink =
                    new HttpDocumentSink(api.url(), "bench", 500, 8 << 20, Duration.ofMinutes(1))) {
                for (Document d : docs) acks.add(sink.send(d));
            }
            CompletableFuture.allOf(acks.toArray(CompletableFuture[]::new)).join();
            double acked = docs.size() / seconds(System.nanoTime() - start);
            OutputWatch.Arrivals out = watch.await(ids(docs), Duration.ofMinutes(10));
            requireAllKept(out);
            return new double[] {acked, docs.size() / seconds(out.lastNanos() - start)};
        }
    }

    private static void requireAllKept(OutputWatch.Arrivals out) {
        // The documents are distinct prose: a rejection would mean the benchmark measures the wrong thing.
        if (out.rejected() > 0)
            System.out.println("warning: curation rejected " + out.rejected() + " benchmark documents");
    }

    private static Set<String> ids(List<Document> docs) {
        return docs.stream().map(Document::getId).collect(Collectors.toSet());
    }

    private static double seconds(long nanos) {
        return nanos / 1e9;
    }

    private static double median(List<Double> values) {
        List<Double> sorted = values.stream().sorted().toList();
        int n = sorted.size();
        return n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
    }
}
