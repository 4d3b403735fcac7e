package ipt.evaluator;

import ipt.schemas.Decision;
import ipt.schemas.EvaluationReport;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;

/**
 * The candidates a lineage had rejected since its last promotion: how many, since when, which rules decided, and
 * the last of them; what `ipt models` and the reports say about a lineage that stopped advancing.
 *
 * @param champion the champion they were compared with, else the version promoted last (null: none yet)
 */
public record Stall(int rejected, Long champion, Instant since, Map<String, Integer> rules, EvaluationReport last) {

    /** From a lineage's decisions, oldest first; only those after its last promotion count. */
    public static Stall of(List<EvaluationReport> history) {
        int start = history.size();
        while (start > 0 && history.get(start - 1).getDecision() != Decision.PROMOTE) start--;
        List<EvaluationReport> rejected = history.subList(start, history.size());
        Long champion = !rejected.isEmpty()
                ? rejected.get(rejected.size() - 1).getChampionVersion()
                : start == 0 ? null : history.get(start - 1).getCandidateVersion();
        Map<String, Integer> rules = new TreeMap<>();
        rejected.forEach(r -> rules.merge(r.getDecidingRule(), 1, Integer::sum));
        return new Stall(
                rejected.size(),
                champion,
                rejected.isEmpty() ? null : rejected.get(0).getEvaluatedAt(),
                rules,
                rejected.isEmpty() ? null : rejected.get(rejected.size() - 1));
    }

    /** The rule that rejected most of them (ties: the alphabetically first). */
    public String mainRule() {
        String main = null;
        for (Map.Entry<String, Integer> e : rules.entrySet())
            if (main == null || e.getValue() > rules.get(main)) main = e.getKey();
        return main;
    }

    /** E.g. "12 candidates rejected since 2026-11-02T10:00:00Z (champion v9): regression:heldout/en/loss ×10, ...;
     * last v21: ...". */
    public String describe() {
        if (rejected == 0) return "advancing: the last candidate was promoted";
        return String.format(
                Locale.ROOT,
                "%d candidate%s rejected since %s (champion %s): %s; last v%d: %s",
                rejected,
                rejected == 1 ? "" : "s",
                since.truncatedTo(ChronoUnit.SECONDS),
                champion == null ? "none" : "v" + champion,
                rules.entrySet().stream()
                        .sorted(Map.Entry.<String, Integer>comparingByValue().reversed())
                        .map(e -> e.getKey() + " ×" + e.getValue())
                        .collect(Collectors.joining(", ")),
                last.getCandidateVersion(),
                last.getReason());
    }
}
