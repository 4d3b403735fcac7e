package ipt.runtime;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;

/**
 * Reading whole topics outside any consumer group: committed records only (read_committed), every partition,
 * from the beginning, up to the end offsets as they are when asked.
 */
public final class TopicReader {
    private TopicReader() {}

    /** A reader with no group and no offset commits. */
    public static KafkaConsumer<String, byte[]> open(Map<String, Object> kafka) {
        Map<String, Object> props = new HashMap<>(kafka);
        props.put("isolation.level", "read_committed");
        props.put("enable.auto.commit", "false");
        return new KafkaConsumer<>(props, new StringDeserializer(), new ByteArrayDeserializer());
    }

    /** Assigns every partition of the topics to the reader, at their beginnings; returns them. */
    public static List<TopicPartition> fromBeginning(KafkaConsumer<?, ?> reader, String... topics) {
        List<TopicPartition> partitions = new ArrayList<>();
        for (String topic : topics)
            reader.partitionsFor(topic).forEach(p -> partitions.add(new TopicPartition(topic, p.partition())));
        reader.assign(partitions);
        reader.seekToBeginning(partitions);
        return partitions;
    }

    /** The records from the reader's positions up to the partitions' end offsets as of this call. */
    public static List<ConsumerRecord<String, byte[]>> readToEnd(
            KafkaConsumer<String, byte[]> reader, List<TopicPartition> partitions) {
        Map<TopicPartition, Long> end = reader.endOffsets(partitions);
        List<ConsumerRecord<String, byte[]>> out = new ArrayList<>();
        while (partitions.stream().anyMatch(p -> reader.position(p) < end.get(p))) {
            reader.poll(Duration.ofMillis(200)).forEach(out::add);
        }
        return out;
    }

    /** Every committed record of the topics, from their beginnings to their current ends. */
    public static List<ConsumerRecord<String, byte[]>> readAll(Map<String, Object> kafka, String... topics) {
        try (KafkaConsumer<String, byte[]> reader = open(kafka)) {
            return readToEnd(reader, fromBeginning(reader, topics));
        }
    }
}
