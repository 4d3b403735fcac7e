package ipt.standalone;

import java.nio.file.Path;
import java.util.Map;

/**
 * An `ipt` service in a child JVM on this test's class path, as a pod runs it: one PyTorch thread, ipt's own log
 * lines at info (the tests wait for them), everything else at warn, output to {@code log}.
 */
final class ServiceChild {
    private ServiceChild() {}

    static Process start(String command, Map<String, String> env, Path log) throws Exception {
        ProcessBuilder child = new ProcessBuilder(
                        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                        "-Xmx1g",
                        "-Dai.djl.offline=true",
                        "-Dai.djl.pytorch.num_threads=1",
                        "-Dai.djl.pytorch.num_interop_threads=1",
                        "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
                        "-Dorg.slf4j.simpleLogger.log.ipt=info",
                        "-cp",
                        System.getProperty("java.class.path"),
                        Ipt.class.getName(),
                        command)
                .redirectErrorStream(true)
                .redirectOutput(log.toFile());
        child.environment().put("IPT_STATUS_PORT", "0");
        child.environment().putAll(env);
        return child.start();
    }
}
