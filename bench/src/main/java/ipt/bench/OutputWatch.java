package ipt.bench;

import ipt.schemas.Topics;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * Watches curation's outputs (curated, held-out, rejected; read_committed, from their ends when created)
 * for a set of document ids, and says when the last of them came out.
 */
final class OutputWatch implements AutoCloseable {

    /** When the first and last watched id came out, and how many were kept (curated or held out) vs rejected. */
    record Arrivals(long firstNanos, long lastNanos, int kept, int rejected) {}

    private final KafkaConsumer<byte[], byte[]> consumer;

    OutputWatch(Map<String, Object> kafka) {
        Map<String, Object> props = new HashMap<>(kafka);
        props.put(
                ConsumerConfig.ISOLATION_LEVEL_CONFIG,
                IsolationLevel.READ_COMMITTED.toString().toLowerCase());
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        props.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 5000);
        consumer = new KafkaConsumer<>(props, new ByteArrayDeserializer(), new ByteArrayDeserializer());
        List<TopicPartition> partitions = new ArrayList<>();
        for (String topic : List.of(Topics.CURATED.name(), Topics.HELDOUT.name(), Topics.REJECTED.name())) {
            consumer.partitionsFor(topic).forEach(p -> partitions.add(new TopicPartition(topic, p.partition())));
        }
        consumer.assign(partitions);
        consumer.seekToEnd(partitions);
        partitions.forEach(consumer::position);
    }

    Arrivals await(Set<String> ids, Duration timeout) throws TimeoutException {
        long deadline = System.nanoTime() + timeout.toNanos();
        long first = 0;
        long last = 0;
        int kept = 0;
        int rejected = 0;
        while (kept + rejected < ids.size()) {
            if (System.nanoTime() > deadline) {
                throw new TimeoutException(
                        (kept + rejected) + " of " + ids.size() + " documents came out of curation in " + timeout);
            }
            for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(100))) {
                boolean isRejection = Topics.REJECTED.holds(r);
                String id = isRejection
                        ? Topics.REJECTED.value(r).getDocumentId()
                        : (Topics.CURATED.holds(r) ? Topics.CURATED : Topics.HELDOUT)
                                .value(r)
                                .getId();
                if (id == null || !ids.contains(id)) continue;
                long now = System.nanoTime();
                if (first == 0) first = now;
                last = now;
                if (isRejection) rejected++;
                else kept++;
            }
        }
        return new Arrivals(first, last, kept, rejected);
    }

    @Override
    public void close() {
        consumer.close();
    }
}
