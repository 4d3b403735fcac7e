package ipt.standalone;

import ipt.evaluator.ServedFreshness.Served;
import java.util.Comparator;
import java.util.List;

/**
 * The demo's freshness line for one lineage: of the documents its champions served, how many, and the median and 95th
 * percentile of their freshness (nearest rank over documents, exact rather than read off histogram buckets).
 */
public record FreshnessFigures(long documents, double p50, double p95) {
    public static FreshnessFigures of(List<Served> served) {
        List<Served> sorted = served.stream()
                .filter(s -> s.documents() > 0)
                .sorted(Comparator.comparingDouble(Served::seconds))
                .toList();
        long documents = sorted.stream().mapToLong(Served::documents).sum();
        return new FreshnessFigures(documents, rank(sorted, documents, 0.5), rank(sorted, documents, 0.95));
    }

    /** The smallest freshness at or below which at least {@code q} of the documents lie (NaN: none). */
    private static double rank(List<Served> sorted, long documents, double q) {
        long needed = (long) Math.ceil(q * documents);
        long seen = 0;
        for (Served s : sorted) {
            seen += s.documents();
            if (seen >= Math.max(needed, 1)) return s.seconds();
        }
        return Double.NaN;
    }
}
