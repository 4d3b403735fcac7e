package ipt.standalone;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ai.djl.engine.Engine;
import java.io.ByteArrayInputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * IPT_DEVICE=cuda where PyTorch sees no GPU (this build machine): {@code ipt train}, {@code ipt evaluate} and
 * {@code ipt generate} stop at start with the reason and exit code 2, before any broker is contacted or model built; a
 * misspelt device is refused the same way. ComputeDeviceTest checks the reason's exact words.
 */
class DeviceSettingTest {
    @TempDir
    static Path dir;

    @BeforeAll
    static void noGpuHere() {
        assumeTrue(Engine.getEngine("PyTorch").getGpuCount() == 0, "PyTorch sees a GPU here");
    }

    @Test
    void trainAndEvaluateRefuseCudaAtStart() throws Exception {
        for (String command : new String[] {"train", "evaluate"}) {
            ProcessBuilder ipt = new ProcessBuilder(
                            Path.of(System.getProperty("java.home"), "bin", "java")
                                    .toString(),
                            "-Xmx512m",
                            "-Dai.djl.offline=true",
                            "-cp",
                            System.getProperty("java.class.path"),
                            Ipt.class.getName(),
                            command)
                    .directory(dir.toFile())
                    .redirectErrorStream(true);
            Map<String, String> env = ipt.environment();
            env.put("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9"); // nothing listens: never reached
            env.put("IPT_DATA_DIR", dir.toString());
            env.put("IPT_DEVICE", "cuda");
            Process p = ipt.start();
            String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(p.waitFor(2, TimeUnit.MINUTES), command);
            assertEquals(2, p.exitValue(), command + ": " + output);
            assertTrue(output.contains("ipt: IPT_DEVICE=cuda: "), command + ": " + output);
            assertTrue(output.contains("PyTorch"), command + ": " + output);
        }
    }

    @Test
    void generateRefusesCudaAndAMisspeltDeviceAtStart() {
        for (String[] device : new String[][] {
            {"cuda", "ipt: IPT_DEVICE=cuda: "}, {"cuda:x", "ipt: IPT_DEVICE=cuda:x: must be cpu, cuda or cuda:N"}
        }) {
            StringWriter err = new StringWriter();
            int code = Ipt.cli(
                            new GenerateCommand(Map.of("IPT_DEVICE", device[0]), new ByteArrayInputStream(new byte[0])))
                    .setOut(new PrintWriter(new StringWriter()))
                    .setErr(new PrintWriter(err))
                    .execute(dir.resolve("no-checkpoint-here").toString());
            assertEquals(2, code, err.toString());
            assertTrue(err.toString().startsWith(device[1]), err.toString());
        }
    }
}
