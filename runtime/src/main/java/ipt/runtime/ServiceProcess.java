package ipt.runtime;

import com.sun.net.httpserver.HttpHandler;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The life of a service run as its own process: status endpoints up, then wait until SIGTERM, then close. */
public final class ServiceProcess {
    private static final Logger LOG = LoggerFactory.getLogger(ServiceProcess.class);

    private ServiceProcess() {}

    /**
     * Serves {@code /metrics} and {@code /healthz} on {@link Settings#STATUS_BIND}:{@link Settings#STATUS_PORT}
     * (127.0.0.1:8080; the Helm chart binds 0.0.0.0 so that probes and Prometheus reach it) and blocks until the JVM
     * is asked to stop; the shutdown hook closes {@code service} before the process exits.
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
        CountDownLatch closed = new CountDownLatch(1);
        try (StatusServer status = StatusServer.start(
                settings.get(Settings.STATUS_BIND), settings.get(Settings.STATUS_PORT), registry, health, routes)) {
            Runtime.getRuntime()
                    .addShutdownHook(new Thread(
                            () -> {
                                try {
                                    service.close();
                                } catch (Exception e) {
                                    LOG.warn("{} did not stop cleanly", name, e);
                                } finally {
                                    closed.countDown();
                                }
                            },
                            name + "-shutdown"));
            LOG.info(
                    "{} running; /metrics and /healthz on {}:{}",
                    name,
                    settings.get(Settings.STATUS_BIND),
                    status.port());
            closed.await();
        }
    }
}
