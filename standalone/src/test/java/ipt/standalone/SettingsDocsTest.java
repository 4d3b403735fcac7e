package ipt.standalone;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import ipt.runtime.Setting;
import ipt.runtime.Settings;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The README's settings tables and the Helm chart's values agree with the declarations, so they cannot drift. */
class SettingsDocsTest {
    private static final Path ROOT = Path.of("..");

    /**
     * Chart values that become one service setting: where in values.schema.json / values.yaml, and which. The chart's
     * lineage pattern is left out on purpose: it is stricter than IPT_LINEAGE because it also names Kubernetes objects.
     * So is statusPort: IPT_STATUS_PORT=0 picks a free port, which a pod's probes could not find.
     */
    private record Mapped(String schemaPath, String valuesPath, String service, String variable) {}

    private static final List<Mapped> MAPPED = List.of(
            new Mapped(
                    "/properties/trainers/items/properties/replayFraction",
                    "/trainers/0/replayFraction",
                    "trainer",
                    "IPT_REPLAY_FRACTION"),
            new Mapped(
                    "/properties/evaluator/properties/regressionBudget",
                    "/evaluator/regressionBudget",
                    "evaluator",
                    "IPT_REGRESSION_BUDGET"),
            new Mapped(
                    "/properties/evaluator/properties/heldOutTokensPerDomain",
                    "/evaluator/heldOutTokensPerDomain",
                    "evaluator",
                    "IPT_HELDOUT_TOKENS_PER_DOMAIN"),
            new Mapped(
                    "/properties/evaluator/properties/retainLast",
                    "/evaluator/retainLast",
                    "evaluator",
                    "IPT_RETAIN_LAST"),
            new Mapped(
                    "/properties/evaluator/properties/retainChampions",
                    "/evaluator/retainChampions",
                    "evaluator",
                    "IPT_RETAIN_CHAMPIONS"),
            new Mapped(
                    "/properties/evaluator/properties/retainFetched",
                    "/evaluator/retainFetched",
                    "evaluator",
                    "IPT_RETAIN_FETCHED"),
            new Mapped("/properties/stopSeconds", "/stopSeconds", "trainer", "IPT_STOP_SECONDS"),
            new Mapped("/properties/stopSeconds", "/stopSeconds", "evaluator", "IPT_STOP_SECONDS"),
            new Mapped("/properties/trainer/properties/device", "/trainer/device", "trainer", "IPT_DEVICE"),
            new Mapped("/properties/evaluator/properties/device", "/evaluator/device", "evaluator", "IPT_DEVICE"),
            new Mapped("/properties/ingestApi/properties/port", "/ingestApi/port", "ingest-api", "IPT_INGEST_PORT"),
            new Mapped(
                    "/properties/curation/properties/dedupHorizon",
                    "/curation/dedupHorizon",
                    "curation",
                    "IPT_DEDUP_HORIZON"));

    @Test
    void everyReadmeTableIsTheDeclaration() throws IOException {
        String readme = Files.readString(ROOT.resolve("README.md"));
        for (Settings settings : Ipt.SERVICES) {
            String open = "<!-- settings:" + settings.service() + ":";
            String close = "<!-- /settings:" + settings.service() + " -->";
            int start = readme.indexOf(open);
            assertTrue(start >= 0, "README.md has no table of " + settings.service() + "'s settings (" + open + ")");
            int body = readme.indexOf('\n', start) + 1;
            assertEquals(
                    settings.markdown(),
                    readme.substring(body, readme.indexOf(close, body)),
                    "README.md's " + settings.service()
                            + " table differs from the declarations: paste `./ipt config --markdown "
                            + settings.service() + "` between its markers");
        }
    }

    @Test
    void theChartValidatesAndDefaultsAsTheDeclarationsDo() throws IOException {
        JsonNode schema = new ObjectMapper()
                .readTree(ROOT.resolve("helm/ipt/values.schema.json").toFile());
        JsonNode values = new ObjectMapper(new YAMLFactory())
                .readTree(ROOT.resolve("helm/ipt/values.yaml").toFile());
        for (Mapped m : MAPPED) {
            Setting<?> setting = declared(m.service(), m.variable());
            JsonNode property = schema.at(m.schemaPath());
            assertTrue(!property.isMissingNode(), m.schemaPath() + " is missing from values.schema.json");
            Map<?, ?> declared = new ObjectMapper().convertValue(setting.jsonSchema(), Map.class);
            Map<?, ?> inChart = new ObjectMapper()
                    .convertValue(
                            ((com.fasterxml.jackson.databind.node.ObjectNode) property.deepCopy())
                                    .without(List.of("description")),
                            Map.class);
            assertEquals(
                    declared,
                    inChart,
                    "values.schema.json " + m.schemaPath() + " must say what " + m.variable() + " allows");
            assertEquals(
                    setting.defaultText(),
                    values.at(m.valuesPath()).asText(),
                    "values.yaml " + m.valuesPath() + " must default as " + m.variable() + " does");
        }
    }

    private static Setting<?> declared(String service, String variable) {
        Settings settings = Ipt.SERVICES.stream()
                .filter(s -> s.service().equals(service))
                .findFirst()
                .orElseThrow();
        return settings.declared().stream()
                .filter(s -> s.name().equals(variable))
                .findFirst()
                .orElseThrow(() -> new AssertionError(service + " declares no " + variable));
    }
}
