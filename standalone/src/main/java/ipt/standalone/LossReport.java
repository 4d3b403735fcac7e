package ipt.standalone;

import ipt.schemas.Decision;
import ipt.schemas.EvaluationReport;
import ipt.schemas.TaskResult;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Held-out loss of every domain over rounds, per lineage, as a self-contained HTML page (inline SVG, no
 * scripts): the served champion's (a line that moves only at promotions) and every candidate's (points), plus
 * the forgetting table: the final champion's loss minus the lowest any champion of the lineage reached.
 */
final class LossReport {
    /** Where a phase of the stream ended: the last evaluated version of each lineage by then. */
    record PhaseEnd(String phase, Map<String, Long> lastVersion) {}

    private static final String[] COLOURS = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"};
    private static final int W = 720, H = 320, LEFT = 56, RIGHT = 120, TOP = 24, BOTTOM = 40;

    private final Map<String, List<EvaluationReport>> byLineage = new TreeMap<>();
    private final List<String> domains;

    LossReport(List<EvaluationReport> reports) {
        TreeSet<String> seenDomains = new TreeSet<>();
        for (EvaluationReport r : reports) {
            byLineage.computeIfAbsent(r.getLineage(), l -> new ArrayList<>()).add(r);
            losses(r).forEach(t -> seenDomains.add(t.getTask()));
        }
        byLineage
                .values()
                .forEach(l -> l.sort((a, b) -> Long.compare(a.getCandidateVersion(), b.getCandidateVersion())));
        domains = new ArrayList<>(seenDomains);
    }

    /** The served champion's loss on a task after the decision: the candidate's if promoted, else the champion's
     * (null: none). */
    static Double champion(EvaluationReport r, TaskResult t) {
        return r.getDecision() == Decision.PROMOTE ? Double.valueOf(t.getCandidate()) : t.getChampion();
    }

    /** lineage → task → F = the last champion's loss − the lowest loss any champion had (what users were served). */
    Map<String, Map<String, Double>> forgetting() {
        Map<String, Map<String, Double>> out = new TreeMap<>();
        byLineage.forEach((lineage, reports) -> {
            Map<String, Double> best = new LinkedHashMap<>();
            Map<String, Double> last = new LinkedHashMap<>();
            for (EvaluationReport r : reports) {
                for (TaskResult t : losses(r)) {
                    Double served = champion(r, t);
                    if (served == null || !Double.isFinite(served)) continue;
                    best.merge(t.getTask(), served, Math::min);
                    last.put(t.getTask(), served);
                }
            }
            Map<String, Double> f = new TreeMap<>();
            last.forEach((task, loss) -> f.put(task, loss - best.get(task)));
            out.put(lineage, f);
        });
        return out;
    }

    /**
     * lineage → task → F of the latest candidate (what is being trained): its loss − the lowest loss any champion or
     * itself had, as the evaluator measures it beside the champion's.
     */
    Map<String, Map<String, Double>> candidateForgetting() {
        Map<String, Map<String, Double>> out = new TreeMap<>();
        byLineage.forEach((lineage, reports) -> {
            Map<String, Double> best = new LinkedHashMap<>();
            for (EvaluationReport r : reports)
                for (TaskResult t : losses(r)) {
                    Double served = champion(r, t);
                    if (served != null && Double.isFinite(served)) best.merge(t.getTask(), served, Math::min);
                }
            Map<String, Double> f = new TreeMap<>();
            candidateLoss(reports).forEach((task, loss) -> {
                if (Double.isFinite(loss)) f.put(task, loss - Math.min(loss, best.getOrDefault(task, loss)));
            });
            out.put(lineage, f);
        });
        return out;
    }

    /**
     * lineage → backward transfer of the champion ("served") or the latest candidate ("trained"): the mean over
     * held-out domains but the newest of (the loss of the last champion promoted while the domain was the newest −
     * the loss now); negative is forgetting.
     */
    Map<String, Map<String, Double>> backwardTransfer() {
        Map<String, Map<String, Double>> out = new TreeMap<>();
        byLineage.forEach((lineage, reports) -> {
            List<String> domains = new ArrayList<>();
            Map<String, Double> atEnd = new LinkedHashMap<>();
            for (EvaluationReport r : reports) {
                for (TaskResult t : losses(r))
                    if (t.getTask().startsWith("heldout/") && !domains.contains(t.getTask())) domains.add(t.getTask());
                if (r.getDecision() == Decision.PROMOTE
                        && !"manual".equals(r.getDecidingRule())
                        && !domains.isEmpty()) {
                    String newest = domains.get(domains.size() - 1);
                    for (TaskResult t : losses(r)) if (t.getTask().equals(newest)) atEnd.put(newest, t.getCandidate());
                }
            }
            Map<String, Double> bwt = new TreeMap<>();
            Map<String, Double> served = finalLoss().getOrDefault(lineage, Map.of());
            Map<String, Double> trained = candidateLoss(reports);
            for (var now : Map.of("served", served, "trained", trained).entrySet()) {
                List<Double> terms = new ArrayList<>();
                for (String domain : domains.subList(0, Math.max(0, domains.size() - 1)))
                    if (atEnd.containsKey(domain) && now.getValue().containsKey(domain))
                        terms.add(atEnd.get(domain) - now.getValue().get(domain));
                if (!terms.isEmpty())
                    bwt.put(
                            now.getKey(),
                            terms.stream().mapToDouble(d -> d).average().orElseThrow());
            }
            out.put(lineage, bwt);
        });
        return out;
    }

    /** The latest judged candidate's loss per task (a manual promotion judges none). */
    private static Map<String, Double> candidateLoss(List<EvaluationReport> reports) {
        Map<String, Double> last = new TreeMap<>();
        for (EvaluationReport r : reports) {
            if ("manual".equals(r.getDecidingRule())) continue;
            last.clear();
            losses(r).forEach(t -> last.put(t.getTask(), t.getCandidate()));
        }
        return last;
    }

    /** lineage → task → the last champion's loss. */
    Map<String, Map<String, Double>> finalLoss() {
        Map<String, Map<String, Double>> out = new TreeMap<>();
        byLineage.forEach((lineage, reports) -> {
            Map<String, Double> last = new TreeMap<>();
            for (EvaluationReport r : reports) {
                for (TaskResult t : losses(r)) {
                    Double served = champion(r, t);
                    if (served != null) last.put(t.getTask(), served);
                }
            }
            out.put(lineage, last);
        });
        return out;
    }

    void write(Path file, List<PhaseEnd> phases) throws IOException {
        StringBuilder html = new StringBuilder();
        html.append("<!doctype html><html><head><meta charset=\"utf-8\"><title>ipt demo: held-out loss "
                        + "over rounds</title>")
                .append("<style>body{font-family:sans-serif;margin:24px;color:#222}table{border-collapse:collapse}"
                        + "td,th{border:1px solid #ccc;padding:4px "
                        + "10px;text-align:right}th{background:#f3f3f3}</style>")
                .append("</head><body><h1>Held-out loss per domain over rounds</h1>")
                .append("<p>Each point is one checkpoint judged by the evaluator on held-out documents of "
                        + "every domain seen so far ")
                .append("(mean nats per byte-token; lower is better). Filled points were promoted, hollow "
                        + "ones rejected by the gate. ")
                .append("The thick lines are the champion, the model users are served: they move only when "
                        + "a candidate is promoted. ")
                .append("Dashed vertical lines mark where a phase of the stream (one domain) ended.</p>");
        for (var entry : byLineage.entrySet()) {
            html.append("<h2>lineage <code>").append(entry.getKey()).append("</code></h2>");
            html.append(chart(entry.getKey(), entry.getValue(), phases));
        }
        html.append("<h2>Forgetting</h2><p>F = the final champion's loss − the lowest loss any champion "
                        + "of the lineage had on the domain ")
                .append("(nats/token; 0 means nothing forgotten).</p>");
        html.append(table(forgetting(), "%+.3f"));
        html.append("<h2>Final champion's held-out loss</h2>");
        html.append(table(finalLoss(), "%.3f"));
        html.append("</body></html>\n");
        Files.writeString(file, html, StandardCharsets.UTF_8);
    }

    private String table(Map<String, Map<String, Double>> values, String format) {
        StringBuilder t = new StringBuilder("<table><tr><th>domain</th>");
        values.keySet().forEach(l -> t.append("<th>").append(l).append("</th>"));
        t.append("</tr>");
        for (String d : domains) {
            t.append("<tr><td>").append(d).append("</td>");
            for (Map<String, Double> v : values.values()) {
                Double x = v.get(d);
                t.append("<td>")
                        .append(x == null ? "" : String.format(Locale.ROOT, format, x))
                        .append("</td>");
            }
            t.append("</tr>");
        }
        return t.append("</table>").toString();
    }

    /** One chart per lineage, all on the same loss scale so their forgetting compares at a glance. */
    private String chart(String lineage, List<EvaluationReport> reports, List<PhaseEnd> phases) {
        double lo = Double.MAX_VALUE, hi = -Double.MAX_VALUE;
        for (List<EvaluationReport> all : byLineage.values()) {
            for (EvaluationReport r : all) {
                for (TaskResult t : losses(r)) {
                    if (!Double.isFinite(t.getCandidate())) continue;
                    lo = Math.min(lo, t.getCandidate());
                    hi = Math.max(hi, t.getCandidate());
                }
            }
        }
        long maxVersion = 1;
        for (EvaluationReport r : reports) maxVersion = Math.max(maxVersion, r.getCandidateVersion());
        if (lo > hi) return "<p>no finite losses</p>";
        double pad = Math.max(0.05, (hi - lo) * 0.05);
        double yMin = lo - pad, yMax = hi + pad;
        final long xMax = maxVersion;
        StringBuilder svg = new StringBuilder();
        svg.append(String.format(
                Locale.ROOT,
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-size=\"11\">",
                W,
                H));
        svg.append(String.format(
                Locale.ROOT,
                "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#999\"/>",
                LEFT,
                TOP,
                W - LEFT - RIGHT,
                H - TOP - BOTTOM));
        for (int i = 0; i <= 4; i++) {
            double v = yMin + (yMax - yMin) * i / 4;
            double y = y(v, yMin, yMax);
            svg.append(String.format(
                    Locale.ROOT, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.2f</text>", LEFT - 4, y + 4, v));
            svg.append(String.format(
                    Locale.ROOT,
                    "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#eee\"/>",
                    LEFT,
                    W - RIGHT,
                    y,
                    y));
        }
        long every = Math.max(1, xMax / 12);
        for (long v = 1; v <= xMax; v += every) {
            svg.append(String.format(
                    Locale.ROOT,
                    "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%d</text>",
                    x(v, xMax),
                    H - BOTTOM + 14,
                    v));
        }
        svg.append(String.format(
                Locale.ROOT,
                "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">round (checkpoint version)</text>",
                (LEFT + W - RIGHT) / 2,
                H - 6));
        svg.append(String.format(
                Locale.ROOT,
                "<text x=\"14\" y=\"%d\" transform=\"rotate(-90 14 %d)\" text-anchor=\"middle\">held-out "
                        + "loss (nats/token)</text>",
                (TOP + H - BOTTOM) / 2,
                (TOP + H - BOTTOM) / 2));
        for (PhaseEnd p : phases) {
            Long v = p.lastVersion().get(lineage);
            if (v == null) continue;
            double x = x(v + 0.5, xMax);
            svg.append(String.format(
                    Locale.ROOT,
                    "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" stroke=\"#888\" stroke-dasharray=\"4 3\"/>",
                    x,
                    x,
                    TOP,
                    H - BOTTOM));
            svg.append(String.format(
                    Locale.ROOT,
                    "<text x=\"%.1f\" y=\"%d\" text-anchor=\"end\" fill=\"#666\">%s ends</text>",
                    x - 3,
                    H - BOTTOM - 6,
                    p.phase()));
        }
        for (int d = 0; d < domains.size(); d++) {
            String task = domains.get(d);
            String colour = COLOURS[d % COLOURS.length];
            StringBuilder line = new StringBuilder();
            StringBuilder served = new StringBuilder();
            StringBuilder points = new StringBuilder();
            for (EvaluationReport r : reports) {
                for (TaskResult t : losses(r)) {
                    if (!t.getTask().equals(task) || !Double.isFinite(t.getCandidate())) continue;
                    double x = x(r.getCandidateVersion(), xMax), y = y(t.getCandidate(), yMin, yMax);
                    line.append(String.format(Locale.ROOT, "%.1f,%.1f ", x, y));
                    Double champion = champion(r, t);
                    if (champion != null && Double.isFinite(champion)) {
                        double cy = y(Math.min(yMax, Math.max(yMin, champion)), yMin, yMax);
                        served.append(String.format(
                                Locale.ROOT, "%.1f,%.1f %.1f,%.1f ", x - 0.5 * (x(2, xMax) - x(1, xMax)), cy, x, cy));
                    }
                    boolean promoted = r.getDecision() == Decision.PROMOTE;
                    points.append(String.format(
                            Locale.ROOT,
                            "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" stroke=\"%s\" fill=\"%s\"><title>v%d "
                                    + "%s %.4f %s</title></circle>",
                            x,
                            y,
                            colour,
                            promoted ? colour : "white",
                            r.getCandidateVersion(),
                            task,
                            t.getCandidate(),
                            r.getDecision()));
                }
            }
            svg.append(String.format(
                    Locale.ROOT,
                    "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1\" stroke-dasharray=\"2 2\" points=\"%s\"/>",
                    colour,
                    line));
            svg.append(String.format(
                    Locale.ROOT,
                    "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"3\" stroke-opacity=\"0.6\" points=\"%s\"/>",
                    colour,
                    served));
            svg.append(points);
            svg.append(String.format(
                    Locale.ROOT,
                    "<text x=\"%d\" y=\"%d\" fill=\"%s\">%s</text>",
                    W - RIGHT + 8,
                    TOP + 12 + 14 * d,
                    colour,
                    task));
        }
        return svg.append("</svg>").toString();
    }

    private static double x(double version, long maxVersion) {
        return LEFT + (W - LEFT - RIGHT) * (version - 0.5) / maxVersion;
    }

    private static double y(double v, double min, double max) {
        return TOP + (H - TOP - BOTTOM) * (1 - (v - min) / (max - min));
    }

    /** The report's loss measures (held-out domains and text suites); the chart and forgetting are in nats/token. */
    private static List<TaskResult> losses(EvaluationReport r) {
        return r.getTasks().stream().filter(t -> t.getMetric().equals("loss")).toList();
    }
}
