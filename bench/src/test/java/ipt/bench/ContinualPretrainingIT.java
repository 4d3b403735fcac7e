package ipt.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The experiment end to end at a 50-step phase budget (one round a phase): the uniform and steered arms and the
 * defaults, the plot, and the defaults through the services beside the offline run of the same seed.
 */
class ContinualPretrainingIT {
    @Test
    void theServiceTrainsAndScoresExactlyAsTheOfflineRunOfTheSameSeed(@TempDir Path out) throws Exception {
        ContinualPretraining.main(
                new String[] {"50", String.valueOf(ServiceArms.SEED), out.toString(), "uniform|steered|defaults"});

        JsonNode results =
                new ObjectMapper().readTree(out.resolve("results.json").toFile());
        assertTrue(results.get("results").size() >= 2, "the arms ran");
        assertTrue(Files.size(out.resolve("losses.png")) > 10_000);
        JsonNode service = results.get("service");
        assertTrue(
                service.get("heldOutIdentical").asBoolean(),
                "the evaluator froze the held-out text the offline run scores on");
        JsonNode offline = null;
        for (JsonNode r : results.get("results")) if (r.get("defaults").asBoolean()) offline = r;
        JsonNode curve = offline.get("curve");
        assertEquals(5, curve.size(), "one round in each of the five phases");
        JsonNode end = curve.get(curve.size() - 1).get("loss");
        // Same documents, same rounds, same seed, the same reports steering replay: the same weights, so the same
        // losses to the last bit.
        for (String d : List.of("en", "java", "de", "fr")) {
            assertEquals(
                    end.get(d).asDouble(),
                    service.get("finalLoss").get(d).asDouble(),
                    0.0,
                    d + " after the interleaved phase");
        }
        assertEquals(0, service.get("timedOutWaits").asInt(), "every round's reports were settled in time");
    }
}
