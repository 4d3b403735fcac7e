package ipt.checkpoints;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ipt.model.LanguageModel;
import ipt.model.TrainConfig;
import ipt.model.Training;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A lineage's champion served at {@code <root>/_serving/<lineage>} of a directory store. */
class DirectoryServingTest {
    private static final Set<String> HUGGING_FACE_FILES =
            Set.of("config.json", "model.safetensors", "tokenizer.json", "generation_config.json");
    private static final Pattern COPY = Pattern.compile("v(\\d{6})-.*");

    @TempDir
    Path root;

    private Checkpoint write(Training model, long version) throws IOException {
        return Checkpoint.write(
                root.resolve("test"),
                String.format("v%06d", version),
                TinyModels.manifest(model, version),
                model,
                Map.of());
    }

    @Test
    void aReaderOfTheFixedPathAlwaysSeesOneWholeChampionWhileItIsSwitched() throws Exception {
        CheckpointStore store = CheckpointStore.of(root.toString(), root.resolve("cache"), Map.of());
        Checkpoint[] versions = new Checkpoint[3];
        try (Training model = Training.create(TinyModels.TINY, TrainConfig.defaults())) {
            for (int v = 1; v <= 3; v++) {
                model.trainStep(TinyModels.batch(v), 1e-3f);
                versions[v - 1] = write(model, v);
            }
        }
        Path served = Path.of(store.servingLocation("test"));
        assertEquals(root.resolve("_serving/test"), served);
        assertNull(store.served("test"));

        assertEquals(new CheckpointStore.Served(1, versions[0].sha256()), store.serve(versions[0]));
        assertEquals(new CheckpointStore.Served(1, versions[0].sha256()), store.served("test"));
        assertTrue(Files.isSymbolicLink(served));
        assertFalse(Files.readSymbolicLink(served).isAbsolute(), "relative: the store may be mounted elsewhere");
        assertEquals(HUGGING_FACE_FILES, names(served), "a plain Hugging Face directory, none of ipt's files");
        for (String file : HUGGING_FACE_FILES)
            assertArrayEquals(versions[0].file(file), Files.readAllBytes(served.resolve(file)), file);
        try (LanguageModel loaded = LanguageModel.fromHuggingFace(served, TinyModels.TINY.contextLength())) {
            assertEquals(TinyModels.TINY, loaded.config());
        }

        // A reader opens the fixed path over and over, as a serving system polling it would; each read resolves the
        // link once and must find every file of one version, its weights that version's. The switching waits for a
        // read that began after each switch, so no read outlives two switches (the copy kept for it).
        AtomicBoolean switching = new AtomicBoolean(true);
        AtomicLong reads = new AtomicLong();
        ExecutorService reader = Executors.newSingleThreadExecutor();
        Future<Long> checked = reader.submit(() -> {
            long n = 0;
            while (switching.get() || n == 0) {
                Path copy = served.toRealPath();
                Matcher m = COPY.matcher(copy.getFileName().toString());
                assertTrue(m.matches(), copy.toString());
                Checkpoint version = versions[Integer.parseInt(m.group(1)) - 1];
                assertEquals(HUGGING_FACE_FILES, names(copy));
                for (String file : HUGGING_FACE_FILES)
                    assertArrayEquals(version.file(file), Files.readAllBytes(copy.resolve(file)), copy + "/" + file);
                n++;
                reads.incrementAndGet();
            }
            return n;
        });
        try {
            for (int i = 0; i < 30; i++) {
                Checkpoint next = versions[i % 3];
                assertEquals(next.manifest().version(), store.serve(next).version());
                long before = reads.get(); // a read that starts after this must end: none outlives two switches
                while (reads.get() <= before + 1 && !checked.isDone()) Thread.onSpinWait();
            }
        } finally {
            switching.set(false);
            reader.shutdown();
        }
        assertTrue(checked.get() >= 30, "reads: " + checked.get());
        assertEquals(new CheckpointStore.Served(3, versions[2].sha256()), store.served("test"));

        List<String> copies = list(root.resolve("_serving/.test"));
        assertEquals(2, copies.size(), "the champion and the one before it, nothing older: " + copies);
        assertTrue(copies.get(0).startsWith("v000002-") && copies.get(1).startsWith("v000003-"), copies.toString());
        assertEquals(List.of(".test", "test"), list(root.resolve("_serving")));
    }

    @Test
    void aFailedSwitchLeavesTheChampionServed() throws Exception {
        CheckpointStore store = CheckpointStore.of(root.toString(), root.resolve("cache"), Map.of());
        Checkpoint v1;
        Checkpoint v2;
        try (Training model = Training.create(TinyModels.TINY, TrainConfig.defaults())) {
            v1 = write(model, 1);
            model.trainStep(TinyModels.batch(0), 1e-3f);
            v2 = write(model, 2);
        }
        store.serve(v1);
        Path weights = v2.dir().resolve("model.safetensors");
        byte[] bytes = Files.readAllBytes(weights);
        bytes[bytes.length / 2] ^= 1; // damaged after it was opened and verified
        Files.write(weights, bytes);

        IOException e = assertThrows(IOException.class, () -> store.serve(v2));
        assertTrue(e.getMessage().endsWith("model.safetensors: sha256 differs from the manifest"), e.getMessage());
        assertEquals(new CheckpointStore.Served(1, v1.sha256()), store.served("test"));
        assertArrayEquals(
                v1.file("model.safetensors"), Files.readAllBytes(root.resolve("_serving/test/model.safetensors")));
        assertEquals(1, list(root.resolve("_serving/.test")).size(), "the half copy is gone");
        assertNotEquals(v1.sha256(), v2.sha256());
    }

    @Test
    void servingNeverLeadsOutOfTheStore() {
        CheckpointStore store = CheckpointStore.of(root.toString(), root.resolve("cache"), Map.of());
        assertThrows(IllegalArgumentException.class, () -> store.servingLocation("../elsewhere"));
        assertThrows(IllegalArgumentException.class, () -> store.served(".test"));
    }

    private static Set<String> names(Path dir) throws IOException {
        return Set.copyOf(list(dir));
    }

    private static List<String> list(Path dir) throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            return files.map(f -> f.getFileName().toString()).sorted().toList();
        }
    }
}
