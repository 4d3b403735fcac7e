package ipt.testsupport;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A Java program run as its own process, as ipt's services run in production: its own JVM and environment, its
 * output (stdout and stderr) appended to a log, so that a restart continues the same log. Tests and the soak start
 * `ipt train`, `ipt evaluate`, `ipt curate`, the broker and S3Proxy with it, and kill them with SIGKILL.
 */
public record ChildJvm(
        String classPath, List<String> jvmOptions, String mainClass, List<String> args, Map<String, String> env) {

    /** A service's JVM: offline DJL on one thread, ipt's own log lines at info and everything else at warn. */
    public static final List<String> SERVICE_OPTIONS = List.of(
            "-Dai.djl.offline=true",
            "-Dai.djl.pytorch.num_threads=1",
            "-Dai.djl.pytorch.num_interop_threads=1",
            "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
            "-Dorg.slf4j.simpleLogger.log.ipt=info");

    public ChildJvm {
        jvmOptions = List.copyOf(jvmOptions);
        args = List.copyOf(args);
        env = Map.copyOf(env);
    }

    /** {@code mainClass args} on this JVM's class path, with {@link #SERVICE_OPTIONS} and a heap of {@code heapMb}. */
    public static ChildJvm service(String mainClass, int heapMb, String... args) {
        List<String> options = new ArrayList<>();
        options.add("-Xmx" + heapMb + "m");
        options.addAll(SERVICE_OPTIONS);
        return new ChildJvm(System.getProperty("java.class.path"), options, mainClass, List.of(args), Map.of());
    }

    /** The same program with these environment variables added (or replaced). */
    public ChildJvm withEnv(Map<String, String> more) {
        Map<String, String> merged = new HashMap<>(env);
        merged.putAll(more);
        return new ChildJvm(classPath, jvmOptions, mainClass, args, merged);
    }

    /** Starts it, its output appended to {@code log}. */
    public Process start(Path log) throws IOException {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(jvmOptions);
        command.add("-cp");
        command.add(classPath);
        command.add(mainClass);
        command.addAll(args);
        ProcessBuilder builder = new ProcessBuilder(command)
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
        builder.environment().putAll(env);
        return builder.start();
    }
}
