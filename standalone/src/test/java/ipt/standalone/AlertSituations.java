package ipt.standalone;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * promtool tests of deploy/prometheus/alerts.yml whose input series are the services' real ones: each situation below
 * says which metric's values go how over time (promtool's notation) and which alert must fire then; the series it
 * scripts are picked from a real /metrics exposition of a running demo (their names and whole label sets, with job and
 * instance as Prometheus adds them), so a rule selecting a metric, label or value the services do not export cannot
 * fire and its test fails. Only a label a situation must change to make its case (a 5xx status) is overridden, and
 * only when the real series has that label.
 */
final class AlertSituations {
    /**
     * Values for a real series of {@code metric} whose labels include {@code pick}; {@code set} overrides labels the
     * series has. A firing script's series shares the situation's key label value with the other firing scripts; a
     * quiet one (a healthy neighbour that must not fire) takes a series with another key value when there is one.
     */
    record Script(String metric, Map<String, String> pick, Map<String, String> set, String values, boolean firing) {
        static Script fires(String metric, String values) {
            return new Script(metric, Map.of(), Map.of(), values, true);
        }

        static Script quiet(String metric, String values) {
            return new Script(metric, Map.of(), Map.of(), values, false);
        }

        Script pick(Map<String, String> labels) {
            return new Script(metric, labels, set, values, firing);
        }

        Script set(Map<String, String> labels) {
            return new Script(metric, pick, labels, values, firing);
        }
    }

    /** A rule's situation: the scripts, when it must fire, the labels its alert carries, and a time it must not. */
    record Situation(
            String rule, String key, List<Script> scripts, String firesAt, List<String> alertLabels, String quietAt) {}

    /** What each rule of alerts.yml is about, in minutes of promtool's time. */
    static final List<Situation> SITUATIONS = List.of(
            new Situation(
                    "IptServiceDown",
                    "instance",
                    List.of(Script.fires("up", "1 1 0x10"), Script.quiet("up", "1x12")),
                    "10m",
                    List.of("job", "instance"),
                    "5m"),
            new Situation(
                    "IptTrainerStalled",
                    "lineage",
                    List.of(
                            Script.fires("ipt_trainer_steps_total", "0+10x10 100x40"),
                            Script.fires("ipt_trainer_consumer_lag_records", "500x50"),
                            Script.quiet("ipt_trainer_steps_total", "0+10x50"),
                            Script.quiet("ipt_trainer_consumer_lag_records", "500x50")),
                    "45m",
                    List.of("lineage"),
                    "20m"),
            new Situation(
                    "IptConsumerLagGrowing",
                    "lineage",
                    List.of(
                            Script.fires("ipt_trainer_consumer_lag_records", "20000+100x80"),
                            Script.quiet("ipt_trainer_consumer_lag_records", "20000-100x80")),
                    "70m",
                    List.of("lineage"),
                    "20m"),
            // A promotion three hours ago, then three rejections in a row: fires at once.
            new Situation(
                    "IptRepeatedRejections",
                    "lineage",
                    List.of(
                            Script.fires("ipt_evaluator_candidates_since_promotion", "0x180 1 2 3x5"),
                            Script.quiet("ipt_evaluator_candidates_since_promotion", "2x190")),
                    "183m",
                    List.of("lineage"),
                    "182m"),
            new Situation(
                    "IptLineageNotAdvancing",
                    "lineage",
                    List.of(
                            Script.fires("ipt_evaluator_candidates_since_promotion", "0x180 1+1x12"),
                            Script.quiet("ipt_evaluator_candidates_since_promotion", "9x200")),
                    "190m",
                    List.of("lineage"),
                    "189m"),
            new Situation(
                    "IptDivergenceGuardFiring",
                    "lineage",
                    List.of(
                            Script.fires("ipt_trainer_guard_events_total", "0x10 1x20"),
                            Script.quiet("ipt_trainer_guard_events_total", "0x30")),
                    "15m",
                    List.of("lineage", "kind"),
                    "5m"),
            new Situation(
                    "IptReplayRebuildNotExact",
                    "lineage",
                    List.of(
                            Script.fires("ipt_trainer_replay_rebuilds_total", "0x10 1x20")
                                    .pick(Map.of("outcome", "inexact")),
                            Script.quiet("ipt_trainer_replay_rebuilds_total", "0x10 1x20")
                                    .pick(Map.of("outcome", "exact"))),
                    "15m",
                    List.of("lineage", "outcome"),
                    "5m"),
            // Half the ingest API's document requests answered 503 (Kafka not acknowledging).
            new Situation(
                    "IptIngestErrors",
                    "instance",
                    List.of(
                            Script.fires("ipt_http_requests_total", "0+10x30")
                                    .pick(Map.of("route", "documents"))
                                    .set(Map.of("status", "503")),
                            Script.fires("ipt_http_requests_total", "0+10x30").pick(Map.of("route", "documents"))),
                    "15m",
                    List.of(),
                    "3m"),
            // A burst on a new domain: its series are born with their whole value, 80 of 100 rejected.
            new Situation(
                    "IptCurationRejectingMost",
                    "instance",
                    List.of(
                            Script.fires("ipt_curation_rejected_total", "_x5 80x25"),
                            Script.fires("ipt_curation_stage_in_total", "_x5 100x25")
                                    .pick(Map.of("stage", "parse"))),
                    "12m",
                    List.of(),
                    "4m"),
            new Situation(
                    "IptCurationStreamThreadsDying",
                    "instance",
                    List.of(Script.fires("ipt_curation_stream_thread_replacements_total", "0 1 2 3x20")),
                    "10m",
                    List.of("instance"),
                    "1m"),
            new Situation(
                    "IptServingNotFollowingChampion",
                    "lineage",
                    List.of(
                            Script.fires("ipt_serving_publish_failures_total", "0+1x40"),
                            Script.quiet("ipt_serving_publish_failures_total", "0x40")),
                    "25m",
                    List.of("lineage"),
                    "5m"),
            // Trained on, never served: the oldest such document ages an hour a minute, past a day at minute 25.
            new Situation(
                    "IptServedModelStale",
                    "lineage",
                    List.of(
                            Script.fires("ipt_freshness_unserved_age_seconds", "0+3600x50"),
                            Script.quiet("ipt_freshness_unserved_age_seconds", "0+60x50")),
                    "41m",
                    List.of("lineage"),
                    "30m"));

    private static final ObjectMapper JSON = new ObjectMapper();

    private AlertSituations() {}

    /**
     * Writes {@code rules} (annotations dropped: promtool compares them, and they are text, not conditions) and the
     * tests of every situation built from {@code expositions} into {@code dir}; returns the tests file. Situations
     * whose series the services do not export are listed in {@code unexported}, and their tests expect an alert that
     * cannot come.
     */
    static Path write(Path rules, Map<String, ServiceScrapes.Exposition> expositions, Path dir, List<String> unexported)
            throws IOException {
        Files.createDirectories(dir);
        Path rulesCopy = dir.resolve("rules.yml");
        Files.writeString(rulesCopy, withoutAnnotations(Files.readString(rules)));
        Map<String, String> severities = severities(Files.readString(rules));
        List<Map<String, String>> series = new ArrayList<>();
        for (ServiceScrapes.Exposition e : expositions.values()) {
            series.add(Map.of("__name__", "up", "job", e.job(), "instance", e.instance()));
            for (MetricSample s : e.samples()) {
                Map<String, String> labels = new TreeMap<>(s.labels());
                labels.put("__name__", s.name());
                labels.put("job", e.job());
                labels.put("instance", e.instance());
                series.add(labels);
            }
        }
        StringBuilder yml = new StringBuilder(
                        "# Generated from a real scrape of the demo's services by AlertSituations.\n")
                .append("rule_files: [rules.yml]\nevaluation_interval: 1m\ntests:\n");
        for (Situation s : SITUATIONS) {
            yml.append("  # ").append(s.rule()).append('\n').append("  - interval: 1m\n    input_series:\n");
            String key = null;
            Map<String, String> fired = new TreeMap<>();
            for (Script script : s.scripts()) {
                Map<String, String> real = null;
                for (Map<String, String> candidate : series) {
                    if (!candidate.get("__name__").equals(script.metric())) continue;
                    if (!candidate.entrySet().containsAll(script.pick().entrySet())) continue;
                    String value = candidate.get(s.key());
                    if (script.firing() ? key == null || key.equals(value) : !java.util.Objects.equals(value, key)) {
                        real = candidate;
                        break;
                    }
                }
                if (real == null) {
                    if (script.firing()) unexported.add(s.rule() + ": no exported " + script.metric() + script.pick());
                    continue;
                }
                Map<String, String> labels = new TreeMap<>(real);
                for (Map.Entry<String, String> e : script.set().entrySet()) {
                    if (!labels.containsKey(e.getKey()))
                        unexported.add(s.rule() + ": " + script.metric() + " has no label " + e.getKey());
                    else labels.put(e.getKey(), e.getValue());
                }
                if (script.firing()) {
                    if (key == null) key = labels.get(s.key());
                    for (String l : s.alertLabels()) fired.putIfAbsent(l, labels.get(l));
                }
                yml.append("      - series: ")
                        .append(JSON.writeValueAsString(series(labels)))
                        .append('\n')
                        .append("        values: ")
                        .append(JSON.writeValueAsString(script.values()))
                        .append('\n');
            }
            fired.put("severity", severities.get(s.rule()));
            yml.append("    alert_rule_test:\n")
                    .append("      - eval_time: ")
                    .append(s.quietAt())
                    .append('\n')
                    .append("        alertname: ")
                    .append(s.rule())
                    .append("\n        exp_alerts: []\n")
                    .append("      - eval_time: ")
                    .append(s.firesAt())
                    .append('\n')
                    .append("        alertname: ")
                    .append(s.rule())
                    .append('\n')
                    .append("        exp_alerts:\n          - exp_labels: ")
                    .append(JSON.writeValueAsString(fired))
                    .append('\n');
        }
        Path tests = dir.resolve("alerts_test.yml");
        Files.writeString(tests, yml);
        return tests;
    }

    /** The rule names of a rules file, in order. */
    static List<String> rules(String yml) {
        List<String> out = new ArrayList<>();
        Matcher m = Pattern.compile("(?m)^\\s*- alert:\\s*(\\S+)").matcher(yml);
        while (m.find()) out.add(m.group(1));
        return out;
    }

    private static String series(Map<String, String> labels) throws IOException {
        StringBuilder s = new StringBuilder(labels.get("__name__")).append('{');
        boolean first = true;
        for (Map.Entry<String, String> e : labels.entrySet()) {
            if (e.getKey().equals("__name__")) continue;
            if (!first) s.append(", ");
            s.append(e.getKey()).append('=').append(JSON.writeValueAsString(e.getValue()));
            first = false;
        }
        return s.append('}').toString();
    }

    private static Map<String, String> severities(String yml) {
        Map<String, String> out = new LinkedHashMap<>();
        Matcher m =
                Pattern.compile("(?s)- alert:\\s*(\\S+).*?severity:\\s*(\\w+)").matcher(yml);
        while (m.find()) out.put(m.group(1), m.group(2));
        return out;
    }

    private static String withoutAnnotations(String yml) {
        StringBuilder out = new StringBuilder();
        int skipping = -1;
        for (String line : yml.split("\n")) {
            int indent = line.length() - line.stripLeading().length();
            if (skipping >= 0 && (line.isBlank() || indent > skipping)) continue;
            skipping = -1;
            if (line.strip().startsWith("annotations:")) {
                skipping = indent;
                continue;
            }
            out.append(line).append('\n');
        }
        return out.toString();
    }
}
