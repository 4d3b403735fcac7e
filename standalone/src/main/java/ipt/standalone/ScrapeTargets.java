package ipt.standalone;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The demo's services as Prometheus targets: {@code prometheus-targets.json} (file_sd_configs) and a
 * {@code prometheus.yml} that scrapes it, both in the demo's work directory so they follow {@code --work-dir}.
 * Closing empties the targets, so a Prometheus left running drops the stopped services instead of alerting
 * that they are down.
 */
final class ScrapeTargets implements AutoCloseable {
    static final String TARGETS = "prometheus-targets.json";
    static final String CONFIG = "prometheus.yml";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path targets;

    private ScrapeTargets(Path targets) {
        this.targets = targets;
    }

    /**
     * Writes both files; the rules are loaded when {@code alerts} (deploy/prometheus/alerts.yml of a checkout)
     * exists.
     */
    static ScrapeTargets write(Path work, Map<String, Integer> ports, Path alerts) throws IOException {
        Path targets = work.resolve(TARGETS).toAbsolutePath();
        List<Map<String, Object>> groups = new ArrayList<>();
        ports.entrySet().stream()
                .sorted(Map.Entry.comparingByKey())
                .forEach(e -> groups.add(Map.of(
                        "targets",
                        List.of("127.0.0.1:" + e.getValue()),
                        "labels",
                        Map.of("job", "ipt-" + e.getKey().split(" ")[0]))));
        JSON.writerWithDefaultPrettyPrinter().writeValue(targets.toFile(), groups);
        String rules = Files.exists(alerts)
                ? "rule_files: ["
                        + JSON.writeValueAsString(alerts.toAbsolutePath().toString()) + "]\n"
                : "";
        Files.writeString(work.resolve(CONFIG), """
                # Prometheus for the ipt demo in %s:
                #   prometheus --config.file=%s --web.listen-address=127.0.0.1:9090
                global: {scrape_interval: 5s, evaluation_interval: 5s}
                %sscrape_configs:
                  - job_name: ipt
                    file_sd_configs:
                      - files: [%s]
                        refresh_interval: 5s
                """.formatted(
                        work.toAbsolutePath(),
                        work.resolve(CONFIG).toAbsolutePath(),
                        rules,
                        JSON.writeValueAsString(targets.toString())));
        return new ScrapeTargets(targets);
    }

    Path config() {
        return targets.resolveSibling(CONFIG);
    }

    @Override
    public void close() throws IOException {
        Files.writeString(targets, "[]\n");
    }
}
