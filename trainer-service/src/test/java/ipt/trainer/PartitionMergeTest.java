package ipt.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SplittableRandom;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.record.TimestampType;
import org.junit.jupiter.api.Test;

class PartitionMergeTest {
    private static final String TOPIC = "ipt.documents.curated";
    private static final Duration WAIT = Duration.ofSeconds(10);

    @Test
    void everyInterleavingOfTheSameLogsReleasesTheSameOrder() {
        SplittableRandom random = new SplittableRandom(18);
        for (int trial = 0; trial < 100; trial++) {
            List<List<ConsumerRecord<String, String>>> logs = logs(random);
            List<String> expected = reference(logs);
            for (int run = 0; run < 10; run++) {
                assertEquals(expected, consume(logs, new int[logs.size()], random), "trial " + trial + " run " + run);
            }
        }
    }

    @Test
    void resumingFromTheOffsetsAfterAReleasedPrefixContinuesTheSameOrder() {
        SplittableRandom random = new SplittableRandom(5);
        for (int trial = 0; trial < 200; trial++) {
            List<List<ConsumerRecord<String, String>>> logs = logs(random);
            List<String> expected = reference(logs);
            int cut = random.nextInt(expected.size() + 1);
            // The committed offsets of a checkpoint that covers the first `cut` released records.
            int[] positions = new int[logs.size()];
            for (String id : expected.subList(0, cut)) positions[Integer.parseInt(id.split("@")[0])]++;
            assertEquals(expected.subList(cut, expected.size()), consume(logs, positions, random), "trial " + trial);
        }
    }

    @Test
    void aPartitionWithNothingHeldBlocksUntilItHasBeenAtItsLogEndForTheWait() {
        PartitionMerge<String, String> merge = new PartitionMerge<>(WAIT);
        TopicPartition p0 = new TopicPartition(TOPIC, 0);
        TopicPartition p1 = new TopicPartition(TOPIC, 1);
        merge.assign(List.of(p0, p1));
        merge.add(p0, List.of(record(0, 0, 100), record(0, 1, 101)));
        long second = Duration.ofSeconds(1).toNanos();
        merge.observe(p1, false, 0); // records behind the position: never idle
        assertNull(merge.next(5 * WAIT.toNanos()), "p1 still has records to fetch");
        merge.observe(p1, true, 0);
        assertNull(merge.next(WAIT.toNanos() - 1), "p1 idle for less than the wait");
        assertEquals(100, merge.next(WAIT.toNanos()).timestamp(), "p1 idle for the whole wait");
        merge.resumedPolling(); // after a round, what the consumer knew of p1's log end may be stale
        assertNull(merge.next(WAIT.toNanos() + 30 * second), "not seen at its log end since the round");
        merge.observe(p1, true, WAIT.toNanos() + 30 * second);
        assertNull(merge.next(WAIT.toNanos() + 31 * second - 1), "seen at its log end for less than a second");
        assertEquals(101, merge.next(WAIT.toNanos() + 31 * second).timestamp());
        assertEquals(0, merge.held());
    }

    @Test
    void aLateRecordOnAnIdlePartitionComesAfterWhatTheTimerReleased() {
        // The one case where timing decides the order, as the README says.
        PartitionMerge<String, String> merge = new PartitionMerge<>(WAIT);
        TopicPartition p0 = new TopicPartition(TOPIC, 0);
        TopicPartition p1 = new TopicPartition(TOPIC, 1);
        merge.assign(List.of(p0, p1));
        merge.add(p0, List.of(record(0, 0, 200)));
        merge.observe(p1, true, 0);
        assertEquals(200, merge.next(WAIT.toNanos()).timestamp());
        merge.add(p1, List.of(record(1, 0, 100)));
        merge.observe(p0, true, WAIT.toNanos());
        assertEquals(100, merge.next(2 * WAIT.toNanos()).timestamp());
    }

    /** A few partitions' logs: some empty, timestamps mostly rising with ties and some out of order. */
    private static List<List<ConsumerRecord<String, String>>> logs(SplittableRandom random) {
        int partitions = random.nextInt(1, 5);
        List<List<ConsumerRecord<String, String>>> logs = new ArrayList<>();
        for (int p = 0; p < partitions; p++) {
            int n = random.nextInt(4) == 0 ? 0 : random.nextInt(1, 40);
            List<ConsumerRecord<String, String>> log = new ArrayList<>();
            long ts = random.nextLong(1_000);
            for (int o = 0; o < n; o++) {
                ts += random.nextInt(-3, 20);
                log.add(record(p, o, Math.max(0, ts)));
            }
            logs.add(log);
        }
        return logs;
    }

    /** The merged order of the whole logs, computed directly: always the smallest (timestamp, partition) head. */
    private static List<String> reference(List<List<ConsumerRecord<String, String>>> logs) {
        int[] heads = new int[logs.size()];
        List<String> out = new ArrayList<>();
        while (true) {
            int best = -1;
            for (int p = 0; p < logs.size(); p++) {
                if (heads[p] == logs.get(p).size()) continue;
                ConsumerRecord<String, String> r = logs.get(p).get(heads[p]);
                if (best < 0 || r.timestamp() < logs.get(best).get(heads[best]).timestamp()) best = p;
            }
            if (best < 0) return out;
            out.add(logs.get(best).get(heads[best]++).value());
        }
    }

    /**
     * A consumer that starts at {@code positions} and fetches the logs in random chunks from random partitions,
     * with the caller draining the merge at random moments and rounds of random length in between (the clock jumps).
     * The logs are complete, so a partition at its end really is idle and the timer's releases are the right ones.
     */
    private static List<String> consume(
            List<List<ConsumerRecord<String, String>>> logs, int[] positions, SplittableRandom random) {
        PartitionMerge<String, String> merge = new PartitionMerge<>(WAIT);
        List<TopicPartition> partitions = new ArrayList<>();
        Map<TopicPartition, Integer> position = new HashMap<>();
        for (int p = 0; p < logs.size(); p++) {
            TopicPartition tp = new TopicPartition(TOPIC, p);
            partitions.add(tp);
            position.put(tp, positions[p]);
        }
        merge.assign(partitions);
        int remaining = 0;
        for (int p = 0; p < logs.size(); p++) remaining += logs.get(p).size() - positions[p];
        List<String> out = new ArrayList<>();
        long now = 0;
        while (out.size() < remaining) {
            now += random.nextLong(Duration.ofMillis(300).toNanos());
            TopicPartition tp = partitions.get(random.nextInt(partitions.size()));
            int from = position.get(tp);
            int to = Math.min(logs.get(tp.partition()).size(), from + random.nextInt(0, 8));
            merge.add(tp, logs.get(tp.partition()).subList(from, to));
            position.put(tp, to);
            for (TopicPartition q : partitions)
                merge.observe(q, position.get(q) == logs.get(q.partition()).size(), now);
            int take = random.nextInt(3) == 0 ? Integer.MAX_VALUE : random.nextInt(4);
            for (int i = 0; i < take; i++) {
                Optional<ConsumerRecord<String, String>> r = Optional.ofNullable(merge.next(now));
                if (r.isEmpty()) break;
                out.add(r.get().value());
            }
            if (random.nextInt(10) == 0) {
                now += random.nextLong(Duration.ofSeconds(30).toNanos()); // a round: no polls meanwhile
                merge.resumedPolling();
            }
        }
        return out;
    }

    private static ConsumerRecord<String, String> record(int partition, long offset, long timestamp) {
        return new ConsumerRecord<>(
                TOPIC,
                partition,
                offset,
                timestamp,
                TimestampType.CREATE_TIME,
                0,
                0,
                "k",
                partition + "@" + offset,
                new RecordHeaders(),
                Optional.empty());
    }
}
