package ipt.checkpoints;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ipt.model.LanguageModel;
import ipt.model.TrainConfig;
import ipt.model.Training;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
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
                java.util.Set.of(
                        "config.json",
                        "model.safetensors",
                        "tokenizer.json",
                        "generation_config.json",
                        "optimizer.bin",
                        "replay.bin"),
                opened.manifest().files().keySet());
        assertEquals(Checkpoint.FORMAT_VERSION, opened.manifest().formatVersion());
        assertEquals(LanguageModel.IPT_GPT, opened.manifest().architecture());
        assertArrayEquals("replay state".getBytes(StandardCharsets.UTF_8), opened.file("replay.bin"));
        try (Stream<Path> entries = Files.list(root)) {
            assertEquals(java.util.List.of(root.resolve("v7")), entries.toList(), "no temporary directory left behind");
        }
    }

    @Test
    void flippedByteInAShardIsRefused() throws Exception {
        Checkpoint written = Checkpoint.write(root, "v7", TinyModels.manifest(model, 7), model, Map.of(), 20_000);
        assertTrue(written.manifest().files().containsKey("model.safetensors.index.json"), "sharded past 20 kB");
        String shard = written.manifest().files().keySet().stream()
                .filter(name -> name.matches("model-\\d+-of-\\d+\\.safetensors"))
                .findFirst()
                .orElseThrow();
        Path file = root.resolve("v7").resolve(shard);
        byte[] bytes = Files.readAllBytes(file);
        bytes[bytes.length - 3] ^= 1;
        Files.write(file, bytes);
        CheckpointException e = refusal("v7");
        assertEquals(shard, e.file());
        assertTrue(e.getMessage().startsWith(shard + ": sha256 "), e.getMessage());
    }

    /**
     * A checkpoint is a directory transformers loads: an independent reader (Python, the standard library only) finds
     * GPT-2's config, every shard the index names with {@code __metadata__ {"format": "pt"}}, and the weights' exact
     * values.
     */
    @Test
    void aCheckpointIsAHuggingFaceDirectoryPythonReads() throws Exception {
        String python = TinyModels.python();
        Checkpoint written = Checkpoint.write(root, "v7", TinyModels.manifest(model, 7), model, Map.of(), 20_000);
        Process process = new ProcessBuilder(
                        python, "-c", TinyModels.READ_SAFETENSORS, written.dir().toString())
                .redirectErrorStream(true)
                .start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, process.waitFor(), output);
        List<String> lines = output.strip().lines().toList();
        assertEquals(2 + 2 * 12 + 2 + 1, lines.size(), "wte, wpe, 12 tensors a block, ln_f, the total:\n" + output);
        assertEquals("total " + model.model().parameterCount(), lines.get(lines.size() - 1));
    }

    /** A lineage trained before checkpoints were Hugging Face directories resumes from its last params.bin. */
    @Test
    void aFormatOneCheckpointWithParamsBinIsRead() throws Exception {
        Path dir = TinyModels.writeFormatOne(root.resolve("v3"), model);
        Checkpoint old = Checkpoint.open(dir);
        assertEquals(1, old.manifest().formatVersion());
        try (Training resumed = old.training(TrainConfig.defaults())) {
            assertEquals(LanguageModel.IPT_GPT, resumed.model().architecture());
            assertArrayEquals(model.model().parameterBytes(), resumed.model().parameterBytes());
            assertArrayEquals(model.optimizerBytes(), resumed.optimizerBytes());
            assertEquals(model.step(), resumed.step());
            Checkpoint next = Checkpoint.write(root, "v4", TinyModels.manifest(resumed, 4), resumed, Map.of());
            assertTrue(next.manifest().files().containsKey("model.safetensors"), "the next one is the new layout");
        }
        Files.write(dir.resolve("params.bin"), new byte[] {1, 2, 3});
        assertEquals("params.bin", refusal("v3").file());
    }

    /** The model in a Hugging Face architecture (GPT-2, here imported from ipt's export) round-trips as itself. */
    @Test
    void aHuggingFaceModelCheckpointReopensAsItselfBitForBit() throws Exception {
        Path export = root.resolve("export");
        model.model().writeHuggingFace(export, 1L << 30);
        try (Training gpt2 = Training.start(LanguageModel.fromHuggingFace(export), TrainConfig.defaults())) {
            for (int s = 0; s < 2; s++) gpt2.trainStep(TinyModels.batch(s), 1e-3f);
            Checkpoint written = Checkpoint.write(root, "v1", TinyModels.manifest(gpt2, 1), gpt2, Map.of());
            assertEquals(LanguageModel.GPT2, written.manifest().architecture());
            try (Training resumed = Checkpoint.open(written.dir()).training(TrainConfig.defaults())) {
                assertEquals(LanguageModel.GPT2, resumed.model().architecture());
                assertEquals(gpt2.model().config(), resumed.model().config());
                assertArrayEquals(gpt2.optimizerBytes(), resumed.optimizerBytes());
                for (int s = 2; s < 4; s++)
                    assertEquals(
                            gpt2.trainStep(TinyModels.batch(s), 1e-3f), resumed.trainStep(TinyModels.batch(s), 1e-3f));
                assertArrayEquals(gpt2.optimizerBytes(), resumed.optimizerBytes());
            }
        }
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
                () -> Checkpoint.write(
                        root, "v1", TinyModels.manifest(model, 1), model, Map.of("config.json", new byte[1])));
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

    /** The optimizer state is streamed to its file and back; a file changed after open is refused as it is read. */
    @Test
    void optimizerStateIsStreamedAndVerifiedAsItIsRead() throws Exception {
        Checkpoint checkpoint = write("v7");
        Path optimizer = checkpoint.dir().resolve(Checkpoint.OPTIMIZER_FILE);
        assertArrayEquals(model.optimizerBytes(), Files.readAllBytes(optimizer));
        byte[] changed = Files.readAllBytes(optimizer);
        changed[changed.length - 1] ^= 1; // the last moment's last byte: still a well-formed state
        Files.write(optimizer, changed);
        IOException e = assertThrows(IOException.class, () -> checkpoint.training(TrainConfig.defaults()));
        assertTrue(e.getMessage().endsWith("optimizer.bin: sha256 differs from the manifest"), e.getMessage());
        Files.write(optimizer, java.util.Arrays.copyOf(changed, changed.length + 1));
        e = assertThrows(IOException.class, () -> checkpoint.training(TrainConfig.defaults()));
        assertTrue(e.getMessage().endsWith("optimizer.bin: bytes after the AdamW state"), e.getMessage());
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
