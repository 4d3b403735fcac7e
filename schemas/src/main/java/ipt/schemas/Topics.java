package ipt.schemas;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.serialization.Serdes;

/**
 * The topics ipt talks through, each declared once: name, key and value types and encoding, partitions and configs.
 * Curated, held-out, checkpoint and evaluation history is kept forever: it is the record of what every model was
 * trained and judged on. The champion pointer is compacted, keyed by lineage.
 */
public final class Topics {
    private static final String FOREVER = "-1";
    private static final String WEEK = String.valueOf(7L * 24 * 3600 * 1000);
    /** Largest record on the document topics: a document at the longest text curation accepts, with room to spare. */
    public static final int MAX_DOCUMENT_RECORD_BYTES = 16 << 20;

    private static final String DOCUMENT_BYTES = String.valueOf(MAX_DOCUMENT_RECORD_BYTES);

    /**
     * Whatever producers send, keyed by document id: Avro {@link Document} or JSON. Bytes, because curation must
     * dead-letter what does not decode, with the original bytes.
     */
    public static final Topic<byte[], byte[]> RAW = new Topic<>(
            "ipt.documents.raw",
            Serdes.ByteArray(),
            Serdes.ByteArray(),
            true,
            Map.of("retention.ms", WEEK, "compression.type", "lz4", "max.message.bytes", DOCUMENT_BYTES));
    /** The train split, keyed by document id. */
    public static final Topic<String, Document> CURATED = new Topic<>(
            "ipt.documents.curated",
            Serdes.String(),
            AvroSerde.of(Document.class),
            true,
            Map.of("retention.ms", FOREVER, "compression.type", "lz4", "max.message.bytes", DOCUMENT_BYTES));
    /** The eval split by hash of the id, never trained on. */
    public static final Topic<String, Document> HELDOUT = new Topic<>(
            "ipt.documents.heldout",
            Serdes.String(),
            AvroSerde.of(Document.class),
            false,
            Map.of("retention.ms", FOREVER, "compression.type", "lz4", "max.message.bytes", DOCUMENT_BYTES));
    /** Reason code, stage and the original bytes: room for a raw record at the size limit. */
    public static final Topic<String, RejectedDocument> REJECTED = new Topic<>(
            "ipt.documents.rejected",
            Serdes.String(),
            AvroSerde.of(RejectedDocument.class),
            false,
            Map.of("retention.ms", String.valueOf(30L * 24 * 3600 * 1000), "max.message.bytes", DOCUMENT_BYTES));
    /** Keyed by lineage, written in the trainer's transaction. */
    public static final Topic<String, CheckpointPublished> CHECKPOINTS = new Topic<>(
            "ipt.checkpoints",
            Serdes.String(),
            AvroSerde.of(CheckpointPublished.class),
            false,
            Map.of("retention.ms", FOREVER));
    /** Every decision, keyed by lineage; manual promotions too. */
    public static final Topic<String, EvaluationReport> EVALUATIONS = new Topic<>(
            "ipt.evaluations",
            Serdes.String(),
            AvroSerde.of(EvaluationReport.class),
            false,
            Map.of("retention.ms", FOREVER));
    /** The champion pointer, keyed by lineage. */
    public static final Topic<String, Promotion> PROMOTIONS = new Topic<>(
            "ipt.promotions",
            Serdes.String(),
            AvroSerde.of(Promotion.class),
            false,
            Map.of("cleanup.policy", "compact", "min.compaction.lag.ms", "0"));

    /**
     * Holds on checkpoints (pins, promotions under way) and retirements by retention, keyed by
     * {@code lineage/vN/pin|promote|retire}. One partition: its order decides whether a hold came before a
     * retirement.
     */
    public static final Topic<String, RetentionMark> RETENTION = new Topic<>(
            "ipt.retention",
            Serdes.String(),
            AvroSerde.of(RetentionMark.class),
            false,
            Map.of("cleanup.policy", "compact", "min.compaction.lag.ms", String.valueOf(24L * 3600 * 1000)));

    /** A document as ipt's own producers write it on {@link #RAW}: Avro single-object encoding. */
    public static byte[] rawDocument(Document document) {
        return CURATED.values().serializer().serialize(RAW.name(), document);
    }

    public static final List<Topic<?, ?>> ALL =
            List.of(RAW, CURATED, HELDOUT, REJECTED, CHECKPOINTS, EVALUATIONS, PROMOTIONS, RETENTION);

    private Topics() {}

    /** Partitions of the document topics where nobody says otherwise (`ipt topics`, curation, the local pipeline). */
    public static final int DEFAULT_DOCUMENT_PARTITIONS = 3;

    public record Spec(String name, int partitions, Map<String, String> configs) {}

    /** Every topic as created, the document topics with {@code documentPartitions} partitions. */
    public static List<Spec> specs(int documentPartitions) {
        return ALL.stream()
                .map(t -> new Spec(t.name(), t.partitions(documentPartitions), t.configs()))
                .toList();
    }

    /** Creates the topics that do not exist yet; existing ones are left as they are. */
    public static void ensure(Admin admin, List<Spec> specs, short replicationFactor)
            throws InterruptedException, ExecutionException {
        Set<String> existing = admin.listTopics().names().get();
        List<NewTopic> missing = specs.stream()
                .filter(s -> !existing.contains(s.name()))
                .map(s -> new NewTopic(s.name(), Optional.of(s.partitions()), Optional.of(replicationFactor))
                        .configs(s.configs()))
                .collect(Collectors.toList());
        if (missing.isEmpty()) return;
        try {
            admin.createTopics(missing).all().get();
        } catch (ExecutionException e) {
            if (!(e.getCause() instanceof TopicExistsException)) throw e;
        }
    }
}
