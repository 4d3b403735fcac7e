package ipt.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.ParameterStore;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SortedMap;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

/** Tiny random Hugging Face model directories, their logits, and the plain-torch reference (reference.py). */
final class HfFixtures {

    private static Optional<String> python;

    private HfFixtures() {}

    /** A python3 that imports torch ($IPT_PYTHON, Debian's /usr/bin/python3, or python3 on the PATH); else skipped. */
    static String pythonWithTorch() {
        if (python == null) {
            List<String> candidates = new ArrayList<>();
            if (System.getenv("IPT_PYTHON") != null) candidates.add(System.getenv("IPT_PYTHON"));
            candidates.add("/usr/bin/python3");
            candidates.add("python3");
            python = candidates.stream().filter(HfFixtures::importsTorch).findFirst();
            if (python.isEmpty())
                System.out.println("No python3 that imports torch among " + candidates
                        + " (install python3-torch): the plain-torch reference checks are skipped");
        }
        assumeTrue(python.isPresent(), "no python3 that imports torch (install python3-torch)");
        return python.get();
    }

    private static boolean importsTorch(String executable) {
        try {
            Process process = new ProcessBuilder(executable, "-c", "import torch")
                    .redirectErrorStream(true)
                    .start();
            process.getInputStream().readAllBytes();
            return process.waitFor(60, TimeUnit.SECONDS) && process.exitValue() == 0;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /** Runs reference.py with {@code args}; fails the test with its output if it fails. */
    static void reference(String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of(pythonWithTorch(), script().toString()));
        command.addAll(List.of(args));
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(true, process.waitFor(120, TimeUnit.SECONDS), "reference.py timed out");
        assertEquals(0, process.exitValue(), "reference.py " + args[0] + " failed:\n" + output);
    }

    private static Path script() throws URISyntaxException {
        return Path.of(HfFixtures.class.getResource("/hf/reference.py").toURI());
    }

    /** Random weights for every parameter config.json implies, in checkpoint layout, created in {@code manager}. */
    static SortedMap<String, NDArray> randomTensors(String configJson, long seed, NDManager manager)
            throws IOException {
        HfDecoder decoder = HfDecoder.of(HfConfig.parse(configJson.getBytes(StandardCharsets.UTF_8)));
        SortedMap<String, NDArray> tensors = new TreeMap<>();
        for (Map.Entry<String, Shape> named : decoder.checkpointShapes().entrySet()) {
            SplittableRandom random = new SplittableRandom(seed + named.getKey().hashCode());
            float[] values = new float[Math.toIntExact(named.getValue().size())];
            boolean gain = named.getKey().contains("norm") || named.getKey().contains("ln_");
            for (int i = 0; i < values.length; i++)
                values[i] =
                        (float) ((gain && named.getKey().endsWith(".weight") ? 1 : 0) + 0.3 * random.nextGaussian());
            tensors.put(named.getKey(), manager.create(values, named.getValue()));
        }
        return tensors;
    }

    /** config.json, the tensors as safetensors (sharded past {@code maxShardBytes}) and the byte-level tokenizer. */
    static Path writeModel(Path dir, String configJson, SortedMap<String, NDArray> tensors, long maxShardBytes)
            throws IOException {
        SafeTensors.write(dir, tensors, maxShardBytes);
        Files.writeString(dir.resolve("config.json"), configJson);
        Files.write(dir.resolve("tokenizer.json"), HuggingFaceJson.byteLevelJson());
        return dir;
    }

    static Path randomModel(Path dir, String configJson, long seed, long maxShardBytes) throws IOException {
        try (NDManager manager = NDManager.newBaseManager("PyTorch")) {
            return writeModel(dir, configJson, randomTensors(configJson, seed, manager), maxShardBytes);
        }
    }

    /** Logits reference.py computes for the model in {@code dir}, flattened (B, T, V). */
    static float[] referenceLogits(Path dir, long[][] ids) throws Exception {
        StringBuilder rows = new StringBuilder();
        for (long[] row : ids) {
            if (rows.length() > 0) rows.append(';');
            for (int i = 0; i < row.length; i++) rows.append(i == 0 ? "" : ",").append(row[i]);
        }
        Path out = dir.resolveSibling(dir.getFileName() + "-reference.safetensors");
        reference("logits", dir.toString(), rows.toString(), out.toString());
        try (NDManager manager = NDManager.newBaseManager("PyTorch")) {
            return SafeTensors.read(manager, SafeTensors.header(out).get("logits"))
                    .toFloatArray();
        }
    }

    static float maxAbsDifference(float[] a, float[] b) {
        assertEquals(a.length, b.length, "logit counts");
        float max = 0;
        for (int i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
        return max;
    }

    /** Fixed ids: {@code rows} rows of {@code length} below {@code vocab}. */
    static long[][] ids(int rows, int length, int vocab) {
        SplittableRandom random = new SplittableRandom(11);
        long[][] ids = new long[rows][length];
        for (long[] row : ids) for (int i = 0; i < length; i++) row[i] = random.nextInt(vocab);
        return ids;
    }

    /** The model's (B, T, V) logits for the rows of ids, flattened. */
    static float[] logits(LanguageModel model, long[][] ids) {
        boolean gradMode = JniUtils.isGradMode();
        JniUtils.setGradMode(false);
        try (NDManager manager = model.model.getNDManager().newSubManager()) {
            NDArray input = manager.create(ids);
            return model.net
                    .forward(new ParameterStore(manager, false), new NDList(input), false)
                    .singletonOrThrow()
                    .toFloatArray();
        } finally {
            JniUtils.setGradMode(gradMode);
        }
    }
}
