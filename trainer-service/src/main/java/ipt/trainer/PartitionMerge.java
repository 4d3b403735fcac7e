package ipt.trainer;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Collection;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.TopicPartition;

/**
 * Releases the records polled from several partitions in one order that depends on the partitions' logs, not on
 * how a consumer's polls interleave them: each partition's records in offset order, and across partitions always
 * the head with the smallest (timestamp, partition). A head is released only once every assigned partition has a
 * record buffered (so none can still bring an earlier one), or has been idle for {@code wait}: nothing buffered and
 * the consumer at its log end all that time. That timer is the one place timing enters: a record appended to such a
 * partition after the wait may come after records it would otherwise have preceded.
 *
 * <p>Resuming from the positions just past any released prefix continues with the same order, which is what makes
 * a resumed trainer cut the same rounds as an uninterrupted one.
 */
final class PartitionMerge<K, V> {
    /** The release order; {@link CuratedHistory} merges a round's records back in it. */
    static final Comparator<ConsumerRecord<?, ?>> ORDER = Comparator.<ConsumerRecord<?, ?>>comparingLong(
                    ConsumerRecord::timestamp)
            .thenComparing(ConsumerRecord::topic)
            .thenComparingInt(ConsumerRecord::partition)
            .thenComparingLong(ConsumerRecord::offset);

    private static final long RECHECK_NANOS = Duration.ofSeconds(1).toNanos();

    /**
     * A partition's records not yet released; since when (nanos) it has been idle, and seen idle since polling last
     * resumed; -1 while it is not.
     */
    private static final class Lane<K, V> {
        final ArrayDeque<ConsumerRecord<K, V>> held = new ArrayDeque<>();
        long idleSince = -1;
        long recheckedSince = -1;
    }

    private final long waitNanos;
    private final long recheckNanos;
    private final Map<TopicPartition, Lane<K, V>> lanes = new LinkedHashMap<>();
    private int held;

    PartitionMerge(Duration wait) {
        this.waitNanos = wait.toNanos();
        this.recheckNanos = Math.min(waitNanos, RECHECK_NANOS);
    }

    /** Starts over with these partitions: whatever was held is dropped (the consumer re-reads it). */
    void assign(Collection<TopicPartition> partitions) {
        lanes.clear();
        held = 0;
        for (TopicPartition tp : partitions) lanes.put(tp, new Lane<>());
    }

    Set<TopicPartition> assigned() {
        return lanes.keySet();
    }

    /** Holds records polled from {@code tp}, in the order polled (offset order). */
    void add(TopicPartition tp, Collection<ConsumerRecord<K, V>> records) {
        Lane<K, V> lane = lanes.get(tp);
        if (lane == null) throw new IllegalStateException(tp + " is not assigned to this merge");
        if (records.isEmpty()) return;
        lane.held.addAll(records);
        lane.idleSince = -1;
        lane.recheckedSince = -1;
        held += records.size();
    }

    /**
     * What the consumer knows of {@code tp} at {@code nanos}: whether its position is at the log end. A partition
     * with nothing held starts its idle timer at the first such observation; anything else stops it.
     */
    void observe(TopicPartition tp, boolean atLogEnd, long nanos) {
        Lane<K, V> lane = lanes.get(tp);
        if (lane == null) return;
        if (!atLogEnd || !lane.held.isEmpty()) {
            lane.idleSince = -1;
            lane.recheckedSince = -1;
        } else {
            if (lane.idleSince < 0) lane.idleSince = nanos;
            if (lane.recheckedSince < 0) lane.recheckedSince = nanos;
        }
    }

    /**
     * Polling resumes after a pause (a round). What the consumer knew of the log ends may be stale
     * by then, so partitions with nothing held count as idle again only once polling has seen them at their log end
     * for a while longer (a second, or the wait if shorter: several fetches); their timers keep running meanwhile.
     */
    void resumedPolling() {
        for (Lane<K, V> lane : lanes.values()) lane.recheckedSince = -1;
    }

    /** The next record in the merged order, or null while a partition could still bring an earlier one. */
    ConsumerRecord<K, V> next(long nanos) {
        Lane<K, V> first = null;
        for (Lane<K, V> lane : lanes.values()) {
            if (lane.held.isEmpty()) {
                if (!idle(lane, nanos)) return null;
            } else if (first == null || ORDER.compare(lane.held.peekFirst(), first.held.peekFirst()) < 0) {
                first = lane;
            }
        }
        if (first == null) return null;
        held--;
        return first.held.pollFirst();
    }

    private boolean idle(Lane<K, V> lane, long nanos) {
        return lane.idleSince >= 0
                && nanos - lane.idleSince >= waitNanos
                && lane.recheckedSince >= 0
                && nanos - lane.recheckedSince >= recheckNanos;
    }

    /** Records held, all partitions together. */
    int held() {
        return held;
    }

    /** Records held for {@code tp}. */
    int held(TopicPartition tp) {
        Lane<K, V> lane = lanes.get(tp);
        return lane == null ? 0 : lane.held.size();
    }
}
