package ipt.trainer;

import java.util.Collection;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * The closed loop from the gate to replay: which share of the replayed rows each domain gets, and how much of every
 * batch is replayed, from the settled {@link GateEvidence}. Every domain in the store keeps a floor: {@code floor}
 * split as the {@code UNIFORM} policy splits all of it (by the sequences each domain contributed), so the mixture is
 * uniform replay until the gate sees forgetting; the rest goes to the domains whose held-out loss rose above the
 * lowest the lineage reached, in proportion to how far (relative). The fraction rises with the worst such rise and
 * comes back down with it.
 */
final class ReplayMixture {
    private ReplayMixture() {}

    /** Shares over the domains of {@code seen} (sequences each stored domain contributed), summing to 1. */
    static SortedMap<String, Double> shares(Map<String, Long> seen, GateEvidence evidence, double floor) {
        SortedMap<String, Double> forgetting = evidence.forgetting();
        double total = 0;
        double history = 0;
        for (Map.Entry<String, Long> d : seen.entrySet()) {
            total += forgetting.getOrDefault(d.getKey(), 0.0);
            history += d.getValue();
        }
        SortedMap<String, Double> out = new TreeMap<>();
        for (Map.Entry<String, Long> d : seen.entrySet()) {
            double base = d.getValue() / history;
            out.put(
                    d.getKey(),
                    total == 0 ? base : floor * base + (1 - floor) * forgetting.getOrDefault(d.getKey(), 0.0) / total);
        }
        return out;
    }

    /**
     * {@code base + gain × worst relative rise} among {@code domains} (those trained on), within [base, max]: 2% of
     * forgetting at gain 5 replays 10 points
     * more. At gain 0 the fraction stays {@code base}.
     */
    static double fraction(GateEvidence evidence, Collection<String> domains, double base, double max, double gain) {
        double worst = 0;
        for (String d : domains) worst = Math.max(worst, evidence.forgetting().getOrDefault(d, 0.0));
        return Math.max(base, Math.min(Math.max(base, max), base + gain * worst));
    }
}
