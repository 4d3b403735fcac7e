package ipt.runtime;

import com.sun.net.httpserver.HttpHandler;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sun.misc.Signal;

/**
 * The life of a service run as its own process: status endpoints up, then wait until SIGTERM (or SIGINT), then close
 * the service and exit 0, or exit 1 if closing takes longer than {@link Settings#STOP_SECONDS}.
 */
public final class ServiceProcess {
    private static final Logger LOG = LoggerFactory.getLogger(ServiceProcess.class);
    private static final List<String> STOP_SIGNALS = List.of("TERM", "INT");

    private ServiceProcess() {}

    /**
     * Serves {@code /metrics} and {@code /healthz} on {@link Settings#STATUS_BIND}:{@link Settings#STATUS_PORT}
     * (127.0.0.1:8080; the Helm chart binds 0.0.0.0 so that probes and Prometheus reach it) and blocks until the JVM
     * is asked to stop; then closes {@code service} and exits the JVM: 0 once closed, 1 if that took longer than
     * {@link Settings#STOP_SECONDS}.
     */
    public static void runUntilShutdown(
            String name,
            Settings.Values settings,
            PrometheusRegistry registry,
            Supplier<StatusServer.Health> health,
            AutoCloseable service)
            throws Exception {
        runUntilShutdown(name, settings, registry, health, service, Map.of());
    }

    /** The same, also serving the service's own API {@code routes} on the status port. */
    public static void runUntilShutdown(
            String name,
            Settings.Values settings,
            PrometheusRegistry registry,
            Supplier<StatusServer.Health> health,
            AutoCloseable service,
            Map<String, HttpHandler> routes)
            throws Exception {
        CountDownLatch stopAsked = new CountDownLatch(1);
        // Handled here rather than in a shutdown hook: the JVM would exit 143 after the hook, and a hook cannot
        // bound its own time.
        for (String signal : STOP_SIGNALS) {
            try {
                Signal.handle(new Signal(signal), s -> stopAsked.countDown());
            } catch (IllegalArgumentException reserved) {
                // -Xrs, or a signal the JVM keeps for itself: the process then stops only when killed.
                LOG.warn("{}: cannot handle SIG{}: {}", name, signal, reserved.getMessage());
            }
        }
        int stopSeconds = settings.get(Settings.STOP_SECONDS);
        try (StatusServer status = StatusServer.start(
                settings.get(Settings.STATUS_BIND), settings.get(Settings.STATUS_PORT), registry, health, routes)) {
            LOG.info(
                    "{} running; /metrics and /healthz on {}:{}",
                    name,
                    settings.get(Settings.STATUS_BIND),
                    status.port());
            stopAsked.await();
            LOG.info("{} stopping (at most {} s)", name, stopSeconds);
            Thread deadline = new Thread(
                    () -> {
                        try {
                            Thread.sleep(stopSeconds * 1000L);
                        } catch (InterruptedException e) {
                            return;
                        }
                        LOG.error("{} did not stop within {} s (IPT_STOP_SECONDS); exiting 1", name, stopSeconds);
                        Runtime.getRuntime().halt(1);
                    },
                    name + "-stop-deadline");
            deadline.setDaemon(true);
            deadline.start();
            try {
                service.close();
            } catch (Exception e) {
                LOG.error("{} did not stop cleanly; exiting 1", name, e);
                System.exit(1);
            }
        }
        LOG.info("{} stopped", name);
        System.exit(0);
    }
}
