package ipt.trainer;

import java.util.Collection;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * The closed loop from the gate to replay: which share of the replayed rows each domain gets, and how much of every
 * batch is replayed, from the settled {@link GateEvidence}. Every domain in the store keeps a floor (an equal part of
 * {@code floor}); the rest goes to the domains whose held-out loss rose above the lowest the lineage reached, in
 * proportion to how far (relative). The fraction rises with the worst such rise and comes back down with it.
 */
final class ReplayMixture {
  private ReplayMixture() {}

  /** Shares over {@code domains} (those the store holds), summing to 1. */
  static SortedMap<String, Double> shares(Collection<String> domains, GateEvidence evidence, double floor) {
    SortedMap<String, Double> forgetting = evidence.forgetting();
    double total = 0;
    for (String d : domains) total += forgetting.getOrDefault(d, 0.0);
    SortedMap<String, Double> out = new TreeMap<>();
    for (String d : domains) {
      double even = 1.0 / domains.size();
      out.put(d, total == 0 ? even : floor * even + (1 - floor) * forgetting.getOrDefault(d, 0.0) / total);
    }
    return out;
  }

  /**
   * {@code base + gain × worst relative rise} among {@code domains} (those trained on), within [base, max]: 2% of forgetting at gain 5 replays 10 points
   * more. At gain 0 the fraction stays {@code base}.
   */
  static double fraction(GateEvidence evidence, Collection<String> domains, double base, double max, double gain) {
    double worst = 0;
    for (String d : domains) worst = Math.max(worst, evidence.forgetting().getOrDefault(d, 0.0));
    return Math.max(base, Math.min(Math.max(base, max), base + gain * worst));
  }
}
