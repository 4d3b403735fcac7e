package ipt.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The experiment end to end at a 50-step phase budget: every arm, the plot, and the service run beside the offline one. */
class ContinualPretrainingIT {
  @Test
  void theServiceTrainsAndScoresExactlyAsTheOfflineRunOfTheSameSeed(@TempDir Path out) throws Exception {
    ContinualPretraining.main(new String[] {"50", String.valueOf(ServiceArms.SEED), out.toString()});

    JsonNode results = new ObjectMapper().readTree(out.resolve("results.json").toFile());
    assertEquals(ContinualPretraining.arms().size() + 2, results.get("results").size(), "every arm and both baselines");
    assertTrue(Files.size(out.resolve("losses.png")) > 10_000);
    JsonNode phase1 = results.get("phase1").get(String.valueOf(ServiceArms.SEED));
    JsonNode service = results.get("service");
    assertTrue(service.get("heldOutIdentical").asBoolean(), "the evaluator froze the held-out text the offline run scores on");
    for (JsonNode judged : service.get("lineages")) {
      String arm = "replay " + Math.round(judged.get("replay").asDouble() * 100) + "%";
      JsonNode offline = null;
      for (JsonNode r : results.get("results")) if (r.get("arm").asText().equals(arm)) offline = r;
      // Same documents, same rounds, same seed: the same weights, so the same losses to the last bit.
      assertEquals(phase1.get("a").asDouble(), judged.get("phase1A").asDouble(), 0.0, arm + " phase 1");
      assertEquals(offline.get("a").asDouble(), judged.get("a").asDouble(), 0.0, arm + " " + ContinualPretraining.A);
      assertEquals(offline.get("b").asDouble(), judged.get("b").asDouble(), 0.0, arm + " " + ContinualPretraining.B);
    }
    assertEquals("REJECT", service.get("lineages").get(0).get("decision").asText(), "no replay forgets past the default 2% budget");
  }
}
