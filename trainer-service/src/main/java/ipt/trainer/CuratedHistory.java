package ipt.trainer;

import ipt.runtime.TopicReader;
import ipt.schemas.CheckpointPublished;
import ipt.schemas.Document;
import ipt.schemas.PartitionOffset;
import ipt.schemas.Topics;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Deque;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.SerializationException;

/**
 * A lineage's committed rounds read back from {@code ipt.documents.curated} (retained forever): a round trained on
 * the records between the offsets the rounds before it committed and the ones its own {@link CheckpointPublished}
 * committed, per partition, merged across partitions as {@link PartitionMerge} merged them.
 */
final class CuratedHistory implements Lineage.History {
    /** A read that makes no progress this long is a broker problem, retried with the session, not a lost history. */
    private static final Duration STALL = Duration.ofMinutes(1);

    private final Map<String, Object> kafka;
    private final List<CheckpointPublished> committed;

    /** {@code committed}: the lineage's committed checkpoint events, in any order. */
    CuratedHistory(Map<String, Object> kafka, List<CheckpointPublished> committed) {
        this.kafka = kafka;
        this.committed = committed.stream()
                .sorted(Comparator.comparingLong(CheckpointPublished::getVersion))
                .toList();
    }

    @Override
    public void rounds(long through, Lineage.RoundVisitor each) throws Exception {
        try (KafkaConsumer<String, byte[]> reader = TopicReader.open(kafka)) {
            List<TopicPartition> partitions = TopicReader.fromBeginning(reader, Topics.CURATED.name());
            Map<TopicPartition, Long> ends = reader.endOffsets(partitions);
            Map<TopicPartition, Deque<ConsumerRecord<String, byte[]>>> buffered = new HashMap<>();
            for (CheckpointPublished c : committed) {
                if (c.getVersion() > through) break;
                Map<TopicPartition, Long> until = new LinkedHashMap<>();
                for (PartitionOffset o : c.getOffsets()) {
                    if (!o.getTopic().equals(Topics.CURATED.name())) continue;
                    TopicPartition tp = new TopicPartition(o.getTopic(), o.getPartition());
                    if (!ends.containsKey(tp) || ends.get(tp) < o.getOffset()) {
                        throw new Lineage.IncompleteHistory("round v" + c.getVersion() + " read " + tp + " up to "
                                + o.getOffset() + ", the topic ends at " + ends.get(tp));
                    }
                    until.put(tp, o.getOffset());
                }
                readUpTo(reader, partitions, until, buffered);
                each.round(round(c, until, buffered));
            }
        }
    }

    /** Polls until every partition in {@code until} is read up to its offset; other partitions are paused. */
    private static void readUpTo(
            KafkaConsumer<String, byte[]> reader,
            List<TopicPartition> partitions,
            Map<TopicPartition, Long> until,
            Map<TopicPartition, Deque<ConsumerRecord<String, byte[]>>> buffered)
            throws TimeoutException {
        long progressAt = System.nanoTime();
        while (true) {
            List<TopicPartition> behind = partitions.stream()
                    .filter(tp -> until.containsKey(tp) && reader.position(tp) < until.get(tp))
                    .toList();
            if (behind.isEmpty()) return;
            reader.pause(partitions);
            reader.resume(behind);
            var records = reader.poll(Duration.ofMillis(200));
            if (!records.isEmpty()) progressAt = System.nanoTime();
            else if (System.nanoTime() - progressAt > STALL.toNanos())
                throw new TimeoutException("no curated records within " + STALL + " while reading " + behind);
            for (ConsumerRecord<String, byte[]> r : records)
                buffered.computeIfAbsent(new TopicPartition(r.topic(), r.partition()), k -> new ArrayDeque<>())
                        .add(r);
        }
    }

    /**
     * The round's documents, taken from the buffer in the order the trainer's {@link PartitionMerge} released them:
     * of the partitions' next records, always the smallest by (timestamp, topic, partition, offset).
     */
    private static Lineage.CommittedRound round(
            CheckpointPublished c,
            Map<TopicPartition, Long> until,
            Map<TopicPartition, Deque<ConsumerRecord<String, byte[]>>> buffered)
            throws Lineage.IncompleteHistory {
        List<Deque<ConsumerRecord<String, byte[]>>> lanes = new ArrayList<>();
        for (Map.Entry<TopicPartition, Long> u : until.entrySet()) {
            Deque<ConsumerRecord<String, byte[]>> queue = buffered.getOrDefault(u.getKey(), new ArrayDeque<>());
            Deque<ConsumerRecord<String, byte[]>> lane = new ArrayDeque<>();
            while (!queue.isEmpty() && queue.peek().offset() < u.getValue()) lane.add(queue.poll());
            if (!lane.isEmpty()) lanes.add(lane);
        }
        List<Lineage.HistoricDocument> documents = new ArrayList<>();
        while (!lanes.isEmpty()) {
            Deque<ConsumerRecord<String, byte[]>> first = lanes.get(0);
            for (Deque<ConsumerRecord<String, byte[]>> lane : lanes)
                if (PartitionMerge.ORDER.compare(lane.peek(), first.peek()) < 0) first = lane;
            ConsumerRecord<String, byte[]> r = first.poll();
            if (first.isEmpty()) lanes.remove(first);
            if (r.value() == null) continue;
            try {
                // As the trainer did: undecodable records were skipped, not trained on.
                Document d = Topics.CURATED.value(r);
                documents.add(new Lineage.HistoricDocument(d.getId(), d.getDomain(), d.getText()));
            } catch (SerializationException e) {
                continue;
            }
        }
        if (documents.size() != c.getDocuments()) {
            throw new Lineage.IncompleteHistory("round v" + c.getVersion() + " trained " + c.getDocuments()
                    + " documents, the topic holds " + documents.size() + " of its records");
        }
        return new Lineage.CommittedRound(c.getVersion(), c.getTokensSeen(), documents);
    }
}
