package ipt.standalone;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What `ipt demo` printed, read back as the values the evaluator's gauges must show at the end: the last judged row of
 * each lineage and task (candidate and champion loss), the serving version of each lineage's last phase line, and the
 * forgetting and transfer table for the champion (served) and the latest candidate (trained).
 */
final class DemoPrinted {
    private static final Pattern ROW =
            Pattern.compile("^(\\S+)\\s+v(\\d+)\\s+(\\d+)\\s+(\\S+)\\s+(\\d+\\.\\d+)\\s+(\\S+)\\s+(\\S+)(?:\\s+.*)?$");
    private static final Pattern SERVING = Pattern.compile("(\\S+) \\d+/\\d+ promoted, serving v(\\d+)");
    private static final Pattern FORGETTING =
            Pattern.compile("^(\\S+)\\s+(\\S+)\\s+([+-]\\d+\\.\\d+) \\((\\d+\\.\\d+)\\)\\s+(\\S+)$");
    private static final Pattern TRANSFER =
            Pattern.compile("^(\\S+) +backward transfer: served (\\S+), trained (\\S+); forward transfer (\\S+)$");

    private DemoPrinted() {}

    static List<PanelTruth.Truth> truths(String printed) {
        Map<String, PanelTruth.Truth> out = new LinkedHashMap<>(); // later lines replace earlier ones
        for (String line : printed.split("\n")) {
            Matcher row = ROW.matcher(line);
            Matcher forgetting = FORGETTING.matcher(line);
            Matcher transfer = TRANSFER.matcher(line);
            if (row.matches()) {
                String table = "demo's table, last row of v" + row.group(2);
                put(
                        out,
                        "ipt_evaluator_task_metric",
                        Map.of("lineage", row.group(1), "task", row.group(4), "metric", "loss", "model", "candidate"),
                        row.group(5),
                        table);
                put(
                        out,
                        "ipt_evaluator_task_metric",
                        Map.of("lineage", row.group(1), "task", row.group(4), "metric", "loss", "model", "champion"),
                        row.group(6),
                        table);
            } else if (forgetting.matches()) {
                put(
                        out,
                        "ipt_evaluator_forgetting",
                        Map.of("lineage", forgetting.group(1), "task", forgetting.group(2), "model", "champion"),
                        forgetting.group(3),
                        "demo's forgetting table, served");
                put(
                        out,
                        "ipt_evaluator_forgetting",
                        Map.of("lineage", forgetting.group(1), "task", forgetting.group(2), "model", "candidate"),
                        forgetting.group(5),
                        "demo's forgetting table, trained");
            } else if (transfer.matches()) {
                String lineage = transfer.group(1);
                put(
                        out,
                        "ipt_evaluator_backward_transfer",
                        Map.of("lineage", lineage, "model", "champion"),
                        transfer.group(2),
                        "demo's transfer line, served");
                put(
                        out,
                        "ipt_evaluator_backward_transfer",
                        Map.of("lineage", lineage, "model", "candidate"),
                        transfer.group(3),
                        "demo's transfer line, trained");
                put(
                        out,
                        "ipt_evaluator_forward_transfer",
                        Map.of("lineage", lineage),
                        transfer.group(4),
                        "demo's transfer line (the evaluator's last report)");
            } else if (line.startsWith("phase ")) {
                Matcher serving = SERVING.matcher(line);
                while (serving.find()) {
                    for (String metric : List.of("ipt_evaluator_champion_version", "ipt_serving_version"))
                        put(
                                out,
                                metric,
                                Map.of("lineage", serving.group(1)),
                                serving.group(2),
                                "demo's last phase line for the lineage");
                }
            }
        }
        return new ArrayList<>(out.values());
    }

    /** A printed "-" says there is no such value: an earlier one stays (a gauge keeps its last value too). */
    private static void put(
            Map<String, PanelTruth.Truth> out, String metric, Map<String, String> labels, String value, String source) {
        if (value.equals("-")) return;
        out.put(
                metric + new java.util.TreeMap<>(labels),
                new PanelTruth.Truth(new MetricSample(metric, labels, Double.parseDouble(value)), source));
    }
}
