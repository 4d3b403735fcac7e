package ipt.evaluator;

import com.fasterxml.jackson.databind.ObjectMapper;
import ipt.checkpoints.Checkpoint;
import ipt.model.LanguageModel;
import ipt.model.Task;
import ipt.schemas.CheckpointPublished;
import ipt.schemas.EvaluationReport;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * Replays a finished run's candidates through gate policies. Every checkpoint of every lineage is scored on
 * every task of the run's final held-out snapshot (each domain's text is frozen, so a task scores as it did
 * live); each policy then walks a lineage's candidates in order, with the tasks that existed when the evaluator
 * judged it, the weights its checkpoint event published, and the best losses of the champions it promoted
 * itself. Valid when the trainer's rounds do not depend on the verdicts (no reset to the champion, no L2 pull).
 */
public final class GateReplay {
    /** A lineage's candidate: its event, the snapshot it was judged on, and its loss per task. */
    record Candidate(CheckpointPublished event, long snapshotVersion, Map<String, Double> loss) {}

    /** What one policy made of one lineage. */
    record Outcome(
            String policy,
            String lineage,
            List<Boolean> promoted,
            List<String> rules,
            Map<String, Double> finalLoss,
            Map<String, Double> best,
            Map<String, Integer> firstPromotionInPhase,
            Map<String, Integer> phaseLength) {}

    private final Map<String, List<Candidate>> lineages;
    private final List<String> tasks;

    private GateReplay(Map<String, List<Candidate>> lineages, List<String> tasks) {
        this.lineages = lineages;
        this.tasks = tasks;
    }

    /** Scores every checkpoint of the events on the final snapshot under {@code snapshotDir}. */
    public static GateReplay score(List<CheckpointPublished> events, List<EvaluationReport> reports, Path snapshotDir)
            throws IOException {
        HeldOutSnapshots.Snapshot last = latest(snapshotDir);
        List<Task> tasks = last.tasks();
        Map<String, Long> judgedOn = new HashMap<>();
        for (EvaluationReport r : reports)
            judgedOn.put(r.getLineage() + "/" + r.getCandidateVersion(), r.getSnapshotVersion());
        Map<String, List<Candidate>> lineages = new TreeMap<>();
        for (CheckpointPublished e : events) {
            Long snapshot = judgedOn.get(e.getLineage() + "/" + e.getVersion());
            if (snapshot == null) continue;
            Map<String, Double> loss = new LinkedHashMap<>();
            try (LanguageModel model = Checkpoint.open(Path.of(e.getLocation())).model()) {
                for (Task t : tasks)
                    loss.put(t.name(), TaskScores.score(model, t).metrics().get(TaskScores.LOSS));
            } catch (ipt.checkpoints.CheckpointException ex) {
                throw new IOException(ex);
            }
            lineages.computeIfAbsent(e.getLineage(), k -> new ArrayList<>()).add(new Candidate(e, snapshot, loss));
        }
        lineages.values()
                .forEach(l ->
                        l.sort(java.util.Comparator.comparingLong(c -> c.event().getVersion())));
        return new GateReplay(lineages, tasks.stream().map(Task::name).toList());
    }

    private static HeldOutSnapshots.Snapshot latest(Path dir) throws IOException {
        Path file;
        try (Stream<Path> files = Files.list(dir)) {
            file = files.filter(f -> f.getFileName().toString().matches("snapshot-\\d{6}\\.json"))
                    .sorted()
                    .reduce((a, b) -> b)
                    .orElseThrow();
        }
        @SuppressWarnings("unchecked")
        Map<String, Object> json = new ObjectMapper().readValue(file.toFile(), Map.class);
        @SuppressWarnings("unchecked")
        Map<String, List<String>> domains = (Map<String, List<String>>) json.get("domains");
        return new HeldOutSnapshots.Snapshot(((Number) json.get("version")).longValue(), domains);
    }

    public List<String> lineages() {
        return new ArrayList<>(lineages.keySet());
    }

    /** The phase of a candidate: the domain it trained on most recently (the last one its tokens grew on). */
    private static String phase(Candidate previous, Candidate c) {
        String phase = null;
        long grown = 0;
        for (Map.Entry<String, Long> e : c.event().getDomainTokens().entrySet()) {
            long before =
                    previous == null ? 0 : previous.event().getDomainTokens().getOrDefault(e.getKey(), 0L);
            if (e.getValue() - before > grown) {
                grown = e.getValue() - before;
                phase = e.getKey();
            }
        }
        return phase;
    }

    Outcome replay(String name, GatePolicy policy, String lineage) {
        PromotionGate gate = new PromotionGate(policy);
        List<Candidate> candidates = lineages.get(lineage);
        Candidate champion = null;
        Map<String, Double> best = new HashMap<>();
        List<Boolean> promoted = new ArrayList<>();
        List<String> rules = new ArrayList<>();
        Map<String, Integer> first = new LinkedHashMap<>();
        Map<String, Integer> length = new LinkedHashMap<>();
        Candidate previous = null;
        for (Candidate c : candidates) {
            String phase = phase(previous, c);
            previous = c;
            int index = length.merge(phase, 1, Integer::sum);
            List<String> available = tasks.subList(0, (int) Math.min(tasks.size(), c.snapshotVersion()));
            List<PromotionGate.Measure> measures = new ArrayList<>();
            for (String t : available)
                measures.add(new PromotionGate.Measure(
                        t,
                        TaskScores.LOSS,
                        c.loss().get(t),
                        champion == null ? null : champion.loss().get(t),
                        64));
            if (champion != null)
                for (String t : available) best.merge(t, champion.loss().get(t), Math::min);
            PromotionGate.History history = PromotionGate.History.of(c.event().getDomainTokens(), available, best);
            PromotionGate.Verdict v = gate.decide(
                    lineage,
                    measures,
                    champion != null,
                    available.isEmpty() ? null : available.get(available.size() - 1),
                    history);
            promoted.add(v.promote());
            rules.add(v.rule());
            if (v.promote()) {
                champion = c;
                first.putIfAbsent(phase, index);
                for (String t : available) best.merge(t, c.loss().get(t), Math::min);
            }
        }
        if (champion != null)
            for (String t : tasks) best.merge(t, champion.loss().get(t), Math::min);
        return new Outcome(
                name, lineage, promoted, rules, champion == null ? Map.of() : champion.loss(), best, first, length);
    }

    /** Per candidate: its losses, then each policy's decision. */
    public void printCandidates(PrintStream out, String lineage, Map<String, GatePolicy> policies) {
        List<Outcome> outcomes = policies.entrySet().stream()
                .map(e -> replay(e.getKey(), e.getValue(), lineage))
                .toList();
        out.printf("%n%s: candidates (loss per task) and each policy's decision%n%-5s", lineage, "v");
        tasks.forEach(t -> out.printf(" %12s", t.replace("heldout/", "")));
        outcomes.forEach(o -> out.printf(" %-26s", o.policy()));
        out.println();
        List<Candidate> candidates = lineages.get(lineage);
        for (int i = 0; i < candidates.size(); i++) {
            Candidate c = candidates.get(i);
            out.printf("v%-4d", c.event().getVersion());
            for (String t : tasks)
                out.printf(
                        Locale.ROOT,
                        " %12s",
                        tasks.indexOf(t) < c.snapshotVersion()
                                ? String.format(Locale.ROOT, "%.4f", c.loss().get(t))
                                : "-");
            for (Outcome o : outcomes)
                out.printf(
                        " %-26s",
                        (o.promoted().get(i) ? "P " : "r ")
                                + o.rules().get(i).replace("heldout/", "").replace("/loss", ""));
            out.println();
        }
    }

    /** Per policy: promotions, the first promoted candidate in each phase, final champion loss and forgetting. */
    public void printSummary(PrintStream out, Map<String, GatePolicy> policies) {
        out.printf(
                "%n%-10s %-26s %6s  %-28s %s%n",
                "lineage", "policy", "promo", "first promotion in phase", "final champion: loss (above best) per task");
        for (String lineage : lineages()) {
            for (Map.Entry<String, GatePolicy> p : policies.entrySet()) {
                Outcome o = replay(p.getKey(), p.getValue(), lineage);
                StringBuilder phases = new StringBuilder();
                o.phaseLength()
                        .forEach((phase, n) -> phases.append(phase)
                                .append(':')
                                .append(
                                        o.firstPromotionInPhase().containsKey(phase)
                                                ? String.valueOf(o.firstPromotionInPhase()
                                                        .get(phase))
                                                : "-")
                                .append('/')
                                .append(n)
                                .append(' '));
                StringBuilder losses = new StringBuilder();
                for (String t : tasks) {
                    Double l = o.finalLoss().get(t);
                    if (l != null)
                        losses.append(String.format(
                                Locale.ROOT,
                                "%s %.3f (%+.3f) ",
                                t.replace("heldout/", ""),
                                l,
                                l - o.best().get(t)));
                }
                out.printf(
                        "%-10s %-26s %3d/%-3d %-28s %s%n",
                        lineage,
                        p.getKey(),
                        o.promoted().stream().filter(b -> b).count(),
                        o.promoted().size(),
                        phases,
                        losses);
            }
        }
    }
}
