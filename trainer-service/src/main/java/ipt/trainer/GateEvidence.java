package ipt.trainer;

import ipt.schemas.Decision;
import ipt.schemas.EvaluationReport;
import ipt.schemas.TaskResult;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * What the evaluator's settled reports on a lineage's own candidates say, folded in version order: per held-out
 * domain the lowest loss any of its models reached and the newest candidate's loss, the champion, and the
 * candidates rejected since the last promotion. {@code evaluatedThrough} names the newest report folded in: a
 * round uses exactly the reports up to it, so a resumed trainer steers and recovers as an uninterrupted one.
 */
record GateEvidence(
        long evaluatedThrough,
        long champion,
        SortedMap<String, Double> best,
        SortedMap<String, Double> latest,
        List<Long> rejectedSince,
        double latestOverall) {

    static final GateEvidence NONE = new GateEvidence(0, 0, new TreeMap<>(), new TreeMap<>(), List.of(), Double.NaN);

    GateEvidence {
        best = Collections.unmodifiableSortedMap(new TreeMap<>(best));
        latest = Collections.unmodifiableSortedMap(new TreeMap<>(latest));
        rejectedSince = List.copyOf(rejectedSince);
    }

    /**
     * One report, reduced to what the trainer uses: per held-out domain the candidate's loss, the champion's (if
     * any) and the report's {@code best} (the lowest loss any champion reached, where the evaluator reports one).
     */
    record Evaluated(
            long version,
            boolean promoted,
            Long championVersion,
            Map<String, Double> loss,
            Map<String, Double> championLoss,
            Map<String, Double> bestLoss) {

        static Evaluated of(EvaluationReport report) {
            Map<String, Double> loss = new TreeMap<>();
            Map<String, Double> champion = new TreeMap<>();
            Map<String, Double> best = new TreeMap<>();
            for (TaskResult t : report.getTasks()) {
                if (!t.getMetric().equals("loss")
                        || !t.getTask().startsWith("heldout/")
                        || !Double.isFinite(t.getCandidate())) continue;
                String domain = t.getTask().substring("heldout/".length());
                loss.put(domain, t.getCandidate());
                if (t.getChampion() != null) champion.put(domain, t.getChampion());
                if (t.getBest() != null) best.put(domain, t.getBest());
            }
            return new Evaluated(
                    report.getCandidateVersion(),
                    report.getDecision() == Decision.PROMOTE,
                    report.getChampionVersion(),
                    loss,
                    champion,
                    best);
        }

        /** Mean relative change of the candidate's loss against the champion's over the domains both have; NaN
         * without. */
        double overallChange() {
            double sum = 0;
            int n = 0;
            for (Map.Entry<String, Double> e : loss.entrySet()) {
                Double c = championLoss.get(e.getKey());
                if (c == null || c == 0) continue;
                sum += (e.getValue() - c) / Math.abs(c);
                n++;
            }
            return n == 0 ? Double.NaN : sum / n;
        }
    }

    /** This evidence with {@code r} (a newer version) folded in. */
    GateEvidence fold(Evaluated r) {
        if (r.version() <= evaluatedThrough)
            throw new IllegalArgumentException("v" + r.version() + " is not after v" + evaluatedThrough);
        TreeMap<String, Double> b = new TreeMap<>(best);
        for (Map<String, Double> losses : List.of(r.loss(), r.championLoss(), r.bestLoss())) {
            losses.forEach((domain, loss) -> b.merge(domain, loss, Math::min));
        }
        List<Long> rejected = new ArrayList<>(rejectedSince);
        long newChampion = champion;
        if (r.promoted()) {
            rejected.clear();
            newChampion = r.version();
        } else {
            rejected.add(r.version());
            if (r.championVersion() != null) newChampion = r.championVersion();
        }
        return new GateEvidence(r.version(), newChampion, b, new TreeMap<>(r.loss()), rejected, r.overallChange());
    }

    /** Per domain with both: how far the newest candidate's loss is above the lowest reached, relative; never
     * negative. */
    SortedMap<String, Double> forgetting() {
        SortedMap<String, Double> out = new TreeMap<>();
        latest.forEach((domain, loss) -> {
            Double low = best.get(domain);
            if (low != null && low > 0) out.put(domain, Math.max(0, loss / low - 1));
        });
        return out;
    }
}
