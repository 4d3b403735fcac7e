package ipt.evaluator;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * What the gate holds a candidate to, in the spirit of TFX's thresholds. Per task (a glob over task names) and
 * metric: a value threshold, an absolute bound on the metric itself, which applies even to a lineage's first
 * candidate; a change threshold against the champion, relative and/or absolute, in the worse direction (loss:
 * up; acc: down). And a minimum improvement over the champion on the lineage's target task, by default its
 * newest held-out domain. Any NaN or infinite metric rejects. Read from YAML (IPT_GATE_RULES, README).
 */
public record GateRules(List<TaskRule> tasks, Target target) {

    /** Bounds on one metric of the tasks whose name matches {@code task} ({@code *} matches any run of characters). */
    record TaskRule(String task, String metric, Double valueThreshold, Change change) {
        boolean matches(String taskName, String metricName) {
            return metric.equals(metricName) && glob(task).matcher(taskName).matches();
        }
    }

    /** How far a metric may move; a null part is not checked. */
    record Change(Double relative, Double absolute) {}

    /** The improvement a candidate must show on its lineage's target task over the champion, or null for none. */
    record Target(String task, Map<String, String> lineages, String metric, Change minImprovement) {
        static final String NEWEST = "newest";

        /** The lineage's target task: its own, else the configured one, where "newest" is the newest held-out
         * domain. */
        String taskFor(String lineage, String newestHeldOut) {
            String t = lineages.getOrDefault(lineage, task);
            return NEWEST.equals(t) ? newestHeldOut : t;
        }
    }

    public GateRules {
        tasks = List.copyOf(tasks);
    }

    /** Loss may rise at most {@code budget} (relative) over the champion's on every task; no value bounds, no
     * target. */
    public static GateRules defaults(double budget) {
        return new GateRules(List.of(new TaskRule("*", TaskScores.LOSS, null, new Change(budget, null))), null);
    }

    List<TaskRule> rulesFor(String task, String metric) {
        return tasks.stream().filter(r -> r.matches(task, metric)).toList();
    }

    static GateRules load(Path yaml) throws IOException {
        JsonNode root;
        try {
            root = new ObjectMapper(new YAMLFactory()).readTree(yaml.toFile());
        } catch (IOException e) {
            throw new IllegalArgumentException(yaml + ": not YAML: " + e.getMessage());
        }
        return parse(root, yaml.toString());
    }

    static GateRules parse(JsonNode root, String where) {
        if (root == null || !root.isObject())
            throw new IllegalArgumentException(where + ": expected a mapping with tasks and/or target");
        keys(root, where, Set.of("tasks", "target"));
        List<TaskRule> rules = new ArrayList<>();
        JsonNode tasks = root.path("tasks");
        if (!tasks.isMissingNode() && !tasks.isArray())
            throw new IllegalArgumentException(where + ": tasks must be a list");
        int i = 0;
        for (JsonNode rule : tasks) {
            String at = where + ": tasks[" + i++ + "]";
            keys(rule, at, Set.of("task", "metric", "valueThreshold", "changeThreshold"));
            String metric = text(rule, "metric", at, TaskScores.LOSS);
            if (!Set.of(TaskScores.LOSS, TaskScores.ACC, TaskScores.ACC_NORM).contains(metric)) {
                throw new IllegalArgumentException(at + ": metric must be loss, acc or acc_norm, is " + metric);
            }
            Double value = number(rule, "valueThreshold", at);
            Change change = change(rule.get("changeThreshold"), at + ".changeThreshold");
            if (value == null && change == null)
                throw new IllegalArgumentException(at + ": sets neither valueThreshold nor changeThreshold");
            rules.add(new TaskRule(text(rule, "task", at, null), metric, value, change));
        }
        Target target = null;
        JsonNode t = root.get("target");
        if (t != null && !t.isNull()) {
            String at = where + ": target";
            keys(t, at, Set.of("task", "lineages", "metric", "minImprovement"));
            Map<String, String> lineages = new TreeMap<>();
            JsonNode perLineage = t.path("lineages");
            if (!perLineage.isMissingNode() && !perLineage.isObject())
                throw new IllegalArgumentException(at + ".lineages must map lineage to task");
            perLineage
                    .fields()
                    .forEachRemaining(e -> lineages.put(e.getKey(), e.getValue().asText()));
            Change min = change(t.get("minImprovement"), at + ".minImprovement");
            if (min == null)
                throw new IllegalArgumentException(at + ": minImprovement (relative and/or absolute) is required");
            target = new Target(
                    text(t, "task", at, Target.NEWEST), lineages, text(t, "metric", at, TaskScores.LOSS), min);
        }
        return new GateRules(rules, target);
    }

    private static Change change(JsonNode node, String at) {
        if (node == null || node.isNull()) return null;
        keys(node, at, Set.of("relative", "absolute"));
        Change change = new Change(number(node, "relative", at), number(node, "absolute", at));
        if (change.relative() == null && change.absolute() == null)
            throw new IllegalArgumentException(at + ": give relative and/or absolute");
        if ((change.relative() != null && change.relative() < 0)
                || (change.absolute() != null && change.absolute() < 0)) {
            throw new IllegalArgumentException(at + ": thresholds are magnitudes, not negative");
        }
        return change;
    }

    private static void keys(JsonNode node, String at, Set<String> allowed) {
        if (!node.isObject()) throw new IllegalArgumentException(at + ": expected a mapping");
        for (Iterator<String> names = node.fieldNames(); names.hasNext(); ) {
            String name = names.next();
            if (!allowed.contains(name))
                throw new IllegalArgumentException(
                        at + ": unknown key " + name + " (known: " + new java.util.TreeSet<>(allowed) + ")");
        }
    }

    private static String text(JsonNode node, String key, String at, String fallback) {
        JsonNode v = node.get(key);
        if (v == null || v.isNull()) {
            if (fallback == null) throw new IllegalArgumentException(at + ": " + key + " is required");
            return fallback;
        }
        if (!v.isTextual()) throw new IllegalArgumentException(at + ": " + key + " must be a string");
        return v.asText();
    }

    private static Double number(JsonNode node, String key, String at) {
        JsonNode v = node.get(key);
        if (v == null || v.isNull()) return null;
        if (!v.isNumber() || !Double.isFinite(v.asDouble()))
            throw new IllegalArgumentException(at + ": " + key + " must be a finite number");
        return v.asDouble();
    }

    private static Pattern glob(String glob) {
        return Pattern.compile(java.util.Arrays.stream(glob.split("\\*", -1))
                .map(Pattern::quote)
                .collect(java.util.stream.Collectors.joining(".*")));
    }
}
