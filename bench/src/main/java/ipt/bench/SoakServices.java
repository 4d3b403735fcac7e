package ipt.bench;

import ipt.testsupport.ChildJvm;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

/**
 * The soak's processes by name (S3Proxy, the broker, curation, the evaluator, one trainer per lineage), each its own
 * JVM with its own log, started, killed with SIGKILL, stopped with SIGTERM and started again on the same settings.
 */
final class SoakServices implements AutoCloseable {
    private record Service(ChildJvm jvm, Path log) {}

    private final Map<String, Service> services = new LinkedHashMap<>();
    private final Map<String, Process> running = new ConcurrentHashMap<>();

    void add(String name, ChildJvm jvm, Path log) {
        services.put(name, new Service(jvm, log));
    }

    List<String> names() {
        return List.copyOf(services.keySet());
    }

    /** Starts it and, when {@code ready} is given, waits for a line matching it in what this start logs. */
    void start(String name, Pattern ready, Duration timeout) throws IOException, InterruptedException {
        Service s = services.get(name);
        long from = Files.exists(s.log()) ? Files.size(s.log()) : 0;
        Process p = s.jvm().start(s.log());
        running.put(name, p);
        if (ready == null) return;
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!LogLines.since(s.log(), from).stream()
                .anyMatch(l -> ready.matcher(l).find())) {
            if (!p.isAlive() || System.nanoTime() > deadline)
                throw new IllegalStateException(
                        name + " did not log /" + ready + "/ (alive: " + p.isAlive() + "); see " + s.log());
            Thread.sleep(100);
        }
    }

    /** SIGKILL, as a crash or the OOM killer ends a process. */
    void kill(String name) throws InterruptedException {
        Process p = running.remove(name);
        if (p == null) return;
        p.destroyForcibly();
        p.waitFor();
    }

    /** SIGTERM, then SIGKILL if it has not exited within {@code grace}; whether it exited by itself. */
    boolean stop(String name, Duration grace) throws InterruptedException {
        Process p = running.remove(name);
        if (p == null) return true;
        p.destroy();
        if (p.waitFor(grace.toMillis(), TimeUnit.MILLISECONDS)) return true;
        p.destroyForcibly();
        p.waitFor();
        return false;
    }

    /** The process id of the running service, if it is running. */
    OptionalLong pid(String name) {
        Process p = running.get(name);
        return p != null && p.isAlive() ? OptionalLong.of(p.pid()) : OptionalLong.empty();
    }

    /** Services started and no longer running though nobody stopped them. */
    List<String> died() {
        List<String> dead = new ArrayList<>();
        running.forEach((name, p) -> {
            if (!p.isAlive()) dead.add(name + " (exit " + p.exitValue() + ")");
        });
        return dead;
    }

    /** Stops every running service, the last started first. */
    @Override
    public void close() throws InterruptedException {
        List<String> order = new ArrayList<>(services.keySet());
        java.util.Collections.reverse(order);
        for (String name : order) stop(name, Duration.ofSeconds(20));
    }
}
