package ipt.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.util.Pair;
import ai.djl.util.cuda.CudaUtils;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * IPT_DEVICE: its spelling, the refusal of a GPU PyTorch does not see, and every array of a training step, a forward
 * pass and a checkpoint round trip on the chosen device. The device is {@code -Dipt.test.device} (cpu unless set: no
 * GPU is reachable where this is built; on a GPU machine with the -Pcuda build, {@code -Dipt.test.device=cuda}).
 */
class ComputeDeviceTest {
    private static final String DEVICE = System.getProperty("ipt.test.device", "cpu");

    @AfterEach
    void backToTheCpu() {
        if (!ComputeDevice.selected().equals(Device.cpu())) ComputeDevice.use("cpu");
    }

    @Test
    void spellsCpuCudaAndCudaN() {
        assertEquals(Device.cpu(), ComputeDevice.parse("cpu"));
        assertEquals(Device.gpu(0), ComputeDevice.parse("cuda"));
        assertEquals(Device.gpu(3), ComputeDevice.parse(" cuda:3 "));
        for (String wrong : List.of("gpu", "CUDA", "cuda:", "cuda:x", "cuda:-1", "mps", "")) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ComputeDevice.parse(wrong));
            assertEquals("IPT_DEVICE=" + wrong + ": must be cpu, cuda or cuda:N", e.getMessage());
        }
    }

    @Test
    void aGpuPyTorchDoesNotSeeIsRefusedWithTheReasonAndTheDeviceStays() {
        Engine engine = Engine.getEngine("PyTorch");
        assumeTrue(engine.getGpuCount() == 0, "a GPU is visible here");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ComputeDevice.use("cuda"));
        if (ComputeDevice.nativeBuild().equals("cpu")) {
            assertEquals(
                    "IPT_DEVICE=cuda: no CUDA device visible to PyTorch (DJL PyTorch engine, PyTorch "
                            + engine.getVersion() + ", native build cpu); install the cuda build (mvn -Pcuda) and a"
                            + " driver",
                    e.getMessage());
        } else { // the -Pcuda build on a machine without a GPU
            assertTrue(e.getMessage().contains("sees 0 GPUs"), e.getMessage());
        }
        assertEquals(Device.cpu(), ComputeDevice.selected(), "never a silent fallback, never a half-made choice");
        try (LanguageModel model = LanguageModel.create(Corpus.tiny(), 1)) {
            assertEquals(Device.cpu(), model.device());
        }
    }

    /** Run with the -Pcuda build on a machine without a GPU: DJL cannot load its natives, and says so at start. */
    @Test
    void aCudaBuildWhereNoGpuIsSeenIsRefusedAtStartWhateverTheDevice() {
        assumeTrue(ComputeDevice.nativeBuild().startsWith("cu"), "the CPU build");
        assumeTrue(CudaUtils.getGpuCount() == 0, "a GPU is visible here");
        for (String device : List.of("cpu", "cuda")) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ComputeDevice.use(device));
            assertTrue(
                    e.getMessage().startsWith("IPT_DEVICE=" + device + ": PyTorch's native libraries (native build cu"),
                    e.getMessage());
            assertTrue(e.getMessage().endsWith("use a build without -Pcuda on a machine without one"), e.getMessage());
        }
    }

    @Test
    void tooFewGpusForTheDeviceAreCountedInTheRefusal() {
        Engine engine = Engine.getEngine("PyTorch");
        int gpus = engine.getGpuCount();
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class,
                () -> ComputeDevice.refuseUnseen("cuda:" + gpus, Device.gpu(gpus), "cu124", engine));
        assertEquals(
                "IPT_DEVICE=cuda:" + gpus + ": PyTorch " + engine.getVersion() + " (native build cu124) sees " + gpus
                        + " GPU" + (gpus == 1 ? "" : "s")
                        + "; check the NVIDIA driver, CUDA_VISIBLE_DEVICES and the container's GPU request",
                e.getMessage());
    }

    @Test
    void everyArrayOfATrainingStepAndAForwardPassLivesOnTheDevice() {
        Device device = ComputeDevice.use(DEVICE);
        try (Training training = Training.create(Corpus.tiny(), TrainConfig.defaults())) {
            LanguageModel model = training.model();
            assertEquals(device, model.device());
            assertArrayEquals(new Device[] {device}, training.trainer().getDevices());
            for (int s = 0; s < 3; s++) training.trainStep(Corpus.batch(s, 4, 32), 1e-3f);
            // Weights, gradients and AdamW's moments: everything the model's manager holds after the steps.
            List<NDArray> held = model.model.getNDManager().getManagedArrays();
            assertTrue(held.size() > 2 * model.net.getParameters().size(), held.size() + " arrays");
            assertOn(device, held, "held by the model");
            for (Pair<String, Parameter> named : model.net.getParameters()) {
                assertEquals(device, named.getValue().getArray().getGradient().getDevice(), named.getKey());
            }
            // A forward pass's every intermediate, kept in its manager until it closes.
            try (NDManager step = training.trainer().getManager().newSubManager()) {
                NDArray input = LanguageModel.staged(step, model.inputBuffer, new long[32], 0, new Shape(1, 32));
                NDArray logits = training.trainer().forward(new NDList(input)).singletonOrThrow(); // (1, T, V)
                assertEquals(new Shape(1, 32, ByteTokenizer.VOCAB_SIZE), logits.getShape());
                assertOn(device, step.getManagedArrays(), "made by a forward pass");
            }
            Generation.Continuation c = Generation.generate(model, "It was", Sampling.greedy(5));
            assertEquals(5, c.tokens().length);
        }
    }

    @Test
    void aHuggingFaceModelLoadsScoresAndIsWrittenBackFromTheDevice(@TempDir Path dir) throws IOException {
        Path written = HfFixtures.randomModel(dir.resolve("in"), HuggingFaceParityTest.LLAMA_GQA_UNTIED, 5, 8_000L);
        float[] cpuLogits;
        try (LanguageModel onCpu = LanguageModel.fromHuggingFace(written)) {
            cpuLogits = HfFixtures.logits(onCpu, HfFixtures.ids(2, 12, 300));
        }
        Device device = ComputeDevice.use(DEVICE);
        try (LanguageModel model = LanguageModel.fromHuggingFace(written)) {
            assertOn(device, model.model.getNDManager().getManagedArrays(), "loaded");
            float[] logits = HfFixtures.logits(model, HfFixtures.ids(2, 12, 300));
            assertTrue(HfFixtures.maxAbsDifference(cpuLogits, logits) < 1e-4f, "the device's logits are the CPU's");
            int before = model.model.getNDManager().getManagedArrays().size();
            model.writeHuggingFace(dir.resolve("out"), 8_000L);
            assertFalse(model.nonFiniteParameter().isPresent());
            assertEquals(before, model.model.getNDManager().getManagedArrays().size(), "no copy left behind");
            try (LanguageModel back = LanguageModel.fromHuggingFace(dir.resolve("out"))) {
                assertArrayEquals(model.parameterValues(), back.parameterValues(), "written from the device as is");
            }
        }
    }

    private static void assertOn(Device device, List<NDArray> arrays, String what) {
        List<String> elsewhere = new ArrayList<>();
        for (NDArray a : arrays) if (!a.getDevice().equals(device)) elsewhere.add(a.getShape() + "@" + a.getDevice());
        assertTrue(elsewhere.isEmpty(), what + ", not on " + device + ": " + elsewhere);
    }
}
