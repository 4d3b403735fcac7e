package ipt.evaluator;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import ipt.checkpoints.Checkpoint;
import ipt.checkpoints.CheckpointStore;
import ipt.model.ByteTokenizer;
import ipt.model.GptConfig;
import ipt.model.TrainConfig;
import ipt.model.Training;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The evaluator's serving of champions through a real directory store, a failing one included. */
class ServingPublisherTest {
    private static final GptConfig MODEL = new GptConfig(ByteTokenizer.VOCAB_SIZE, 16, 16, 1, 2);

    @TempDir
    Path root;

    @Test
    void aFailedPublicationIsCountedAndRetriedAndNeverRepeatedOnceServed() throws Exception {
        CheckpointStore store = CheckpointStore.of(root.toString(), root.resolve("fetched"), Map.of());
        PrometheusRegistry registry = new PrometheusRegistry();
        ServingPublisher serving = new ServingPublisher(store, new EvaluatorMetrics(registry), Duration.ZERO);
        Checkpoint v1;
        try (Training model = Training.create(MODEL, TrainConfig.defaults())) {
            v1 = write(model, 1);
        }
        Files.writeString(root.resolve("_serving"), "in the way"); // the serving folder cannot be made

        serving.follow(v1);
        serving.publish();
        serving.publish();
        assertEquals(2, value(registry, "ipt_serving_publish_failures"));
        assertNull(store.served("main"));

        Files.delete(root.resolve("_serving"));
        serving.publish();
        assertEquals(new CheckpointStore.Served(1, v1.sha256()), store.served("main"));
        assertArrayEquals(
                v1.file("model.safetensors"), Files.readAllBytes(root.resolve("_serving/main/model.safetensors")));
        assertEquals(1, value(registry, "ipt_serving_version"));
        assertEquals(2, value(registry, "ipt_serving_publish_failures"));

        Path copy = root.resolve("_serving/main").toRealPath();
        serving.follow(v1); // as at a restart: the champion is served already, and not copied again
        serving.publish();
        assertEquals(copy, root.resolve("_serving/main").toRealPath());
    }

    private Checkpoint write(Training model, long version) throws Exception {
        Checkpoint.Manifest manifest = new Checkpoint.Manifest(
                Checkpoint.FORMAT_VERSION,
                "main",
                version,
                null,
                MODEL,
                model.model().architecture(),
                model.step(),
                0,
                Map.of(),
                2.0,
                0,
                Map.of());
        return Checkpoint.write(root.resolve("main"), String.format("v%06d", version), manifest, model, Map.of());
    }

    private static double value(PrometheusRegistry registry, String name) {
        for (MetricSnapshot s : registry.scrape()) {
            if (!s.getMetadata().getName().equals(name)) continue;
            if (s instanceof CounterSnapshot c)
                return c.getDataPoints().stream().mapToDouble(p -> p.getValue()).sum();
            return ((GaugeSnapshot) s).getDataPoints().get(0).getValue();
        }
        return 0;
    }
}
