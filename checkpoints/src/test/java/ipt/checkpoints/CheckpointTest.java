package ipt.checkpoints;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ipt.model.LanguageModel;
import ipt.model.TrainConfig;
import ipt.model.Training;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointTest {

    private static Training model;

    @TempDir
    Path root;

    @BeforeAll
    static void trainABit() {
        model = Training.create(TinyModels.TINY, TrainConfig.defaults());
        for (int s = 0; s < 3; s++) {
            model.trainStep(TinyModels.batch(s), 1e-3f);
        }
    }

    @AfterAll
    static void close() {
        model.close();
    }

    private Checkpoint write(String name) throws IOException {
        return Checkpoint.write(
                root,
                name,
                TinyModels.manifest(model, 7),
                model,
                Map.of("replay.bin", "replay state".getBytes(StandardCharsets.UTF_8)));
    }

    @Test
    void writtenCheckpointOpensWithItsManifestAndFiles() throws Exception {
        Checkpoint written = write("v7");
        Checkpoint opened = Checkpoint.open(root.resolve("v7"));
        assertEquals(written.sha256(), opened.sha256());
        assertEquals(written.manifest(), opened.manifest());
        assertEquals(Checkpoint.sha256(Files.readAllBytes(root.resolve("v7/manifest.json"))), opened.sha256());
        assertEquals(3, opened.manifest().step());
        assertEquals(Map.of("ipt.documents.curated-0", 42L), opened.manifest().offsets());
        assertEquals(
                java.util.Set.of("params.bin", "optimizer.bin", "replay.bin"),
                opened.manifest().files().keySet());
        assertArrayEquals("replay state".getBytes(StandardCharsets.UTF_8), opened.file("replay.bin"));
        try (Stream<Path> entries = Files.list(root)) {
            assertEquals(java.util.List.of(root.resolve("v7")), entries.toList(), "no temporary directory left behind");
        }
    }

    @Test
    void flippedByteInParamsIsRefused() throws Exception {
        write("v7");
        Path params = root.resolve("v7/params.bin");
        byte[] bytes = Files.readAllBytes(params);
        bytes[bytes.length / 2] ^= 1;
        Files.write(params, bytes);
        assertEquals("params.bin", refusal("v7").file());
    }

    @Test
    void missingListedFileIsRefused() throws Exception {
        write("v7");
        Files.delete(root.resolve("v7/optimizer.bin"));
        CheckpointException e = refusal("v7");
        assertEquals("optimizer.bin", e.file());
        assertEquals("optimizer.bin: missing", e.getMessage());
    }

    @Test
    void editedManifestIsRefused() throws Exception {
        write("v7");
        Path manifest = root.resolve("v7/manifest.json");
        String json = Files.readString(manifest);
        Files.writeString(manifest, json.replace("\"trainLoss\" : 3.5", "\"trainLoss\" : 2.5"));
        assertEquals("manifest.json", refusal("v7").file());
    }

    @Test
    void truncatedManifestIsRefused() throws Exception {
        write("v7");
        Files.writeString(root.resolve("v7/manifest.json"), "{");
        assertEquals("manifest.json", refusal("v7").file());
        Files.delete(root.resolve("v7/manifest.json"));
        assertEquals("manifest.json", refusal("v7").file());
    }

    @Test
    void existingDirectoryIsNotOverwritten() throws Exception {
        write("v7");
        byte[] manifestBefore = Files.readAllBytes(root.resolve("v7/manifest.json"));
        assertThrows(FileAlreadyExistsException.class, () -> write("v7"));
        assertArrayEquals(manifestBefore, Files.readAllBytes(root.resolve("v7/manifest.json")));
        try (Stream<Path> entries = Files.list(root)) {
            assertEquals(1, entries.count(), "no temporary directory left behind");
        }
    }

    @Test
    void manifestMustDescribeTheModel() {
        Checkpoint.Manifest wrongStep = new Checkpoint.Manifest(
                1, "test", 1, null, model.model().config(), LanguageModel.IPT_GPT, 99, 0, Map.of(), 0, 0, Map.of());
        assertThrows(IllegalArgumentException.class, () -> Checkpoint.write(root, "v1", wrongStep, model, Map.of()));
        assertThrows(
                IllegalArgumentException.class,
                () -> Checkpoint.write(
                        root, "v1", TinyModels.manifest(model, 1), model, Map.of("params.bin", new byte[1])));
        assertThrows(
                IllegalArgumentException.class,
                () -> Checkpoint.write(root, "../v1", TinyModels.manifest(model, 1), model, Map.of()));
    }

    @Test
    void trainingResumesFromACheckpointBitForBit() throws Exception {
        Checkpoint checkpoint = write("v7");
        try (Training a = checkpoint.training(TrainConfig.defaults());
                Training b = checkpoint.training(TrainConfig.defaults())) {
            assertEquals(model.step(), a.step());
            assertArrayEquals(model.model().parameterBytes(), a.model().parameterBytes());
            assertArrayEquals(model.optimizerBytes(), a.optimizerBytes());
            for (int s = 3; s < 6; s++)
                assertEquals(a.trainStep(TinyModels.batch(s), 1e-3f), b.trainStep(TinyModels.batch(s), 1e-3f));
            assertArrayEquals(a.model().parameterBytes(), b.model().parameterBytes());
        }
    }

    /** Scoring needs the weights only: a checkpoint whose optimizer state is gone still scores, and only scores. */
    @Test
    void theModelIsReadWithoutTheOptimizerState() throws Exception {
        Checkpoint checkpoint = write("v7");
        Files.delete(checkpoint.dir().resolve(Checkpoint.OPTIMIZER_FILE));
        try (LanguageModel scored = checkpoint.model()) {
            int[][] batch = TinyModels.batch(0);
            assertEquals(model.model().loss(java.util.List.of(batch)), scored.loss(java.util.List.of(batch)));
        }
        assertThrows(IOException.class, () -> checkpoint.training(TrainConfig.defaults()));
    }

    private CheckpointException refusal(String dir) {
        return assertThrows(CheckpointException.class, () -> Checkpoint.open(root.resolve(dir)));
    }
}
