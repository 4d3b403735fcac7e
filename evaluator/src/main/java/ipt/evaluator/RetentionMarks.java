package ipt.evaluator;

import ipt.runtime.TopicReader;
import ipt.schemas.RetentionKind;
import ipt.schemas.RetentionMark;
import ipt.schemas.Topics;
import java.time.Instant;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * The holds on checkpoints and retention's retirements, as read from ipt.retention (one partition). A hold
 * ({@code ipt pin}, or {@code ipt promote} while it runs) counts only if it was written before the version's
 * retirement: retention writes the retirement, then reads holds, and deletes only if none came first; a holder
 * writes its hold, then reads, and gives up if a retirement came first. Whichever of the two is later in the log
 * sees the other, so a version is never both deleted and held.
 */
public final class RetentionMarks implements AutoCloseable {
    public static final String PIN = "pin";
    public static final String PROMOTE = "promote";
    static final String RETIRE = "retire";

    /** The latest mark on a key and its offset. */
    record Mark(RetentionMark value, long offset) {}

    private final KafkaProducer<String, byte[]> producer;
    private final KafkaConsumer<String, byte[]> reader;
    private final List<TopicPartition> partitions;
    private final Map<String, Mark> latest = new HashMap<>();

    RetentionMarks(Map<String, Object> kafka) {
        Map<String, Object> props = new HashMap<>(kafka);
        props.put("acks", "all");
        props.put("enable.idempotence", "true");
        this.producer = new KafkaProducer<>(props, new StringSerializer(), new ByteArraySerializer());
        this.reader = TopicReader.open(kafka);
        this.partitions = TopicReader.fromBeginning(reader, Topics.RETENTION.name());
    }

    static String key(String lineage, long version, String what) {
        return lineage + "/v" + version + "/" + what;
    }

    /** Writes a mark; returns its offset. */
    long write(String lineage, long version, String what, RetentionKind kind, String by, String reason) {
        RetentionMark mark = new RetentionMark(lineage, version, kind, by, reason, Instant.now());
        try {
            return producer.send(Topics.RETENTION.record(key(lineage, version, what), mark))
                    .get()
                    .offset();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new KafkaException("interrupted writing " + key(lineage, version, what), e);
        } catch (ExecutionException e) {
            throw new KafkaException("writing " + key(lineage, version, what) + ": " + e.getCause(), e.getCause());
        }
    }

    /** Reads every mark written so far (at least up to {@code offset}). */
    void catchUp(long offset) {
        do {
            for (ConsumerRecord<String, byte[]> r : TopicReader.readToEnd(reader, partitions)) {
                try {
                    latest.put(r.key(), new Mark(Topics.RETENTION.value(r), r.offset()));
                } catch (SerializationException e) {
                    // a mark this version cannot read holds nothing
                }
            }
        } while (partitions.stream().anyMatch(p -> reader.position(p) <= offset));
    }

    /** Versions of the lineage held by a pin or a promotion, by holds written before {@code before}'s offset. */
    Set<Long> held(String lineage, Map<Long, Long> before) {
        Set<Long> out = new HashSet<>();
        for (Mark m : latest.values()) {
            RetentionMark v = m.value();
            boolean hold = v.getKind() == RetentionKind.PINNED || v.getKind() == RetentionKind.PROMOTING;
            if (hold
                    && v.getLineage().equals(lineage)
                    && m.offset() < before.getOrDefault(v.getVersion(), Long.MAX_VALUE)) out.add(v.getVersion());
        }
        return out;
    }

    /** The version's retirement, if retention's last word on it is that it deleted it. */
    Mark retired(String lineage, long version) {
        Mark m = latest.get(key(lineage, version, RETIRE));
        return m != null && m.value().getKind() == RetentionKind.RETIRED ? m : null;
    }

    /**
     * Holds a version ({@code what}: {@link #PIN} or {@link #PROMOTE}) unless retention retired it first; then the
     * hold is released and an {@link IllegalArgumentException} says so.
     */
    public static void hold(
            Map<String, Object> kafka, String lineage, long version, String what, String by, String reason) {
        try (RetentionMarks marks = new RetentionMarks(kafka)) {
            RetentionKind kind = what.equals(PIN) ? RetentionKind.PINNED : RetentionKind.PROMOTING;
            long offset = marks.write(lineage, version, what, kind, by, reason);
            marks.catchUp(offset);
            Mark retired = marks.retired(lineage, version);
            if (retired != null && retired.offset() < offset) {
                marks.write(lineage, version, what, RetentionKind.RELEASED, by, "retired before the hold");
                throw new IllegalArgumentException(lineage + " v" + version + " was deleted by retention at "
                        + retired.value().getAt() + " (" + retired.value().getReason() + ")");
            }
        }
    }

    /** Ends a hold ({@code ipt unpin}, or {@code ipt promote} when done). */
    public static void release(Map<String, Object> kafka, String lineage, long version, String what, String by) {
        try (RetentionMarks marks = new RetentionMarks(kafka)) {
            marks.write(lineage, version, what, RetentionKind.RELEASED, by, "released");
        }
    }

    /** Versions pinned by hand, per lineage. */
    public static Map<String, Set<Long>> pins(Map<String, Object> kafka) {
        try (RetentionMarks marks = new RetentionMarks(kafka)) {
            marks.catchUp(-1);
            Map<String, Set<Long>> out = new java.util.TreeMap<>();
            marks.latest.forEach((k, m) -> {
                if (k.endsWith("/" + PIN) && m.value().getKind() == RetentionKind.PINNED)
                    out.computeIfAbsent(m.value().getLineage(), l -> new java.util.TreeSet<>())
                            .add(m.value().getVersion());
            });
            return out;
        }
    }

    @Override
    public void close() {
        producer.close();
        reader.close();
    }
}
