package ipt.evaluator;

import ipt.runtime.DecisionFollower;
import ipt.schemas.Decision;
import ipt.schemas.EvaluationReport;
import ipt.schemas.Promotion;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Collectors;

/**
 * The champion of every lineage (ipt.promotions) and its whole decision history (ipt.evaluations), as committed
 * on Kafka: read once to the end for the CLI, or followed on a thread for the HTTP API.
 */
public final class ModelRegistry implements DecisionFollower.Listener, AutoCloseable {
    private final Map<String, Promotion> champions = new TreeMap<>();
    private final Map<String, List<EvaluationReport>> history = new TreeMap<>();
    private DecisionFollower follower;

    private ModelRegistry() {}

    /** Both topics read to their current end. */
    public static ModelRegistry read(Map<String, Object> kafka) {
        ModelRegistry registry = new ModelRegistry();
        DecisionFollower.readAll(kafka, registry);
        return registry;
    }

    /** Follows both topics on a thread until closed; a lost connection is made again and the topics read anew. */
    public static ModelRegistry follow(Map<String, Object> kafka) {
        ModelRegistry registry = new ModelRegistry();
        registry.follower = DecisionFollower.start(kafka, "model-registry", registry);
        return registry;
    }

    @Override
    public synchronized void restart() {
        champions.clear();
        history.clear();
    }

    @Override
    public synchronized void promotion(Promotion p) {
        champions.put(p.getLineage(), p);
    }

    @Override
    public synchronized void report(EvaluationReport report) {
        history.computeIfAbsent(report.getLineage(), k -> new ArrayList<>()).add(report);
    }

    public synchronized List<String> lineages() {
        TreeSet<String> names = new TreeSet<>(champions.keySet());
        names.addAll(history.keySet());
        return new ArrayList<>(names);
    }

    public synchronized Optional<Promotion> champion(String lineage) {
        return Optional.ofNullable(champions.get(lineage));
    }

    /** Every decision on the lineage, oldest first: the gate's, and manual promotions. */
    public synchronized List<EvaluationReport> history(String lineage) {
        return List.copyOf(history.getOrDefault(lineage, List.of()));
    }

    /** Every decision about one version of the lineage, oldest first. */
    public synchronized List<EvaluationReport> reports(String lineage, long version) {
        return history.getOrDefault(lineage, List.of()).stream()
                .filter(r -> r.getCandidateVersion() == version)
                .collect(Collectors.toList());
    }

    public synchronized long count(String lineage, Decision decision) {
        return history.getOrDefault(lineage, List.of()).stream()
                .filter(r -> r.getDecision() == decision)
                .count();
    }

    @Override
    public void close() {
        if (follower == null) return;
        try {
            follower.close();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
