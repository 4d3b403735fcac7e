package ipt.evaluator;

import ipt.schemas.ArrivalCount;
import ipt.schemas.CheckpointPublished;
import ipt.schemas.Decision;
import ipt.schemas.EvaluationReport;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.TreeMap;

/**
 * Which documents a promotion serves for the first time, and how long after their arrival. A lineage's versions form
 * one chain (each round trains on from the one before), so the first promotion of a version at or past the round that
 * committed a document serves it; a rollback to an older version serves nothing new, and what was served stays
 * served. Fed each checkpoint before the promotion of its version, in any order otherwise, and each more than once.
 */
public final class ServedFreshness {
    /** {@code documents} first served {@code seconds} after the second they arrived in. */
    public record Served(double seconds, int documents) {}

    private static final class Chain {
        /** The newest version any promotion has served (0: none yet). */
        long servedThrough;
        /** Arrivals of the published versions past {@link #servedThrough}. */
        final TreeMap<Long, List<ArrivalCount>> unserved = new TreeMap<>();
    }

    private final Map<String, Chain> lineages = new HashMap<>();

    /** A published checkpoint and when its documents arrived; a version already served is ignored. */
    void published(String lineage, long version, List<ArrivalCount> arrivals) {
        Chain chain = lineages.computeIfAbsent(lineage, l -> new Chain());
        if (version > chain.servedThrough) chain.unserved.put(version, List.copyOf(arrivals));
    }

    /**
     * {@code version} became champion at {@code promotedAtMillis}: the documents of the versions it serves for the
     * first time, with their freshness (none for a version at or behind one served before).
     */
    List<Served> promoted(String lineage, long version, long promotedAtMillis) {
        Chain chain = lineages.computeIfAbsent(lineage, l -> new Chain());
        if (version <= chain.servedThrough) return List.of();
        chain.servedThrough = version;
        Map<Long, List<ArrivalCount>> now = chain.unserved.headMap(version, true);
        List<Served> served = new ArrayList<>();
        for (List<ArrivalCount> arrivals : now.values()) {
            for (ArrivalCount a : arrivals)
                served.add(new Served((promotedAtMillis - a.getSecond() * 1000) / 1000.0, a.getDocuments()));
        }
        now.clear();
        return served;
    }

    /** When the oldest document a checkpoint of the lineage trained on, and no champion serves yet, arrived. */
    OptionalLong oldestUnservedMillis(String lineage) {
        Chain chain = lineages.get(lineage);
        if (chain == null) return OptionalLong.empty();
        return chain.unserved.values().stream()
                .flatMap(List::stream)
                .filter(a -> a.getDocuments() > 0)
                .mapToLong(a -> a.getSecond() * 1000)
                .min();
    }

    /**
     * Per lineage, every document's freshness as the evaluator observes it over a whole log: {@code checkpoints} and
     * {@code reports} each in the order they were published (reports of every decision; promotions are taken from
     * them).
     */
    public static Map<String, List<Served>> overLog(
            List<CheckpointPublished> checkpoints, List<EvaluationReport> reports) {
        ServedFreshness account = new ServedFreshness();
        checkpoints.forEach(c -> account.published(c.getLineage(), c.getVersion(), c.getArrivals()));
        Map<String, List<Served>> served = new TreeMap<>();
        for (EvaluationReport r : reports) {
            if (r.getDecision() != Decision.PROMOTE) continue;
            served.computeIfAbsent(r.getLineage(), l -> new ArrayList<>())
                    .addAll(account.promoted(
                            r.getLineage(),
                            r.getCandidateVersion(),
                            r.getEvaluatedAt().toEpochMilli()));
        }
        return served;
    }
}
