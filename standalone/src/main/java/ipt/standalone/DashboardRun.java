package ipt.standalone;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import ipt.model.GptConfig;
import ipt.testsupport.EmbeddedKafka;
import ipt.trainer.TrainerConfig;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

/**
 * `ipt demo` watched as a user would: a real Prometheus (Debian's) scrapes the demo's services through the targets
 * file the demo writes, with deploy/prometheus/alerts.yml loaded, while this reads each service's /metrics itself.
 * After the demo, every panel of deploy/grafana/ipt.json is compared with the truth ({@link PanelTruth}), the alerts
 * that fired are listed with when, and the panels are drawn. DashboardIT asserts on a short run; {@link #main} writes
 * the truth table of a larger one (bench/run DashboardTruth).
 */
public final class DashboardRun implements AutoCloseable {
    /** An alert that was firing at some point of the run, from when to when (epoch seconds). */
    record FiredAlert(String name, Map<String, String> labels, long from, long to) {}

    /** A line the demo printed and when. */
    record TimedLine(long at, String line) {}

    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path deploy;
    private final int scrapeSeconds;
    private final Path dir;
    private final Process prometheus;
    private final PrometheusApi api;
    private final List<TimedLine> lines = new ArrayList<>();
    private final StringBuilder printed = new StringBuilder();
    private Map<String, ServiceScrapes.Exposition> expositions = Map.of();
    private long started;
    private long ended;
    private long lastScrape;
    private long settled = -1;
    private Map<String, ServiceScrapes.Exposition> settledExpositions = Map.of();
    private static final java.util.regex.Pattern LAST_PHASE_DONE =
            java.util.regex.Pattern.compile("(?m)^phase (\\d+)/\\1 \\(\\S+\\) done");

    /** Starts Prometheus on a free loopback port, scraping {@code work}'s targets file every {@code scrapeSeconds}. */
    DashboardRun(Path deploy, Path dir, int scrapeSeconds) throws Exception {
        this.deploy = deploy;
        this.dir = dir;
        this.scrapeSeconds = scrapeSeconds;
        Files.createDirectories(dir);
        int port = EmbeddedKafka.freePort();
        Path config = dir.resolve("prometheus.yml");
        Files.writeString(config, """
                global: {scrape_interval: %1$ds, evaluation_interval: %1$ds}
                rule_files: [%2$s]
                scrape_configs:
                  - job_name: ipt
                    file_sd_configs: [{files: [%3$s], refresh_interval: 1s}]
                """.formatted(scrapeSeconds, deploy.resolve("prometheus/alerts.yml"), targets()));
        prometheus = new ProcessBuilder(
                        "/usr/bin/prometheus",
                        "--config.file=" + config,
                        "--storage.tsdb.path=" + dir.resolve("tsdb"),
                        "--web.listen-address=127.0.0.1:" + port)
                .redirectErrorStream(true)
                .redirectOutput(dir.resolve("prometheus.log").toFile())
                .start();
        api = new PrometheusApi("http://127.0.0.1:" + port);
        awaitReady("http://127.0.0.1:" + port + "/-/ready");
    }

    private Path targets() {
        return dir.resolve("demo").resolve(ScrapeTargets.TARGETS);
    }

    /** Runs the demo in {@code dir}/demo to its end while Prometheus and this scrape it; true when it finished. */
    boolean demo(Demo.Options options, Duration timeout, boolean echo) throws Exception {
        Demo.Options here = new Demo.Options(
                dir.resolve("demo"),
                options.englishKb(),
                options.javaKb(),
                options.germanKb(),
                options.frenchKb(),
                options.stepsPerRound(),
                options.batchSize(),
                options.replayFraction(),
                options.model());
        PrintStream out = new PrintStream(new TimedOutput(echo), true, StandardCharsets.UTF_8);
        Exception[] failure = new Exception[1];
        Thread demo = new Thread(
                () -> {
                    try {
                        new Demo(here, out).run();
                    } catch (Exception e) {
                        failure[0] = e;
                    }
                },
                "demo");
        started = now();
        long deadline = System.nanoTime() + timeout.toNanos();
        try (ServiceScrapes scrapes = new ServiceScrapes(targets())) {
            demo.start();
            while (demo.isAlive() && System.nanoTime() < deadline) {
                demo.join(500);
                // Gauges are read once the last phase settled, before the services stop: closing a store lowers some
                // (dedup entries), and Prometheus and this may read either side of that.
                if (settled < 0 && LAST_PHASE_DONE.matcher(printed()).find()) {
                    Thread.sleep(2000L * scrapeSeconds + 1000);
                    settledExpositions = scrapes.last();
                    settled = now();
                }
            }
            expositions = scrapes.last();
        }
        ended = now();
        if (settled < 0) {
            settled = ended;
            settledExpositions = expositions;
        }
        if (failure[0] != null) throw failure[0];
        Thread.sleep(2000L * scrapeSeconds); // the rules' last evaluation of the run
        lastScrape = lastScrape();
        return !demo.isAlive();
    }

    PrometheusApi api() {
        return api;
    }

    long started() {
        return started;
    }

    long ended() {
        return ended;
    }

    /** The time of the run's last scrape that found the services up. */
    long lastScraped() {
        return lastScrape;
    }

    String printed() {
        synchronized (printed) {
            return printed.toString();
        }
    }

    /** Each service's last /metrics, by instance. */
    Map<String, ServiceScrapes.Exposition> expositions() {
        return expositions;
    }

    /** Grafana's $__rate_interval for this scrape interval: 4 intervals, at least 15 s. */
    int rateWindow() {
        return Math.max(15, 4 * scrapeSeconds);
    }

    JsonNode dashboard() throws IOException {
        return JSON.readTree(deploy.resolve("grafana/ipt.json").toFile());
    }

    List<PanelTruth.Row> truth() throws Exception {
        return truth(dashboard());
    }

    /** Every query of {@code dashboard} (deploy's, or a test's altered copy) against the truth of this run. */
    List<PanelTruth.Row> truth(JsonNode dashboard) throws Exception {
        List<MetricSample> exported = new ArrayList<>();
        expositions.values().forEach(e -> exported.addAll(e.samples()));
        List<MetricSample> atSettled = new ArrayList<>();
        settledExpositions.values().forEach(e -> atSettled.addAll(e.samples()));
        return new PanelTruth(
                        api,
                        rateWindow(),
                        started,
                        lastScrape,
                        exported,
                        settled,
                        atSettled,
                        DemoPrinted.truths(printed()))
                .check(dashboard);
    }

    /** Every panel's series over the run, by title, as Prometheus returns them. */
    Map<String, List<JsonNode>> panelSeries() throws Exception {
        Map<String, List<JsonNode>> panels = new LinkedHashMap<>();
        for (JsonNode panel : dashboard().get("panels")) {
            if (!panel.has("targets")) continue;
            List<JsonNode> series = new ArrayList<>();
            for (JsonNode target : panel.get("targets"))
                api.range(PanelTruth.filled(target.get("expr").asText(), rateWindow()), started, ended, scrapeSeconds)
                        .forEach(series::add);
            panels.put(panel.get("title").asText(), series);
        }
        return panels;
    }

    /** The alerts that were firing at some time of the run. */
    List<FiredAlert> fired() throws Exception {
        List<FiredAlert> out = new ArrayList<>();
        for (JsonNode s : api.range("ALERTS{alertstate=\"firing\"}", started, now(), scrapeSeconds)) {
            Map<String, String> labels = new TreeMap<>();
            s.get("metric")
                    .fields()
                    .forEachRemaining(e -> labels.put(e.getKey(), e.getValue().asText()));
            String name = labels.remove("alertname");
            labels.remove("alertstate");
            labels.remove("__name__");
            // One row per stretch of firing: an alert that resolved and fired again has a gap between them.
            long from = -1;
            long to = -1;
            for (JsonNode v : s.get("values")) {
                long t = v.get(0).asLong();
                if (from >= 0 && t - to > scrapeSeconds) {
                    out.add(new FiredAlert(name, labels, from, to));
                    from = -1;
                }
                if (from < 0) from = t;
                to = t;
            }
            if (from >= 0) out.add(new FiredAlert(name, labels, from, to));
        }
        out.sort(java.util.Comparator.comparingLong(FiredAlert::from));
        return out;
    }

    /** The truth table, the alerts and the demo's phases as Markdown. */
    String markdown(String command, List<PanelTruth.Row> rows, List<FiredAlert> alerts) {
        StringBuilder md = new StringBuilder();
        long agree = rows.stream().filter(PanelTruth.Row::agrees).count();
        md.append("# The dashboard against what happened\n\n")
                .append("`")
                .append(command)
                .append("`: `ipt demo` scraped every ")
                .append(scrapeSeconds)
                .append(" s by Debian's Prometheus with deploy/prometheus/alerts.yml loaded, started ")
                .append(Instant.ofEpochSecond(started))
                .append(", ")
                .append(ended - started)
                .append(" s. Rate panels: their sum over the run against the counter's total at the end (10%); gauge ")
                .append("panels: each series' last point once the last phase settled against what the demo ")
                .append("printed, else the service's own /metrics then. ")
                .append(agree)
                .append(" of ")
                .append(rows.size())
                .append(" agree.\n\n| panel | series | shown | truth | truth from | ratio | agrees |\n"
                        + "|---|---|---|---|---|---|---|\n");
        for (PanelTruth.Row r : rows)
            md.append("| %s | `%s` | %s | %s | %s | %s | %s |\n"
                    .formatted(
                            r.panel(),
                            r.series().replace("|", "\\|"),
                            r.shown(),
                            r.truth(),
                            r.source(),
                            r.ratio(),
                            r.agrees() ? "yes" : "**no**"));
        md.append("\n## Alerts that fired (seconds after the demo started)\n\n");
        if (alerts.isEmpty()) md.append("None.\n");
        else {
            md.append("| alert | labels | firing from | to |\n|---|---|---|---|\n");
            for (FiredAlert a : alerts)
                md.append("| %s | %s | +%d | +%d |\n"
                        .formatted(a.name(), a.labels(), a.from() - started, a.to() - started));
        }
        md.append("\n## What the demo did, when\n\n| + s | printed |\n|---|---|\n");
        synchronized (printed) {
            for (TimedLine l : lines)
                if (l.line().startsWith("phase ")
                        || l.line().startsWith("done in")
                        || l.line().contains(" PROMOTE")
                        || l.line().contains(" REJECT"))
                    md.append("| %d | `%s` |\n"
                            .formatted(l.at() - started, l.line().strip().replace("|", "\\|")));
        }
        return md.toString();
    }

    /** The time of the last scrape that found the services up: they and their series are gone after it. */
    private long lastScrape() throws Exception {
        long last = started;
        for (JsonNode series : api.range("max(up)", started, now(), 1))
            for (JsonNode v : series.get("values"))
                if (v.get(1).asDouble() == 1) last = v.get(0).asLong();
        return last;
    }

    private void awaitReady(String url) throws Exception {
        HttpClient http = HttpClient.newHttpClient();
        for (int attempt = 0; attempt < 300; attempt++) {
            if (!prometheus.isAlive()) throw new IOException("prometheus exited with " + prometheus.exitValue());
            try {
                if (http.send(HttpRequest.newBuilder(URI.create(url)).build(), HttpResponse.BodyHandlers.discarding())
                                .statusCode()
                        == 200) return;
            } catch (java.net.ConnectException e) {
                // not listening yet
            }
            Thread.sleep(200);
        }
        throw new IOException("prometheus not ready after 60 s: " + url);
    }

    private static long now() {
        return System.currentTimeMillis() / 1000;
    }

    @Override
    public void close() throws InterruptedException {
        prometheus.destroy();
        prometheus.waitFor(30, TimeUnit.SECONDS);
    }

    /** The demo's output, kept whole and line by line with the time each line ended. */
    private final class TimedOutput extends OutputStream {
        private final ByteArrayOutputStream line = new ByteArrayOutputStream();
        private final boolean echo;

        TimedOutput(boolean echo) {
            this.echo = echo;
        }

        @Override
        public void write(int b) {
            if (echo) System.out.write(b);
            if (b != '\n') {
                line.write(b);
                return;
            }
            String text = line.toString(StandardCharsets.UTF_8);
            line.reset();
            synchronized (printed) {
                printed.append(text).append('\n');
                lines.add(new TimedLine(now(), text));
            }
        }
    }

    /**
     * bench/run DashboardTruth [english-kb java-kb german-kb]: the larger demo (1300, 600, 600 KB, the
     * services' demo defaults otherwise) watched with a 5 s scrape; writes deploy/grafana/truth.md and
     * deploy/grafana/demo-dashboard.png. Run from the checkout's root.
     */
    public static void main(String[] args) throws Exception {
        int en = args.length > 0 ? Integer.parseInt(args[0]) : 1300;
        int java = args.length > 1 ? Integer.parseInt(args[1]) : 600;
        int de = args.length > 2 ? Integer.parseInt(args[2]) : 600;
        Path deploy = Path.of("deploy").toAbsolutePath();
        Path out = deploy.resolve("grafana");
        Path dir = Files.createTempDirectory("ipt-dashboard-truth");
        GptConfig model = TrainerConfig.fromEnv(Map.of()).model();
        try (DashboardRun run = new DashboardRun(deploy, dir, 5)) {
            if (!run.demo(new Demo.Options(dir, en, java, de, 0, 50, 16, 0.25, model), Duration.ofMinutes(60), true))
                throw new IllegalStateException("the demo did not finish in an hour");
            List<PanelTruth.Row> rows = run.truth();
            String command = String.format(Locale.ROOT, "bench/run DashboardTruth %d %d %d", en, java, de);
            Files.writeString(out.resolve("truth.md"), run.markdown(command, rows, run.fired()));
            PanelChart.draw(run.panelSeries(), run.started(), run.ended(), out.resolve("demo-dashboard.png"));
            System.out.printf(
                    "%d of %d panel series agree; %s%n",
                    rows.stream().filter(PanelTruth.Row::agrees).count(), rows.size(), out.resolve("truth.md"));
        }
    }
}
