package ipt.trainer;

import ipt.checkpoints.CheckpointStore;
import ipt.runtime.TopicReader;
import ipt.schemas.CheckpointPublished;
import ipt.schemas.Document;
import ipt.schemas.PartitionOffset;
import ipt.schemas.Topics;
import java.nio.charset.StandardCharsets;
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
 * committed, per partition. Their order is offset order when the round read one partition; otherwise the one its
 * checkpoint's {@code documents.txt} lists (several partitions interleave as polls happened to return them).
 */
final class CuratedHistory implements Lineage.History {
    /** A read that makes no progress this long is a broker problem, retried with the session, not a lost history. */
    private static final Duration STALL = Duration.ofMinutes(1);

    private final Map<String, Object> kafka;
    private final List<CheckpointPublished> committed;
    private final CheckpointStore store;

    /** {@code committed}: the lineage's committed checkpoint events, in any order. */
    CuratedHistory(Map<String, Object> kafka, List<CheckpointPublished> committed, CheckpointStore store) {
        this.kafka = kafka;
        this.committed = committed.stream()
                .sorted(Comparator.comparingLong(CheckpointPublished::getVersion))
                .toList();
        this.store = store;
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

    /** The round's documents, taken from the buffer, in the order the round added them. */
    private Lineage.CommittedRound round(
            CheckpointPublished c,
            Map<TopicPartition, Long> until,
            Map<TopicPartition, Deque<ConsumerRecord<String, byte[]>>> buffered)
            throws Exception {
        List<Lineage.HistoricDocument> documents = new ArrayList<>();
        int partitionsRead = 0;
        for (Map.Entry<TopicPartition, Long> u : until.entrySet()) {
            Deque<ConsumerRecord<String, byte[]>> queue = buffered.getOrDefault(u.getKey(), new ArrayDeque<>());
            int before = documents.size();
            while (!queue.isEmpty() && queue.peek().offset() < u.getValue()) {
                ConsumerRecord<String, byte[]> r = queue.poll();
                if (r.value() == null) continue;
                try {
                    // As the trainer did: undecodable records were skipped, not trained on.
                    Document d = Topics.CURATED.value(r);
                    documents.add(new Lineage.HistoricDocument(d.getId(), d.getDomain(), d.getText()));
                } catch (SerializationException e) {
                    continue;
                }
            }
            if (documents.size() > before) partitionsRead++;
        }
        if (documents.size() != c.getDocuments()) {
            throw new Lineage.IncompleteHistory("round v" + c.getVersion() + " trained " + c.getDocuments()
                    + " documents, the topic holds " + documents.size() + " of its records");
        }
        if (partitionsRead <= 1) return new Lineage.CommittedRound(c.getVersion(), c.getTokensSeen(), documents, true);
        List<String> order = listedOrder(c);
        if (order == null) return new Lineage.CommittedRound(c.getVersion(), c.getTokensSeen(), documents, false);
        Map<String, Deque<Lineage.HistoricDocument>> byId = new HashMap<>();
        for (Lineage.HistoricDocument d : documents)
            byId.computeIfAbsent(d.id(), k -> new ArrayDeque<>()).add(d);
        List<Lineage.HistoricDocument> ordered = new ArrayList<>(documents.size());
        for (String id : order) {
            Deque<Lineage.HistoricDocument> same = byId.get(id);
            if (same == null || same.isEmpty()) {
                throw new Lineage.IncompleteHistory(
                        "round v" + c.getVersion() + " lists document " + id + ", absent from its records");
            }
            ordered.add(same.poll());
        }
        return new Lineage.CommittedRound(c.getVersion(), c.getTokensSeen(), ordered, true);
    }

    /** The ids in the round's documents.txt, in the order it added them; null if its checkpoint is gone. */
    private List<String> listedOrder(CheckpointPublished c) {
        try {
            String listed =
                    new String(store.open(c.getLocation()).file(Lineage.DOCUMENTS_FILE), StandardCharsets.UTF_8);
            return listed.lines().filter(l -> !l.isEmpty()).toList();
        } catch (Exception e) {
            return null;
        }
    }
}
