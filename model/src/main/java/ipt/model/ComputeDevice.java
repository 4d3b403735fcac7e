package ipt.model;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.engine.EngineException;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Properties;

/**
 * The device this process builds every model on, chosen once at start from {@code IPT_DEVICE}: the CPU unless a
 * service or command chose a GPU. A GPU that PyTorch cannot use is refused with the reason, never replaced by the CPU
 * behind the user's back.
 */
public final class ComputeDevice {
    /** How {@code IPT_DEVICE} spells a device: {@code cpu}, {@code cuda} (the first GPU) or {@code cuda:N}. */
    private static final String SPELLING = "(cpu|cuda(:[0-9]+)?)";

    /** Where DJL's PyTorch native jar says which build it holds. */
    private static final String NATIVE_PROPERTIES = "native/lib/pytorch.properties";

    private static volatile Device selected = Device.cpu();

    private ComputeDevice() {}

    /** The device {@code spelled} names; the GPU is not looked for here ({@link #use} does). */
    public static Device parse(String spelled) {
        String s = spelled.strip();
        if (!s.matches(SPELLING))
            throw new IllegalArgumentException("IPT_DEVICE=" + spelled + ": must be cpu, cuda or cuda:N");
        if (s.equals("cpu")) return Device.cpu();
        return Device.gpu(s.equals("cuda") ? 0 : Integer.parseInt(s.substring("cuda:".length())));
    }

    /**
     * Builds every model created from now on on the device {@code spelled} names, once PyTorch's native libraries
     * have loaded and said they can use it; otherwise an {@link IllegalArgumentException} says why and nothing
     * changes.
     */
    public static Device use(String spelled) {
        Device device = parse(spelled);
        Engine engine = loadedEngine(spelled);
        if (device.isGpu()) refuseUnseen(spelled, device, nativeBuild(), engine);
        selected = device;
        return device;
    }

    /**
     * PyTorch, loaded now rather than at the first model. DJL takes a CUDA build's natives only where it sees a GPU;
     * elsewhere it would download a CPU build, which offline mode refuses.
     */
    private static Engine loadedEngine(String spelled) {
        try {
            return Engine.getEngine("PyTorch");
        } catch (EngineException | IllegalStateException e) {
            String build = nativeBuild();
            throw new IllegalArgumentException(
                    "IPT_DEVICE=" + spelled + ": PyTorch's native libraries (native build " + build
                            + ") cannot be loaded: " + e.getMessage()
                            + (build.startsWith("cu")
                                    ? "; DJL loads a CUDA build only where it sees a GPU and its driver: use a build"
                                            + " without -Pcuda on a machine without one"
                                    : ""),
                    e);
        }
    }

    /** Where {@link LanguageModel}s are built: the CPU unless {@link #use} chose a GPU. */
    public static Device selected() {
        return selected;
    }

    /**
     * Refuses {@code device} unless PyTorch's native libraries are a CUDA build ({@code nativeBuild}: the flavor
     * DJL's native jar declares, cpu or cu124) and PyTorch sees a GPU of that number.
     */
    static void refuseUnseen(String spelled, Device device, String nativeBuild, Engine engine) {
        if (!nativeBuild.startsWith("cu"))
            throw new IllegalArgumentException("IPT_DEVICE=" + spelled + ": no CUDA device visible to PyTorch (DJL "
                    + engine.getEngineName() + " engine, PyTorch " + engine.getVersion() + ", native build "
                    + nativeBuild + "); install the cuda build (mvn -Pcuda) and a driver");
        int gpus = engine.getGpuCount(); // 0 unless torch.cuda.is_available()
        if (device.getDeviceId() >= gpus)
            throw new IllegalArgumentException("IPT_DEVICE=" + spelled + ": PyTorch " + engine.getVersion()
                    + " (native build " + nativeBuild + ") sees " + gpus + " GPU" + (gpus == 1 ? "" : "s")
                    + "; check the NVIDIA driver, CUDA_VISIBLE_DEVICES and the container's GPU request");
    }

    /** The flavor of the PyTorch native jar on the class path ({@code cpu}, {@code cu124}), as DJL reads it. */
    static String nativeBuild() {
        try (InputStream in = ComputeDevice.class.getClassLoader().getResourceAsStream(NATIVE_PROPERTIES)) {
            if (in == null) return "unknown (no " + NATIVE_PROPERTIES + " on the class path)";
            Properties properties = new Properties();
            properties.load(in);
            return properties.getProperty("flavor", "unknown");
        } catch (IOException e) {
            throw new UncheckedIOException(NATIVE_PROPERTIES, e);
        }
    }

    /**
     * {@code array} itself when it is on the CPU, else a CPU copy attached to {@code manager}: what Java reads and
     * files are written from. DJL's own implicit copy would stay in the array's manager, the model's for weights.
     */
    static NDArray onCpu(NDArray array, NDManager manager) {
        if (array.getDevice().equals(Device.cpu())) return array;
        NDArray copy = array.toDevice(Device.cpu(), false);
        copy.attach(manager);
        return copy;
    }

    /** The array's values on the heap, through a CPU copy freed at once when it lives on a GPU. */
    static float[] floats(NDArray array) {
        try (NDManager copies = array.getManager().newSubManager()) {
            return onCpu(array, copies).toFloatArray();
        }
    }
}
