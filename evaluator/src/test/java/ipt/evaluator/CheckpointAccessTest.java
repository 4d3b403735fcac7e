package ipt.evaluator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ipt.checkpoints.Checkpoint;
import ipt.checkpoints.CheckpointStore;
import ipt.model.ByteTokenizer;
import ipt.model.GptConfig;
import ipt.model.LanguageModel;
import ipt.model.TrainConfig;
import ipt.model.Training;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every way a published checkpoint can be unfit to load is refused, saying which file and why. */
class CheckpointAccessTest {
    private static final GptConfig TINY = new GptConfig(ByteTokenizer.VOCAB_SIZE, 16, 16, 1, 2);

    @TempDir
    Path dir;

    private static Checkpoint write(Path root, String name, float lr) throws Exception {
        try (Training model = Training.create(TINY, TrainConfig.defaults())) {
            int[][] batch = new int[2][17];
            model.trainStep(batch, lr);
            Checkpoint.Manifest manifest = new Checkpoint.Manifest(
                    Checkpoint.FORMAT_VERSION,
                    "main",
                    1,
                    null,
                    TINY,
                    model.model().architecture(),
                    model.step(),
                    34,
                    Map.of("ipt.documents.curated-0", 1L),
                    5.0,
                    0L,
                    Map.of());
            return Checkpoint.write(root, name, manifest, model, Map.of());
        }
    }

    private static CheckpointAccess open(Path root, Path location, String sha256) {
        return CheckpointAccess.open(
                CheckpointStore.of(root.toString(), root.resolveSibling("cache"), Map.of()),
                location.toString(),
                sha256);
    }

    private String refusal(Path root, Checkpoint c) {
        return open(root, c.dir(), c.sha256()).refusal();
    }

    @Test
    void anIntactCheckpointInTheStoreOpens() throws Exception {
        Path root = dir.resolve("checkpoints");
        Checkpoint c = write(root, "v000001", 1e-3f);
        CheckpointAccess access = open(root, c.dir(), c.sha256());
        assertNull(access.refusal());
        assertNotNull(access.checkpoint());
    }

    @Test
    void tamperedTruncatedMissingOrSwappedFilesAreRefused() throws Exception {
        Path root = dir.resolve("checkpoints");
        Checkpoint tampered = write(root, "tampered", 1e-3f);
        byte[] params = Files.readAllBytes(tampered.dir().resolve("model.safetensors"));
        params[params.length / 2] ^= 1;
        Files.write(tampered.dir().resolve("model.safetensors"), params);
        assertTrue(refusal(root, tampered).startsWith("model.safetensors: sha256 "), refusal(root, tampered));

        Checkpoint truncated = write(root, "truncated", 1e-3f);
        byte[] optimizer = Files.readAllBytes(truncated.dir().resolve("optimizer.bin"));
        Files.write(truncated.dir().resolve("optimizer.bin"), java.util.Arrays.copyOf(optimizer, optimizer.length / 2));
        assertTrue(refusal(root, truncated).startsWith("optimizer.bin: sha256 "), refusal(root, truncated));

        Checkpoint missing = write(root, "missing", 1e-3f);
        Files.delete(missing.dir().resolve("model.safetensors"));
        assertTrue(refusal(root, missing).startsWith("model.safetensors: missing"), refusal(root, missing));

        Checkpoint other = write(root, "other", 2e-3f);
        String swapped = open(root, other.dir(), tampered.sha256()).refusal();
        assertTrue(swapped.contains("differs from the published"), swapped);

        assertTrue(open(root, root.resolve("never-written"), "00").refusal().contains("manifest.json"));
    }

    @Test
    void aLocationOutsideTheStoreIsRefusedAlsoThroughALink() throws Exception {
        Path root = dir.resolve("checkpoints");
        Files.createDirectories(root);
        Checkpoint outside = write(dir.resolve("elsewhere"), "v000001", 1e-3f);
        assertTrue(refusal(root, outside).contains("is outside the checkpoint store"), refusal(root, outside));
        Path sneaky = root.resolve("../checkpoints/../elsewhere/v000001");
        assertTrue(open(root, sneaky, outside.sha256()).refusal().contains("outside the checkpoint store"));
        Path link = Files.createSymbolicLink(root.resolve("link"), outside.dir());
        String linked = open(root, link, outside.sha256()).refusal();
        assertTrue(linked.contains("is outside the checkpoint store"), linked);
    }

    @Test
    void nonFiniteWeightsAreFoundAfterLoading() throws Exception {
        Path root = dir.resolve("checkpoints");
        Checkpoint nan = write(root, "nan", Float.NaN); // intact files whose weights are NaN
        CheckpointAccess access = open(root, nan.dir(), nan.sha256());
        assertNull(access.refusal());
        try (LanguageModel model = access.checkpoint().model()) {
            assertTrue(model.nonFiniteParameter().isPresent());
        }
        try (LanguageModel model = write(root, "fine", 1e-3f).model()) {
            assertEquals(java.util.Optional.empty(), model.nonFiniteParameter());
        }
    }
}
