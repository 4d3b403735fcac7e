package ipt.trainer;

import ipt.schemas.ArrivalCount;
import java.util.List;
import java.util.TreeMap;

/**
 * When the documents of the round being gathered arrived on ipt.documents.raw, counted per second: the round's
 * checkpoint carries it ({@code CheckpointPublished.arrivals}), so the evaluator can tell how fresh each document is
 * when a champion first serves it. Per second keeps it small (a round's documents arrive in few seconds or spread
 * thin) at a resolution below the freshness histogram's smallest bucket.
 */
final class ArrivalTally {
    private final TreeMap<Long, Integer> perSecond = new TreeMap<>();

    /** One document whose curated record (which keeps the raw record's timestamp) carries {@code timestampMillis}. */
    void add(long timestampMillis) {
        perSecond.merge(Math.floorDiv(timestampMillis, 1000), 1, Integer::sum);
    }

    /** The documents added since the last {@link #clear}, per second, oldest first. */
    List<ArrivalCount> counts() {
        return perSecond.entrySet().stream()
                .map(e -> new ArrivalCount(e.getKey(), e.getValue()))
                .toList();
    }

    void clear() {
        perSecond.clear();
    }
}
