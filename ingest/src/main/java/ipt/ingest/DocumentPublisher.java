package ipt.ingest;

import ipt.schemas.Document;
import ipt.schemas.Topics;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * Publishes Avro documents to {@code ipt.documents.raw}, keyed by id, through an idempotent producer with
 * {@code acks=all}: a completed future means the document is on every in-sync replica.
 */
public final class DocumentPublisher implements DocumentSink {

    private final Producer<byte[], byte[]> producer;

    public DocumentPublisher(Map<String, Object> kafkaProps) {
        this(new KafkaProducer<>(producerProps(kafkaProps)));
    }

    /** Over a given producer (a {@code MockProducer} in tests); the publisher closes it. */
    DocumentPublisher(Producer<byte[], byte[]> producer) {
        this.producer = producer;
    }

    /** The producer settings the publisher uses over {@code kafkaProps} (benchmarks reuse them for a like-for-like
     * reference). */
    public static Map<String, Object> producerProps(Map<String, Object> kafkaProps) {
        Map<String, Object> props = new HashMap<>(kafkaProps);
        props.put(ProducerConfig.ACKS_CONFIG, "all");
        props.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        props.putIfAbsent(ProducerConfig.COMPRESSION_TYPE_CONFIG, "lz4");
        props.putIfAbsent(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, Topics.MAX_DOCUMENT_RECORD_BYTES);
        props.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        props.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        return props;
    }

    /** Completes when the broker acknowledged the document, or exceptionally with why it was not. */
    @Override
    public CompletableFuture<RecordMetadata> send(Document document) {
        CompletableFuture<RecordMetadata> acked = new CompletableFuture<>();
        try {
            ProducerRecord<byte[], byte[]> record =
                    Topics.RAW.record(document.getId().getBytes(StandardCharsets.UTF_8), Topics.rawDocument(document));
            producer.send(record, (metadata, error) -> {
                if (error != null) acked.completeExceptionally(error);
                else acked.complete(metadata);
            });
        } catch (RuntimeException e) {
            acked.completeExceptionally(e);
        }
        return acked;
    }

    @Override
    public void flush() {
        producer.flush();
    }

    @Override
    public void close() {
        producer.close();
    }
}
