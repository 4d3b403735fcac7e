package ipt.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import ipt.ingest.CurationConfig;
import ipt.ingest.CurationService;
import ipt.runtime.KafkaSettings;
import ipt.schemas.AvroSerde;
import ipt.schemas.Document;
import ipt.schemas.RejectedDocument;
import ipt.schemas.Topics;
import ipt.testsupport.DemoCorpus;
import ipt.testsupport.EmbeddedKafka;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import java.util.zip.GZIPInputStream;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * The share of real documents of each writing system that default curation keeps, and why it drops the rest:
 * classical Chinese poems (Debian's fortunes-zh: a line break every 5 to 7 characters), Chinese and Japanese
 * manual pages (manpages-zh, manpages-ja; groff markup stripped) and English Europarl, published as JSON to
 * {@code ipt.documents.raw} of an embedded broker and curated by {@link CurationService} with
 * {@link CurationConfig#defaults()}. Only public API of the ingest module, so the same file runs on older trees.
 *
 * <p>Usage: {@code apt-get install fortunes-zh manpages-zh manpages-ja; bench/run ScriptCurationShare}
 */
public final class ScriptCurationShare {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern ANSI = Pattern.compile("\u001b\\[[0-9;]*m");
    private static final Pattern GROFF_ESCAPE =
            Pattern.compile("\\\\f(\\[[A-Z]*\\]|\\(..|.)|\\\\\\(..|\\\\[&|^~%]|\\\\s[-+]?[0-9]");

    private record Doc(String corpus, String id, String domain, String text) {}

    public static void main(String[] args) throws Exception {
        List<Doc> docs = new ArrayList<>();
        for (String name : List.of("tang300.u8", "song100.u8")) poems(Path.of("/usr/share/games/fortunes", name), docs);
        manPages("zh-man", "zh", List.of(Path.of("/usr/share/man/zh_CN"), Path.of("/usr/share/man/zh_TW")), docs);
        manPages("ja-man", "ja", List.of(Path.of("/usr/share/man/ja")), docs);
        for (DemoCorpus.Text t : DemoCorpus.europarl("en", 1_300_000))
            docs.add(new Doc("en-europarl", t.id(), "en", t.text()));

        Path work = Files.createTempDirectory("ipt-script-share");
        try (EmbeddedKafka broker = EmbeddedKafka.start()) {
            Map<String, Object> kafka = KafkaSettings.of(broker.bootstrapServers());
            try (Admin admin = Admin.create(kafka)) {
                Topics.ensure(admin, Topics.specs(3), (short) 1);
            }
            try (KafkaProducer<byte[], byte[]> producer =
                    new KafkaProducer<>(kafka, new ByteArraySerializer(), new ByteArraySerializer())) {
                for (Doc d : docs) {
                    byte[] json = JSON.writeValueAsBytes(Map.of("id", d.id(), "domain", d.domain(), "text", d.text()));
                    producer.send(new ProducerRecord<>(Topics.RAW.name(), json));
                }
            }
            try (CurationService curation = CurationService.start(
                    kafka, CurationConfig.defaults(), work.resolve("streams"), new PrometheusRegistry())) {
                report(docs, outcomes(kafka, docs.size()));
            }
        }
    }

    /** Fortune files: poems between lines of "%", the title and author lines coloured with ANSI escapes. */
    private static void poems(Path file, List<Doc> out) throws IOException {
        if (!Files.exists(file)) return;
        String[] poems = Files.readString(file).split("\n%\n");
        for (int i = 0; i < poems.length; i++) {
            String text = ANSI.matcher(poems[i]).replaceAll("").strip();
            if (!text.isEmpty()) out.add(new Doc("zh-poems", "poem-" + file.getFileName() + "-" + i, "zh", text));
        }
    }

    /** One document per page: groff requests dropped, font and character escapes removed. */
    private static void manPages(String corpus, String domain, List<Path> roots, List<Doc> out) throws IOException {
        for (Path root : roots) {
            if (!Files.isDirectory(root)) continue;
            List<Path> pages;
            try (Stream<Path> files = Files.walk(root)) {
                pages = files.filter(p -> p.toString().endsWith(".gz")).sorted().toList();
            }
            for (Path page : pages) {
                String groff;
                try (InputStream in = new GZIPInputStream(Files.newInputStream(page))) {
                    groff = new String(in.readAllBytes(), StandardCharsets.UTF_8);
                }
                StringBuilder text = new StringBuilder();
                for (String line : groff.split("\n")) {
                    if (line.startsWith(".") || line.startsWith("'")) continue;
                    text.append(GROFF_ESCAPE
                                    .matcher(line)
                                    .replaceAll("")
                                    .replace("\\-", "-")
                                    .replace("\\e", "\\"))
                            .append('\n');
                }
                String body = text.toString().strip();
                if (!body.isEmpty())
                    out.add(new Doc(
                            corpus, corpus + ":" + root.getFileName() + "/" + root.relativize(page), domain, body));
            }
        }
    }

    /** Id to outcome ("kept" or the rejection reason), read until every document is accounted for. */
    private static Map<String, String> outcomes(Map<String, Object> kafka, int expected) {
        AvroSerde<Document> documents = AvroSerde.of(Document.class);
        AvroSerde<RejectedDocument> rejections = AvroSerde.of(RejectedDocument.class);
        Map<String, Object> props = new HashMap<>(kafka);
        props.put(ConsumerConfig.GROUP_ID_CONFIG, "script-share");
        props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        Map<String, String> out = new HashMap<>();
        long deadline = System.nanoTime() + Duration.ofMinutes(20).toNanos();
        try (KafkaConsumer<byte[], byte[]> consumer =
                new KafkaConsumer<>(props, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            consumer.subscribe(List.of(Topics.CURATED.name(), Topics.HELDOUT.name(), Topics.REJECTED.name()));
            while (out.size() < expected && System.nanoTime() < deadline) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(500))) {
                    if (r.topic().equals(Topics.REJECTED.name())) {
                        RejectedDocument d = rejections.decode(r.value());
                        String id = d.getDocumentId();
                        if (id == null)
                            id = JSON.readTree(toBytes(d)).path("id").asText();
                        out.put(id, d.getReason());
                    } else {
                        out.put(documents.decode(r.value()).getId(), "kept");
                    }
                }
            }
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        if (out.size() < expected)
            System.out.println("warning: only " + out.size() + " of " + expected + " documents came out of curation");
        return out;
    }

    private static byte[] toBytes(RejectedDocument d) {
        byte[] b = new byte[d.getOriginalBytes().remaining()];
        d.getOriginalBytes().duplicate().get(b);
        return b;
    }

    private static void report(List<Doc> docs, Map<String, String> outcomes) {
        Map<String, int[]> totals = new LinkedHashMap<>();
        Map<String, Map<String, Integer>> reasons = new LinkedHashMap<>();
        for (Doc d : docs) {
            String outcome = outcomes.getOrDefault(d.id(), "missing");
            int[] t = totals.computeIfAbsent(d.corpus(), k -> new int[2]);
            t[0]++;
            if (outcome.equals("kept")) t[1]++;
            else reasons.computeIfAbsent(d.corpus(), k -> new TreeMap<>()).merge(outcome, 1, Integer::sum);
        }
        System.out.printf(
                "%n| corpus | documents | kept | kept share | rejected by reason |%n|---|---:|---:|---:|---|%n");
        totals.forEach((corpus, t) -> System.out.printf(
                "| %s | %d | %d | %.1f%% | %s |%n",
                corpus,
                t[0],
                t[1],
                100.0 * t[1] / t[0],
                reasons.getOrDefault(corpus, Map.of())
                        .toString()
                        .replaceAll("[{}]", "")
                        .replace("=", ": ")));
    }
}
