package ipt.standalone;

import ipt.ingest.CurationService;
import ipt.schemas.AvroSerde;
import ipt.schemas.Document;
import ipt.schemas.RejectedDocument;
import ipt.schemas.Topics;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * Everything curation committed (read_committed), once it has caught up with the raw topic: how often each id
 * came out on curated or held-out, and every rejection.
 */
record CurationOutput(Map<String, Integer> kept, List<RejectedDocument> rejected) {
    private static final AvroSerde<Document> DOCUMENTS = AvroSerde.of(Document.class);
    private static final AvroSerde<RejectedDocument> REJECTIONS = AvroSerde.of(RejectedDocument.class);

    /** Waits until curation committed past every raw and repartitioned record, then reads all three outputs. */
    static CurationOutput read(Map<String, Object> kafka, Duration timeout) throws Exception {
        try (Admin admin = Admin.create(kafka)) {
            long deadline = System.nanoTime() + timeout.toNanos();
            while (!GroupLag.behind(admin, kafka, CurationService.APPLICATION_ID, List.of(Topics.RAW.name()))
                    .isEmpty()) {
                if (System.nanoTime() > deadline)
                    throw new IllegalStateException("curation did not catch up within " + timeout);
                Thread.sleep(200);
            }
        }
        Map<String, Object> props = new HashMap<>(kafka);
        props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        props.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 5000);
        Map<String, Integer> kept = new HashMap<>();
        List<RejectedDocument> rejected = new ArrayList<>();
        try (var consumer = new KafkaConsumer<>(props, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            List<TopicPartition> partitions = new ArrayList<>();
            for (String topic : List.of(Topics.CURATED.name(), Topics.HELDOUT.name(), Topics.REJECTED.name())) {
                consumer.partitionsFor(topic).forEach(p -> partitions.add(new TopicPartition(topic, p.partition())));
            }
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            Map<TopicPartition, Long> end = consumer.endOffsets(partitions);
            while (partitions.stream().anyMatch(p -> consumer.position(p) < end.get(p))) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                    if (r.topic().equals(Topics.REJECTED.name())) rejected.add(REJECTIONS.decode(r.value()));
                    else kept.merge(DOCUMENTS.decode(r.value()).getId(), 1, Integer::sum);
                }
            }
        }
        return new CurationOutput(kept, rejected);
    }

    /**
     * Ids not accounted for exactly once: each must be kept once, or, never kept, refused for its content
     * (quality, near-dup, or the same text as another document). A re-send of the same id, rejected as a
     * duplicate of itself, never accounts for an id.
     */
    List<String> notExactlyOnce(List<String> ids) {
        Map<String, String> refusedForContent = new HashMap<>();
        for (RejectedDocument r : rejected) {
            String id = r.getDocumentId();
            boolean resent =
                    r.getReason().equals("duplicate") && r.getDetail().equals("document " + id + " was sent again");
            if (id != null && !resent) refusedForContent.put(id, r.getReason());
        }
        List<String> wrong = new ArrayList<>();
        for (String id : ids) {
            int k = kept.getOrDefault(id, 0);
            if (k > 1 || (k == 0 && !refusedForContent.containsKey(id))) wrong.add(id + " (kept " + k + "x)");
        }
        return wrong;
    }

    Map<String, Integer> rejectionsByReason() {
        Map<String, Integer> out = new TreeMap<>();
        rejected.forEach(r -> out.merge(r.getReason(), 1, Integer::sum));
        return out;
    }
}
