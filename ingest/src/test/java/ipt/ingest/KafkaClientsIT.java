package ipt.ingest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import ipt.runtime.KafkaSettings;
import ipt.schemas.AvroSerde;
import ipt.schemas.Document;
import ipt.schemas.Topics;
import ipt.testsupport.EmbeddedKafka;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The README's "any Kafka client" examples, run as written against the embedded broker and real curation. */
class KafkaClientsIT {
    private static final AvroSerde<Document> DOCUMENTS = AvroSerde.of(Document.class);
    private static final String AVRO_TEXT =
            "Fishing quotas for the coming year were set after the scientists presented their"
                    + " assessment of the stocks in the northern waters. Several members warned that "
                    + "coastal communities depend on the"
                    + " fleet, and asked for support for those who will have to stay in port for part of the season.";
    private static final String JSON_TEXT =
            "The new railway line between the two cities opened last spring, and the number of"
                    + " passengers has grown every month since then. The operator now plans to run more "
                    + "trains in the evening and to"
                    + " lower the price of tickets for students and for people over the age of sixty.";
    private static final String TEXT =
            "The committee approved the proposal after a long debate on the budget. Members of the"
                    + " house asked the commission to report on the results of the programme before the end "
                    + "of the year, and to explain"
                    + " how the funds were spent in each of the regions that took part in it.";

    @TempDir
    static Path work;

    private static EmbeddedKafka broker;
    private static CurationService curation;

    @BeforeAll
    static void start() throws Exception {
        broker = EmbeddedKafka.start();
        Map<String, Object> kafka = KafkaSettings.of(broker.bootstrapServers());
        try (Admin admin = Admin.create(kafka)) {
            Topics.ensure(admin, Topics.specs(3), (short) 1);
        }
        curation = CurationService.start(
                kafka,
                CurationConfig.defaults().withHeldoutFraction(0),
                work.resolve("streams"),
                new PrometheusRegistry());
    }

    @AfterAll
    static void stop() {
        curation.close();
        broker.close();
    }

    @Test
    void theJavaClientExamplePublishesAvroAndJson() throws Exception {
        Properties props = new Properties();
        props.put("bootstrap.servers", broker.bootstrapServers());
        props.put("acks", "all");
        props.put("enable.idempotence", "true");
        try (var producer = new KafkaProducer<>(props, new StringSerializer(), new ByteArraySerializer())) {
            Document doc = Document.newBuilder()
                    .setId("doc-2")
                    .setDomain("en")
                    .setText(AVRO_TEXT)
                    .setSource("my-crawler")
                    .setIngestTime(Instant.now())
                    .setMetadata(Map.of("url", "https://example.org/a"))
                    .build();
            ByteBuffer avro = doc.toByteBuffer();
            byte[] value = new byte[avro.remaining()];
            avro.get(value);
            producer.send(new ProducerRecord<>("ipt.documents.raw", doc.getId(), value))
                    .get();
            byte[] json =
                    new ObjectMapper().writeValueAsBytes(Map.of("id", "doc-3", "domain", "en", "text", JSON_TEXT));
            producer.send(new ProducerRecord<>("ipt.documents.raw", "doc-3", json))
                    .get();
        }
        Map<String, Document> out = curated(Set.of("doc-2", "doc-3"));
        assertEquals(Map.of("url", "https://example.org/a"), out.get("doc-2").getMetadata());
        assertEquals("my-crawler", out.get("doc-2").getSource());
        assertEquals("kafka:ipt.documents.raw", out.get("doc-3").getSource());
    }

    @Test
    void theKcatExamplePublishesJson() throws Exception {
        assumeTrue(new ProcessBuilder("sh", "-c", "command -v kcat").start().waitFor() == 0, "kcat is not installed");
        String line = "doc-1|{\"id\":\"doc-1\",\"domain\":\"en\",\"text\":\"" + TEXT + "\"}";
        Process kcat = new ProcessBuilder(
                        "kcat", "-P", "-b", broker.bootstrapServers(), "-t", "ipt.documents.raw", "-K", "|")
                .redirectErrorStream(true)
                .start();
        kcat.getOutputStream().write((line + "\n").getBytes(StandardCharsets.UTF_8));
        kcat.getOutputStream().close();
        assertEquals(true, kcat.waitFor(60, TimeUnit.SECONDS), "kcat finished");
        assertEquals(0, kcat.exitValue(), new String(kcat.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
        assertEquals(TEXT, curated(Set.of("doc-1")).get("doc-1").getText());
    }

    /** The curated documents with these ids, waiting up to a minute for all of them. */
    private static Map<String, Document> curated(Set<String> ids) {
        Map<String, Object> props = new HashMap<>(KafkaSettings.of(broker.bootstrapServers()));
        props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        props.put(ConsumerConfig.GROUP_ID_CONFIG, "readme-check-" + System.nanoTime());
        props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        Map<String, Document> found = new HashMap<>();
        try (var consumer = new KafkaConsumer<>(props, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            consumer.subscribe(List.of(Topics.CURATED.name()));
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (!found.keySet().containsAll(ids) && System.nanoTime() < deadline) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                    Document d = DOCUMENTS.decode(r.value());
                    if (ids.contains(d.getId())) found.put(d.getId(), d);
                }
            }
        }
        assertEquals(ids, found.keySet(), "curated in time");
        return found;
    }
}
