package ipt.standalone;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * deploy/: the alert rules are valid, and every query of the Grafana dashboard is valid
 * PromQL (checked by promtool as recording rules, with Grafana's variables filled in). Needs promtool (Debian's
 * prometheus package, which .ci/run installs); skipped without it.
 */
class DeployMonitoringTest {
    static final Path DEPLOY = Path.of("..", "deploy").toAbsolutePath().normalize();

    @TempDir
    Path dir;

    /** Whether each rule fires in its situation is tested on the services' real series in DashboardIT. */
    @Test
    void alertRulesAreValid() throws Exception {
        assertEquals(
                0,
                promtool(
                        "check",
                        "rules",
                        DEPLOY.resolve("prometheus/alerts.yml").toString()));
    }

    @Test
    void everyDashboardQueryIsValidPromQl() throws Exception {
        List<String> queries = dashboardQueries();
        assertTrue(queries.size() >= 20, "queries: " + queries.size());
        StringBuilder rules = new StringBuilder("groups:\n  - name: dashboard\n    rules:\n");
        for (int i = 0; i < queries.size(); i++) {
            rules.append("      - record: dashboard:query")
                    .append(i)
                    .append("\n        expr: ")
                    .append(new ObjectMapper().writeValueAsString(queries.get(i)))
                    .append('\n');
        }
        Path file = dir.resolve("dashboard-rules.yml");
        Files.writeString(file, rules, StandardCharsets.UTF_8);
        assertEquals(0, promtool("check", "rules", file.toString()));
    }

    /**
     * The demo's Prometheus configuration lives in its work directory wherever --work-dir puts it, is valid (with the
     * alert rules), and its targets are emptied when the demo ends so that Prometheus does not alert on them.
     */
    @Test
    void theDemosPrometheusConfigFollowsItsWorkDirAndItsTargetsGoWhenItEnds() throws Exception {
        Path work = dir.resolve("elsewhere");
        Files.createDirectories(work);
        Path targets = work.resolve("prometheus-targets.json");
        try (ScrapeTargets scrape = ScrapeTargets.write(
                work, Map.of("curation", 4101, "trainer replay", 4102), DEPLOY.resolve("prometheus/alerts.yml"))) {
            assertEquals(work.resolve("prometheus.yml"), scrape.config());
            String config = Files.readString(scrape.config());
            assertTrue(config.contains(targets.toString()), config);
            assertTrue(config.contains(DEPLOY.resolve("prometheus/alerts.yml").toString()), config);
            assertEquals(0, promtool("check", "config", scrape.config().toString()));
            JsonNode groups = new ObjectMapper().readTree(targets.toFile());
            assertEquals("127.0.0.1:4102", groups.get(1).get("targets").get(0).asText());
            assertEquals("ipt-trainer", groups.get(1).get("labels").get("job").asText());
        }
        assertEquals(0, new ObjectMapper().readTree(targets.toFile()).size(), "no targets once the demo has ended");
    }

    /** Every panel's PromQL with Grafana's variables as a test fills them: all lineages, a 1-minute rate window. */
    static List<String> dashboardQueries() throws IOException {
        JsonNode dashboard =
                new ObjectMapper().readTree(DEPLOY.resolve("grafana/ipt.json").toFile());
        List<String> out = new ArrayList<>();
        for (JsonNode panel : dashboard.get("panels")) {
            for (JsonNode target : panel.path("targets")) {
                out.add(target.get("expr")
                        .asText()
                        .replace("$__rate_interval", "1m")
                        .replace("$lineage", ".*"));
            }
        }
        return out;
    }

    private static int promtool(String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of("promtool"));
        command.addAll(List.of(args));
        Process p;
        try {
            p = new ProcessBuilder(command).redirectErrorStream(true).start();
        } catch (IOException e) {
            assumeTrue(false, "promtool is not installed (apt-get install prometheus)");
            throw e;
        }
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        if (p.exitValue() != 0) System.out.println(output);
        return p.exitValue();
    }
}
