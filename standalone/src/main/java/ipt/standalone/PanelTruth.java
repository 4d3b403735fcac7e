package ipt.standalone;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Every query of the Grafana dashboard against what actually happened. A panel that rates a counter (rate, increase,
 * the born-aware last-minute difference, a histogram's quantile through its observation count) is summed over
 * consecutive windows ending at the run's last scrape and compared with the counter's final total as the services
 * exported it (within 10%). Any other query must be a gauge selector (times or divided by a constant): each of its
 * series' last point in the run is compared with the truth for that series (the demo's printed figures where it prints
 * them, else the services' own last /metrics), and a series on only one side disagrees: every series of the metric
 * must be on the panel, so one selecting the champion's forgetting alone fails. A query of no known shape is reported
 * as unchecked, which disagrees too, so a new panel cannot escape the check.
 */
final class PanelTruth {
    /** A known value of one exported series and where it was read. */
    record Truth(MetricSample sample, String source) {}

    /** One line of the truth table. */
    record Row(String panel, String series, String shown, String truth, String source, String ratio, boolean agrees) {}

    private static final Pattern COUNTER = Pattern.compile("(ipt_[a-z_]+(?:_total|_count))");
    private static final Pattern GAUGE =
            Pattern.compile("^\\s*((?:ipt_[a-z_]+)(?:\\{[^}]*})?)\\s*(?:([*/])\\s*([0-9.eE+-]+))?\\s*$");
    /** The born-aware panels' window: what a counter gained since the same time one window before. */
    private static final Pattern BORN_AWARE = Pattern.compile("offset (\\d+)([mh])");

    private static final double RATE_TOLERANCE = 0.10;
    /** Printed figures have 4 decimals. */
    private static final double GAUGE_TOLERANCE = 6e-4;

    private final PrometheusApi api;
    private final int rateWindow;
    private final long started;
    private final long lastScrape;
    private final List<MetricSample> exported;
    private final long settled;
    private final List<MetricSample> atSettled;
    private final List<Truth> printed;

    /**
     * @param rateWindow seconds $__rate_interval stands for (Grafana's: 4 scrape intervals)
     * @param exported every service's last /metrics, as read directly: the counters' totals
     * @param settled when the run's work was done and before the services stopped (epoch seconds)
     * @param atSettled every service's /metrics as read directly then: the gauges' truth
     * @param printed figures the demo printed: for the metrics they cover they replace the services' own values
     */
    PanelTruth(
            PrometheusApi api,
            int rateWindow,
            long started,
            long lastScrape,
            List<MetricSample> exported,
            long settled,
            List<MetricSample> atSettled,
            List<Truth> printed) {
        this.api = api;
        this.rateWindow = rateWindow;
        this.started = started;
        this.lastScrape = lastScrape;
        this.exported = exported;
        this.settled = settled;
        this.atSettled = atSettled;
        this.printed = printed;
    }

    List<Row> check(JsonNode dashboard) throws IOException, InterruptedException {
        List<Row> rows = new ArrayList<>();
        for (JsonNode panel : dashboard.get("panels")) {
            List<String> checked = new ArrayList<>();
            for (JsonNode target : panel.path("targets")) {
                String title = panel.get("title").asText();
                String query = filled(target.get("expr").asText(), rateWindow);
                String counted = counted(query);
                if (counted != null && checked.contains(counted))
                    continue; // p50 and p99 of one histogram count the same observations
                checked.add(counted);
                Matcher gauge = GAUGE.matcher(query);
                if (counted != null) rows.add(rate(title, counted));
                else if (gauge.matches()) rows.addAll(gauge(title, gauge));
                else rows.add(new Row(title, query, "-", "-", "no rule to check this query's shape", "-", false));
            }
        }
        return rows;
    }

    /**
     * The query as a count of events, or null when it rates nothing: a histogram quantile becomes the same windows
     * over its {@code _count}, without {@code le}.
     */
    static String counted(String query) {
        if (query.startsWith("histogram_quantile(")) {
            String inner =
                    query.substring(query.indexOf(',') + 1, query.length() - 1).strip();
            return inner.replace("_bucket", "_count")
                    .replace("by (le, ", "by (")
                    .replace("sum by (le) ", "sum ");
        }
        boolean rated = BORN_AWARE.matcher(query).find() || query.contains("rate(") || query.contains("increase(");
        return rated && COUNTER.matcher(query).find() ? query : null;
    }

    /** The panel summed over consecutive windows that end at the last scrape, against the counter's final total. */
    private Row rate(String title, String query) throws IOException, InterruptedException {
        int window; // seconds: the born-aware panels' fixed window (a minute, an hour), or $__rate_interval as filled
        boolean perSecond;
        Matcher bornAware = BORN_AWARE.matcher(query);
        if (bornAware.find()) {
            window = Integer.parseInt(bornAware.group(1)) * (bornAware.group(2).equals("h") ? 3600 : 60);
            perSecond = query.strip().endsWith("/ " + window);
        } else {
            window = rateWindow;
            perSecond = query.contains("rate(");
        }
        double scale = 1;
        Matcher divided = Pattern.compile("/ (1e\\d+)\\s*$").matcher(query);
        if (divided.find()) scale = Double.parseDouble(divided.group(1));
        long windows = (lastScrape - started + window - 1) / window;
        double sum = 0;
        for (JsonNode series : api.range(query, lastScrape - windows * window, lastScrape, window))
            for (JsonNode v : series.get("values")) {
                double y = v.get(1).asDouble();
                if (Double.isFinite(y)) sum += perSecond ? y * window : y;
            }
        Matcher counter = COUNTER.matcher(query);
        counter.find();
        Selector selector = Selector.allIn(query).stream()
                .filter(s -> s.metric().equals(counter.group(1)))
                .findFirst()
                .orElseThrow();
        double truth = exported.stream()
                        .filter(selector::matches)
                        .mapToDouble(MetricSample::value)
                        .sum()
                / scale;
        boolean agrees = Math.abs(sum - truth) <= RATE_TOLERANCE * Math.max(truth, 1);
        return new Row(
                title,
                "integral of " + (perSecond ? "rate × window" : "per-window counts") + " (" + counter.group(1) + ")",
                format(sum),
                format(truth),
                "services' /metrics: counter total at the end",
                truth == 0
                        ? (sum == 0 ? "1 (both 0)" : "∞")
                        : String.format(java.util.Locale.ROOT, "%.3f", sum / truth),
                agrees);
    }

    /** Each series of a gauge panel when the run settled against the truth for the same series. */
    private List<Row> gauge(String title, Matcher gauge) throws IOException, InterruptedException {
        Selector selector = Selector.allIn(gauge.group(1)).get(0);
        double factor = gauge.group(2) == null
                ? 1
                : gauge.group(2).equals("*")
                        ? Double.parseDouble(gauge.group(3))
                        : 1 / Double.parseDouble(gauge.group(3));
        boolean fromDemo = printed.stream().anyMatch(t -> t.sample().name().equals(selector.metric()));
        Map<Map<String, String>, Truth> truths = new TreeMap<>(PanelTruth::compare);
        // Every series of the metric, whatever the panel selects: one it filters out is a series nobody sees.
        if (fromDemo) {
            for (Truth t : printed)
                if (t.sample().name().equals(selector.metric()))
                    truths.put(t.sample().labels(), t);
        } else {
            for (MetricSample s : atSettled)
                if (s.name().equals(selector.metric()))
                    truths.put(s.labels(), new Truth(s, "services' /metrics when settled"));
        }
        Map<Map<String, String>, Double> shown = new TreeMap<>(PanelTruth::compare);
        // Each series' last point by then: a series that stopped earlier (a lineage's last round) still counts.
        String last = "last_over_time(" + gauge.group(1) + "[" + (settled - started + 60) + "s])"
                + (gauge.group(2) == null ? "" : " " + gauge.group(2) + " " + gauge.group(3));
        for (JsonNode series : api.query(last, settled)) {
            Map<String, String> labels = new TreeMap<>();
            series.get("metric")
                    .fields()
                    .forEachRemaining(e -> labels.put(e.getKey(), e.getValue().asText()));
            labels.keySet().removeAll(List.of("__name__", "job", "instance"));
            shown.put(Map.copyOf(labels), series.get("value").get(1).asDouble());
        }
        List<Row> rows = new ArrayList<>();
        java.util.Set<Map<String, String>> all = new java.util.TreeSet<>(PanelTruth::compare);
        all.addAll(truths.keySet());
        all.addAll(shown.keySet());
        for (Map<String, String> labels : all) {
            Double value = shown.get(labels);
            Truth truth = truths.get(labels);
            Double expected = truth == null ? null : truth.sample().value() * factor;
            // An age grows a second each second, and Prometheus's last scrape before the settled moment and the
            // direct read then are up to a scrape interval apart (a quarter of the rate window, at most).
            double tolerance = selector.metric().endsWith("_age_seconds")
                    ? rateWindow / 4.0 + 1
                    : Math.max(GAUGE_TOLERANCE, 1e-6 * Math.abs(expected == null ? 0 : expected));
            boolean agrees = value != null && expected != null && Math.abs(value - expected) <= tolerance;
            rows.add(new Row(
                    title,
                    selector.metric() + labels,
                    value == null ? "not shown" : format(value),
                    expected == null ? "none" : format(expected),
                    truth == null ? (fromDemo ? "the demo printed none" : "not exported") : truth.source(),
                    value == null || expected == null
                            ? "-"
                            : expected == 0
                                    ? (value == 0 ? "1 (both 0)" : "∞")
                                    : String.format(java.util.Locale.ROOT, "%.4f", value / expected),
                    agrees));
        }
        if (rows.isEmpty()) rows.add(new Row(title, gauge.group(1), "no series", "no series", "-", "-", false));
        return rows;
    }

    /** A panel's PromQL with Grafana's variables filled: every lineage, the given rate window. */
    static String filled(String query, int rateWindow) {
        return query.replace("$__rate_interval", rateWindow + "s").replace("$lineage", ".*");
    }

    private static String format(double v) {
        return v == Math.rint(v) && Math.abs(v) < 1e15
                ? String.valueOf((long) v)
                : String.format(java.util.Locale.ROOT, "%.4f", v);
    }

    private static int compare(Map<String, String> a, Map<String, String> b) {
        return new TreeMap<>(a).toString().compareTo(new TreeMap<>(b).toString());
    }
}
