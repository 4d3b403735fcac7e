package ipt.schemas;

import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.Serde;

/**
 * One topic: its name, what its keys and values are and how they are encoded, and what it is created with.
 * Producers and consumers encode and decode through it, so which type goes on which topic is said once.
 *
 * @param documentPartitions whether it has the document topics' partition count, or one partition
 */
public record Topic<K, V>(
        String name, Serde<K> keys, Serde<V> values, boolean documentPartitions, Map<String, String> configs) {
    public Topic {
        configs = Map.copyOf(configs);
    }

    /** A record for this topic, its value encoded as declared; the producer's key serializer is the declared one. */
    public ProducerRecord<K, byte[]> record(K key, V value) {
        return new ProducerRecord<>(name, key, values.serializer().serialize(name, value));
    }

    /** The value of a record read from this topic; a {@code SerializationException} says why it does not decode. */
    public V value(ConsumerRecord<?, byte[]> record) {
        if (!name.equals(record.topic()))
            throw new IllegalArgumentException("a record of " + record.topic() + ", not " + name);
        return values.deserializer().deserialize(name, record.value());
    }

    /** Whether a record was read from this topic. */
    public boolean holds(ConsumerRecord<?, ?> record) {
        return name.equals(record.topic());
    }

    int partitions(int documentPartitionCount) {
        return documentPartitions ? documentPartitionCount : 1;
    }
}
