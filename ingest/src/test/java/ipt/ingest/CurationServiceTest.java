package ipt.ingest;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.streams.StreamsConfig;
import org.junit.jupiter.api.Test;

class CurationServiceTest {
    @Test
    void runsExactlyOnceUnderItsApplicationIdWithTheGivenStateDir() {
        Properties props = CurationService.streamsProps(
                Map.of(
                        "bootstrap.servers",
                        "b:9092",
                        "replication.factor",
                        "3",
                        "processing.guarantee",
                        "at_least_once"),
                Path.of("/tmp/state"));
        assertEquals("ipt-curation", props.get(StreamsConfig.APPLICATION_ID_CONFIG));
        assertEquals(StreamsConfig.EXACTLY_ONCE_V2, props.get(StreamsConfig.PROCESSING_GUARANTEE_CONFIG));
        assertEquals("/tmp/state", props.get(StreamsConfig.STATE_DIR_CONFIG));
        assertEquals("3", props.get(StreamsConfig.REPLICATION_FACTOR_CONFIG));
        assertEquals("b:9092", props.get(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG));
        // Every key must be one Kafka Streams understands, or a prefixed client/topic setting.
        new StreamsConfig(props);
    }
}
