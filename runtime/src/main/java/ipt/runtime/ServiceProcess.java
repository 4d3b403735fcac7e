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
   * Serves {@code /metrics} and {@code /healthz} on {@code statusPort} ({@link Settings#STATUS_PORT}) and blocks until the JVM
   * is asked to stop; the shutdown hook closes {@code service} before the process exits.
   */
  public static void runUntilShutdown(String name, int statusPort, PrometheusRegistry registry,
      Supplier<StatusServer.Health> health, AutoCloseable service) throws Exception {
    runUntilShutdown(name, statusPort, registry, health, service, Map.of());
  }

  /** The same, also serving the service's own API {@code routes} on the status port. */
  public static void runUntilShutdown(String name, int statusPort, PrometheusRegistry registry,
      Supplier<StatusServer.Health> health, AutoCloseable service, Map<String, HttpHandler> routes) throws Exception {
    CountDownLatch closed = new CountDownLatch(1);
    try (StatusServer status = StatusServer.start("0.0.0.0", statusPort, registry, health, routes)) {
      Runtime.getRuntime().addShutdownHook(new Thread(() -> {
        try {
          service.close();
        } catch (Exception e) {
          LOG.warn("{} did not stop cleanly", name, e);
        } finally {
          closed.countDown();
        }
      }, name + "-shutdown"));
      LOG.info("{} running; /metrics and /healthz on port {}", name, status.port());
      closed.await();
    }
  }
}
