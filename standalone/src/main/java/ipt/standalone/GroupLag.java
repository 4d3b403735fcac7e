package ipt.standalone;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ListOffsetsOptions;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/** How many committed records a consumer group has yet to commit past, per partition. */
final class GroupLag {
    private GroupLag() {}

    /**
     * Partitions of {@code topics}, of the group's repartition topics (a Streams app's, named after its application
     * id) and of every topic it committed offsets for, with records the group has not committed past; empty when it
     * is caught up.
     */
    static Map<TopicPartition, Long> behind(Admin admin, Map<String, Object> kafka, String group, List<String> topics)
            throws Exception {
        Map<TopicPartition, OffsetAndMetadata> committed = admin.listConsumerGroupOffsets(group)
                .partitionsToOffsetAndMetadata()
                .get();
        Map<TopicPartition, OffsetSpec> request = new HashMap<>();
        List<String> all = new ArrayList<>(topics);
        // A Streams app's repartition topics, also where the group has committed nothing yet: a record written there
        // in the transaction that committed past its raw record is still to be processed.
        for (String topic : admin.listTopics().names().get())
            if (topic.startsWith(group + "-") && topic.endsWith("-repartition")) all.add(topic);
        for (String topic : all) {
            admin.describeTopics(List.of(topic))
                    .allTopicNames()
                    .get()
                    .get(topic)
                    .partitions()
                    .forEach(p -> request.put(new TopicPartition(topic, p.partition()), OffsetSpec.latest()));
        }
        committed.keySet().forEach(tp -> request.put(tp, OffsetSpec.latest()));
        var ends = admin.listOffsets(request, new ListOffsetsOptions(IsolationLevel.READ_COMMITTED))
                .all()
                .get();
        Map<TopicPartition, Long> behind = new HashMap<>();
        for (var end : ends.entrySet()) {
            OffsetAndMetadata c = committed.get(end.getKey());
            long unread = recordsBetween(
                    kafka,
                    end.getKey(),
                    c == null ? 0 : c.offset(),
                    end.getValue().offset());
            if (unread > 0) behind.put(end.getKey(), unread);
        }
        return behind;
    }

    /**
     * Committed records in [from, end): offsets alone overstate lag, because transaction markers take
     * offsets that no consumer ever commits past.
     */
    private static long recordsBetween(Map<String, Object> kafka, TopicPartition tp, long from, long end) {
        if (from >= end) return 0;
        Map<String, Object> props = new HashMap<>(kafka);
        props.put("isolation.level", "read_committed");
        props.put("enable.auto.commit", "false");
        try (KafkaConsumer<byte[], byte[]> reader =
                new KafkaConsumer<>(props, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            reader.assign(List.of(tp));
            reader.seek(tp, from);
            long count = 0;
            while (reader.position(tp) < end) {
                for (var r : reader.poll(Duration.ofMillis(100))) if (r.offset() < end) count++;
            }
            return count;
        }
    }
}
