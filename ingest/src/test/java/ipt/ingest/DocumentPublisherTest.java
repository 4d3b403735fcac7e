package ipt.ingest;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Map;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.junit.jupiter.api.Test;

class DocumentPublisherTest {
    @Test
    void producerIsIdempotentWithAllAcksWhateverTheCallerPassed() {
        Map<String, Object> props = DocumentPublisher.producerProps(Map.of(
                "bootstrap.servers",
                "b:9092",
                ProducerConfig.ACKS_CONFIG,
                "1",
                ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG,
                false));
        assertEquals("all", props.get(ProducerConfig.ACKS_CONFIG));
        assertEquals(true, props.get(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG));
        assertEquals("lz4", props.get(ProducerConfig.COMPRESSION_TYPE_CONFIG));
        assertEquals("b:9092", props.get("bootstrap.servers"));
    }
}
