package ipt.schemas;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.errors.SerializationException;
import org.junit.jupiter.api.Test;

class TopicsTest {
    private static final Document DOC = Document.newBuilder()
            .setId("d1")
            .setDomain("en")
            .setText("hello")
            .setSource("test")
            .setIngestTime(Instant.ofEpochMilli(1_000))
            .setMetadata(Map.of())
            .build();

    @Test
    void aRecordWrittenThroughItsTopicReadsBackThroughIt() {
        ProducerRecord<String, byte[]> sent = Topics.CURATED.record("d1", DOC);
        assertEquals("ipt.documents.curated", sent.topic());
        assertEquals("d1", sent.key());
        assertEquals(DOC, Topics.CURATED.value(received(sent.topic(), sent.value())));
    }

    @Test
    void aRecordOfAnotherTopicOrBytesThatDoNotDecodeAreRefused() {
        byte[] doc = Topics.CURATED.record("d1", DOC).value();
        assertThrows(
                IllegalArgumentException.class, () -> Topics.CHECKPOINTS.value(received(Topics.CURATED.name(), doc)));
        assertThrows(
                SerializationException.class,
                () -> Topics.CURATED.value(received(Topics.CURATED.name(), new byte[] {1, 2, 3})));
    }

    @Test
    void theRawTopicCarriesBytesAndOwnProducersWriteAvroDocuments() {
        byte[] raw = Topics.rawDocument(DOC);
        assertArrayEquals(raw, Topics.RAW.record("d1".getBytes(), raw).value(), "raw values go out as they are");
        assertEquals(DOC, AvroSerde.of(Document.class).decode(raw));
    }

    @Test
    void everyTopicIsCreatedFromItsDeclaration() {
        Set<String> names = Topics.specs(6).stream().map(Topics.Spec::name).collect(Collectors.toSet());
        assertEquals(Topics.ALL.size(), names.size());
        assertEquals(
                6,
                Topics.specs(6).stream()
                        .filter(s -> s.name().equals(Topics.CURATED.name()))
                        .findFirst()
                        .orElseThrow()
                        .partitions());
        assertEquals(
                1,
                Topics.specs(6).stream()
                        .filter(s -> s.name().equals(Topics.PROMOTIONS.name()))
                        .findFirst()
                        .orElseThrow()
                        .partitions());
        assertEquals(
                "compact",
                Topics.specs(1).stream()
                        .filter(s -> s.name().equals(Topics.PROMOTIONS.name()))
                        .findFirst()
                        .orElseThrow()
                        .configs()
                        .get("cleanup.policy"));
        // A lost replay store is rebuilt from the curated records the checkpoints committed: both kept forever.
        for (String kept : List.of(Topics.CURATED.name(), Topics.CHECKPOINTS.name())) {
            assertEquals(
                    "-1",
                    Topics.specs(3).stream()
                            .filter(s -> s.name().equals(kept))
                            .findFirst()
                            .orElseThrow()
                            .configs()
                            .get("retention.ms"),
                    kept);
        }
    }

    private static ConsumerRecord<String, byte[]> received(String topic, byte[] value) {
        return new ConsumerRecord<>(topic, 0, 0L, "k", value);
    }
}
