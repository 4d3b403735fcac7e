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
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * deploy/: the alert rules pass their promtool unit tests, and every query of the Grafana dashboard is valid
 * PromQL (checked by promtool as recording rules, with Grafana's variables filled in). Needs promtool (Debian's
 * prometheus package, which .ci/run installs); skipped without it.
 */
class DeployMonitoringTest {
    static final Path DEPLOY = Path.of("..", "deploy").toAbsolutePath().normalize();

    @TempDir
    Path dir;

    @Test
    void alertRulesPassTheirUnitTests() throws Exception {
        assertEquals(
                0,
                promtool(
                        "check",
                        "rules",
                        DEPLOY.resolve("prometheus/alerts.yml").toString()));
        assertEquals(
                0,
                promtool(
                        "test",
                        "rules",
                        DEPLOY.resolve("prometheus/alerts_test.yml").toString()));
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
