package ipt.standalone;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import ipt.model.GptConfig;
import ipt.testsupport.EmbeddedKafka;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Grafana dashboard against a real Prometheus (Debian's prometheus package): Prometheus scrapes a running
 * `ipt demo` (a short one) through the targets file the demo writes, loading deploy/prometheus/alerts.yml; then
 * every panel query returns data over the demo's run, every alert expression evaluates, and the panels' series
 * are drawn to target/dashboard.png for a person to look at without Grafana. Skipped without prometheus.
 */
class DashboardIT {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient HTTP = HttpClient.newHttpClient();

    @TempDir
    Path dir;

    @Test
    void everyPanelHasDataFromARunningDemoAndEveryAlertEvaluates() throws Exception {
        assumeTrue(
                Files.isExecutable(Path.of("/usr/bin/prometheus")),
                "prometheus is not installed (apt-get install prometheus)");
        Path work = dir.resolve("demo");
        Demo.Options options = new Demo.Options(
                work, 150, 100, 100, 0, 10, 8, 0.25, GptConfig.small()); // enough held-out text for 3 tasks
        ByteArrayOutputStream demoOut = new ByteArrayOutputStream();
        Thread demo = new Thread(
                () -> {
                    try {
                        new Demo(options, new PrintStream(demoOut, true, StandardCharsets.UTF_8)).run();
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                },
                "demo");
        // Prometheus is up before the demo starts, so its first events are scraped however slowly either starts.
        Path targets = work.resolve("prometheus-targets.json");
        int port = EmbeddedKafka.freePort();
        Path config = dir.resolve("prometheus.yml");
        Files.writeString(config, """
        global: {scrape_interval: 1s, evaluation_interval: 1s}
        rule_files: [%s]
        scrape_configs:
          - job_name: ipt
            file_sd_configs: [{files: [%s], refresh_interval: 1s}]
        """.formatted(DeployMonitoringTest.DEPLOY.resolve("prometheus/alerts.yml"), targets));
        Process prometheus = new ProcessBuilder(
                        "/usr/bin/prometheus",
                        "--config.file=" + config,
                        "--storage.tsdb.path=" + dir.resolve("tsdb"),
                        "--web.listen-address=127.0.0.1:" + port)
                .redirectErrorStream(true)
                .redirectOutput(dir.resolve("prometheus.log").toFile())
                .start();
        String api = "http://127.0.0.1:" + port + "/api/v1/";
        try {
            awaitReady("http://127.0.0.1:" + port + "/-/ready", prometheus);
            long started = System.currentTimeMillis() / 1000;
            demo.start();
            for (int i = 0; i < 600 && !Files.exists(targets); i++) Thread.sleep(100);
            assertTrue(Files.exists(targets), "the demo wrote its scrape targets");
            demo.join(Duration.ofMinutes(12).toMillis());
            assertTrue(!demo.isAlive(), "the demo finished:\n" + demoOut);
            long ended = System.currentTimeMillis() / 1000;
            // The demo empties its targets when it ends: up is read over the run, not now.
            JsonNode targetsUp = get(
                    api + "query?query=" + encode("max_over_time(up[" + (ended - started) + "s])") + "&time=" + ended);
            assertTrue(targetsUp.get("result").size() >= 5, "Prometheus scraped the demo's services: " + targetsUp);

            Map<String, JsonNode> panels = new LinkedHashMap<>();
            Map<String, String> panelQueries = new LinkedHashMap<>();
            List<String> empty = new ArrayList<>();
            for (JsonNode panel : JSON.readTree(DeployMonitoringTest.DEPLOY
                            .resolve("grafana/ipt.json")
                            .toFile())
                    .get("panels")) {
                if (!panel.has("targets")) continue;
                List<JsonNode> series = new ArrayList<>();
                for (JsonNode target : panel.get("targets")) {
                    String query = filled(target.get("expr").asText());
                    JsonNode result = get(api + "query_range?query=" + encode(query) + "&start=" + started + "&end="
                                    + ended + "&step=2")
                            .get("result");
                    boolean data = false;
                    for (JsonNode s : result) {
                        for (JsonNode v : s.get("values"))
                            data |= !v.get(1).asText().equals("NaN");
                        series.add(s);
                    }
                    if (!data) empty.add(panel.get("title").asText() + ": " + query);
                }
                panels.put(panel.get("title").asText(), JSON.valueToTree(series));
                panelQueries.put(
                        panel.get("title").asText(),
                        panel.get("targets").get(0).get("expr").asText());
            }
            assertEquals(List.of(), empty, "panel queries without data over the demo's run");
            long range = ended - started + 60;
            assertEquals(
                    List.of(),
                    ratePanelsOffTheirCounters(api, panelQueries, started, lastScrape(api, started, ended)),
                    "rate panels vs counters");
            assertChampionVersionsAsTheDemoPrinted(panels, demoOut.toString());
            assertFreshnessAsTheDemoPrinted(api, lastScrape(api, started, ended), demoOut.toString());
            List<String> unknown = new ArrayList<>();
            for (String selector : ruleSelectors()) unknown.addAll(unscraped(api, selector, ended, range));
            assertEquals(List.of(), unknown, "alert rules select series or label values the services never exported");
            // What fired during the run, for the person reading the test's output against what the demo printed.
            for (JsonNode alert : get(api + "query?query="
                            + encode("max_over_time(ALERTS{alertstate=\"firing\"}[" + range + "s])") + "&time=" + ended)
                    .get("result")) System.out.println("alert fired during the run: " + alert.get("metric"));

            JsonNode rules = get(api + "rules").get("groups");
            int alerts = 0;
            for (JsonNode group : rules) {
                for (JsonNode rule : group.get("rules")) {
                    assertEquals(
                            "ok",
                            rule.get("health").asText(),
                            rule.get("name").asText() + ": "
                                    + rule.path("lastError").asText());
                    get(api + "query?query=" + encode(rule.get("query").asText()));
                    alerts++;
                }
            }
            long declared = Files.readAllLines(DeployMonitoringTest.DEPLOY.resolve("prometheus/alerts.yml")).stream()
                    .filter(line -> line.strip().startsWith("- alert:"))
                    .count();
            assertEquals(declared, alerts, "every rule of alerts.yml loaded and evaluated");
            draw(panels, started, ended, Path.of("target", "dashboard.png"));
        } finally {
            prometheus.destroy();
            prometheus.waitFor(30, TimeUnit.SECONDS);
        }
    }

    /**
     * Each panel that draws a counter's rate or its increase over a window, summed over consecutive windows that end
     * when the demo did (rates times the window), against the counter's total at the end: a panel that stays at zero
     * while its counter grows is off by 100%.
     */
    private static List<String> ratePanelsOffTheirCounters(
            String api, Map<String, String> queries, long started, long ended) throws Exception {
        java.util.regex.Pattern counter = java.util.regex.Pattern.compile("(ipt_[a-z_]+_total)");
        List<String> off = new ArrayList<>();
        int checked = 0;
        for (Map.Entry<String, String> panel : queries.entrySet()) {
            String query = panel.getValue();
            java.util.regex.Matcher m = counter.matcher(query);
            int window; // seconds: the fixed minute of the born-aware panels, or $__rate_interval as filled here
            boolean perSecond;
            if (!m.find()) continue;
            else if (query.contains("offset 1m")) {
                window = 60;
                perSecond = query.endsWith("/ 60");
            } else if (query.contains("rate(") || query.contains("increase(")) {
                window = 15;
                perSecond = query.contains("rate(");
            } else continue;
            long windows = (ended - started + window - 1) / window;
            double sum = 0;
            for (JsonNode series : get(api + "query_range?query=" + encode(filled(query)) + "&start="
                            + (ended - windows * window) + "&end=" + ended + "&step=" + window)
                    .get("result"))
                for (JsonNode v : series.get("values")) {
                    double y = v.get(1).asDouble();
                    if (Double.isFinite(y)) sum += perSecond ? y * window : y;
                }
            JsonNode total = get(api + "query?query="
                            + encode("sum(max_over_time(" + m.group(1) + "[" + (ended - started + 60) + "s]))")
                            + "&time=" + ended)
                    .get("result");
            double truth =
                    total.isEmpty() ? 0 : total.get(0).get("value").get(1).asDouble();
            checked++;
            System.out.printf("panel %s: %.1f over the run, counter %s %.1f%n", panel.getKey(), sum, m.group(1), truth);
            if (Math.abs(sum - truth) > 0.1 * Math.max(truth, 1))
                off.add("%s: %.1f over the run, %s ended at %.1f".formatted(panel.getKey(), sum, m.group(1), truth));
        }
        assertTrue(checked >= 6, "rate panels checked: " + checked);
        return off;
    }

    /** The time of the last scrape that found the services up: they and their series are gone after it. */
    private static long lastScrape(String api, long started, long ended) throws Exception {
        long last = started;
        for (JsonNode series : get(api + "query_range?query=" + encode("max(up)") + "&start=" + started + "&end="
                        + ended + "&step=1")
                .get("result"))
            for (JsonNode v : series.get("values"))
                if (v.get(1).asDouble() == 1) last = v.get(0).asLong();
        return last;
    }

    /** A panel's PromQL with Grafana's variables as this test fills them: every lineage, 15 s rate windows. */
    private static String filled(String query) {
        return query.replace("$__rate_interval", "15s").replace("$lineage", ".*");
    }

    /** The champion-version panel's last value per lineage is the version the demo's last phase line says it serves. */
    private static void assertChampionVersionsAsTheDemoPrinted(Map<String, JsonNode> panels, String demoOut) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("(\\S+) \\d+/\\d+ promoted, serving v(\\d+)")
                .matcher(demoOut.substring(demoOut.lastIndexOf("phase ")));
        int lineages = 0;
        while (m.find()) {
            String lineage = m.group(1);
            JsonNode last = null;
            for (JsonNode series : panels.get("Champion version"))
                if (series.get("metric").path("lineage").asText().equals(lineage)) last = series.get("values");
            assertTrue(last != null && last.size() > 0, "a champion-version series for " + lineage);
            assertEquals(
                    Long.parseLong(m.group(2)), last.get(last.size() - 1).get(1).asLong(), lineage);
            lineages++;
        }
        assertEquals(2, lineages, "both lineages' last phase lines:\n" + demoOut);
    }

    /**
     * The freshness panel's p50 and p95 per lineage at the last scrape (the whole run is inside its hour) lie in the
     * histogram bucket that holds the exact percentile the demo printed from the log: the panel reads what the
     * evaluator observed, each document once.
     */
    private static void assertFreshnessAsTheDemoPrinted(String api, long at, String demoOut) throws Exception {
        double[] bounds = {
            0,
            1,
            5,
            15,
            30,
            60,
            120,
            300,
            600,
            1200,
            1800,
            3600,
            7200,
            14400,
            28800,
            43200,
            86400,
            172800,
            345600,
            604800,
            Double.POSITIVE_INFINITY
        };
        java.util.regex.Matcher m = java.util.regex.Pattern.compile(
                        "(?m)^(\\S+)\\s+\\d+\\s+(\\d+)s\\s+(\\d+)s\\s+\\d+$")
                .matcher(demoOut.substring(demoOut.indexOf("\nfreshness = ")));
        Map<String, double[]> printed = new LinkedHashMap<>();
        while (m.find())
            printed.put(m.group(1), new double[] {Double.parseDouble(m.group(2)), Double.parseDouble(m.group(3))});
        assertEquals(2, printed.size(), "both lineages' freshness lines:\n" + demoOut);
        JsonNode panel = null;
        for (JsonNode p : JSON.readTree(
                        DeployMonitoringTest.DEPLOY.resolve("grafana/ipt.json").toFile())
                .get("panels")) if (p.get("title").asText().startsWith("Freshness of what is served")) panel = p;
        assertTrue(panel != null, "the freshness panel");
        for (int q = 0; q < 2; q++) {
            String query = filled(panel.get("targets").get(q).get("expr").asText());
            Map<String, Double> drawn = new LinkedHashMap<>();
            for (JsonNode series :
                    get(api + "query?query=" + encode(query) + "&time=" + at).get("result"))
                drawn.put(
                        series.get("metric").get("lineage").asText(),
                        series.get("value").get(1).asDouble());
            for (Map.Entry<String, double[]> e : printed.entrySet()) {
                double exact = e.getValue()[q]; // printed to the second
                int hi = 0;
                while (bounds[hi] < exact + 0.5) hi++;
                int lo = hi;
                while (lo > 0 && bounds[lo - 1] >= exact - 0.5) lo--;
                Double value = drawn.get(e.getKey());
                assertTrue(
                        value != null && bounds[Math.max(lo - 1, 0)] <= value && value <= bounds[hi],
                        "%s p%s: the panel drew %s, the demo printed %.0f s"
                                .formatted(e.getKey(), q == 0 ? "50" : "95", value, exact));
            }
        }
    }

    /** Every metric selector in deploy/prometheus/alerts.yml, as written. */
    private static List<String> ruleSelectors() throws Exception {
        String rules = Files.readString(DeployMonitoringTest.DEPLOY.resolve("prometheus/alerts.yml"));
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("(?<![a-z_])(ipt_[a-z_]+|up)(\\{[^}]*})?")
                .matcher(rules.replaceAll("(?m)^\\s*(#|summary:).*$", ""));
        java.util.Set<String> selectors = new java.util.TreeSet<>();
        while (m.find()) selectors.add(m.group());
        assertTrue(selectors.size() >= 8, "selectors: " + selectors);
        return new ArrayList<>(selectors);
    }

    /**
     * What of a selector the demo's services never exported: the metric, a label name, or a value an {@code =}
     * matcher asks for. Regex matchers are checked for their label name only (a 5xx need not have happened).
     */
    private static List<String> unscraped(String api, String selector, long ended, long range) throws Exception {
        String metric = selector.replaceFirst("\\{.*", "");
        List<String> missing = new ArrayList<>();
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("(\\w+)\\s*(=~|!=|!~|=)\\s*\"([^\"]*)\"")
                .matcher(selector);
        boolean any = false;
        while (m.find()) {
            any = true;
            JsonNode values = get(api + "query?query="
                            + encode("count by (" + m.group(1) + ") (last_over_time(" + metric + "[" + range + "s]))")
                            + "&time=" + ended)
                    .get("result");
            java.util.Set<String> seen = new java.util.TreeSet<>();
            for (JsonNode v : values)
                if (v.get("metric").has(m.group(1)))
                    seen.add(v.get("metric").get(m.group(1)).asText());
            if (seen.isEmpty()) missing.add(selector + ": no series of " + metric + " with label " + m.group(1));
            else if (m.group(2).equals("=") && !seen.contains(m.group(3)))
                missing.add(selector + ": " + m.group(1) + " was " + seen + ", never \"" + m.group(3) + "\"");
        }
        if (!any) {
            JsonNode count = get(api + "query?query=" + encode("count(last_over_time(" + metric + "[" + range + "s]))")
                            + "&time=" + ended)
                    .get("result");
            if (count.isEmpty()) missing.add(selector + ": never exported");
        }
        return missing;
    }

    private static String encode(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8);
    }

    /** Waits until Prometheus answers ready: its TSDB open and its scrape loop running. */
    private static void awaitReady(String url, Process prometheus) throws Exception {
        for (int attempt = 0; attempt < 300; attempt++) {
            if (!prometheus.isAlive()) throw new AssertionError("prometheus exited with " + prometheus.exitValue());
            try {
                if (HTTP.send(HttpRequest.newBuilder(URI.create(url)).build(), HttpResponse.BodyHandlers.discarding())
                                .statusCode()
                        == 200) return;
            } catch (java.net.ConnectException e) {
                // not listening yet
            }
            Thread.sleep(200);
        }
        throw new AssertionError("prometheus not ready after 60 s: " + url);
    }

    private static JsonNode get(String url) throws Exception {
        for (int attempt = 0; ; attempt++) {
            try {
                HttpResponse<String> r = HTTP.send(
                        HttpRequest.newBuilder(URI.create(url)).build(), HttpResponse.BodyHandlers.ofString());
                JsonNode body = JSON.readTree(r.body());
                assertEquals("success", body.path("status").asText(), url + ": " + r.body());
                return body.get("data");
            } catch (java.net.ConnectException e) {
                if (attempt > 100) throw e;
                Thread.sleep(200); // Prometheus still starting
            }
        }
    }

    /** Every panel as a small line chart in a grid, its series over the demo's run. */
    private static void draw(Map<String, JsonNode> panels, long start, long end, Path png) throws Exception {
        int columns = 3;
        int w = 520;
        int h = 260;
        int rows = (panels.size() + columns - 1) / columns;
        BufferedImage image = new BufferedImage(columns * w, rows * h, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = image.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, image.getWidth(), image.getHeight());
        Color[] palette = {
            new Color(31, 119, 180),
            new Color(255, 127, 14),
            new Color(44, 160, 44),
            new Color(214, 39, 40),
            new Color(148, 103, 189),
            new Color(140, 86, 75),
            new Color(227, 119, 194),
            new Color(127, 127, 127)
        };
        int i = 0;
        for (Map.Entry<String, JsonNode> panel : panels.entrySet()) {
            int x0 = (i % columns) * w + 40;
            int y0 = (i / columns) * h + 28;
            int pw = w - 60;
            int ph = h - 60;
            g.setColor(Color.BLACK);
            g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 12));
            g.drawString(panel.getKey(), x0 - 30, y0 - 10);
            double min = Double.POSITIVE_INFINITY;
            double max = Double.NEGATIVE_INFINITY;
            for (JsonNode s : panel.getValue()) {
                for (JsonNode v : s.get("values")) {
                    double y = v.get(1).asDouble();
                    if (Double.isFinite(y)) {
                        min = Math.min(min, y);
                        max = Math.max(max, y);
                    }
                }
            }
            if (min == max) max = min + 1;
            g.setColor(Color.LIGHT_GRAY);
            g.drawRect(x0, y0, pw, ph);
            g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 10));
            g.drawString(String.format("%.3g", max), x0 - 38, y0 + 10);
            g.drawString(String.format("%.3g", min), x0 - 38, y0 + ph);
            int c = 0;
            for (JsonNode s : panel.getValue()) {
                g.setColor(palette[c++ % palette.length]);
                g.setStroke(new BasicStroke(1.2f));
                int px = -1;
                int py = -1;
                for (JsonNode v : s.get("values")) {
                    double y = v.get(1).asDouble();
                    if (!Double.isFinite(y)) {
                        px = -1;
                        continue;
                    }
                    int x = x0 + (int) ((v.get(0).asDouble() - start) / Math.max(1, end - start) * pw);
                    int yy = y0 + ph - (int) ((y - min) / (max - min) * ph);
                    if (px >= 0) g.drawLine(px, py, x, yy);
                    px = x;
                    py = yy;
                }
            }
            i++;
        }
        g.dispose();
        Files.createDirectories(png.getParent());
        ImageIO.write(image, "png", png.toFile());
    }
}
