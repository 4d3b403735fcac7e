package ipt.runtime;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import com.sun.net.httpserver.HttpServer;
import io.prometheus.metrics.exporter.httpserver.MetricsHandler;
import io.prometheus.metrics.instrumentation.jvm.JvmMetrics;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.function.Supplier;

/** Serves {@code /metrics} (Prometheus text format) and {@code /healthz} for one service. */
public final class StatusServer implements AutoCloseable {
    /** What {@code /healthz} reports: healthy, or not with a reason. */
    public record Health(boolean ok, String detail) {
        public static Health ok(String detail) {
            return new Health(true, detail);
        }

        public static Health failing(String detail) {
            return new Health(false, detail);
        }
    }

    private final HttpServer server;

    private StatusServer(HttpServer server) {
        this.server = server;
    }

    /** Starts on {@code host:port} (port 0 picks a free one); JVM metrics are added to the registry. */
    public static StatusServer start(String host, int port, PrometheusRegistry registry, Supplier<Health> health)
            throws IOException {
        return start(host, port, registry, health, Map.of());
    }

    /** The same, also serving each handler in {@code routes} under its path (a service's own API). */
    public static StatusServer start(
            String host,
            int port,
            PrometheusRegistry registry,
            Supplier<Health> health,
            Map<String, HttpHandler> routes)
            throws IOException {
        JvmMetrics.builder().register(registry);
        HttpServer server = HttpServer.create(new InetSocketAddress(host, port), 0);
        server.createContext("/metrics", new MetricsHandler(registry));
        server.createContext("/healthz", exchange -> respondHealth(exchange, health.get()));
        routes.forEach(server::createContext);
        server.setExecutor(Executors.newFixedThreadPool(2, r -> {
            Thread t = new Thread(r, "status-http");
            t.setDaemon(true);
            return t;
        }));
        server.start();
        return new StatusServer(server);
    }

    private static void respondHealth(HttpExchange exchange, Health health) throws IOException {
        byte[] body = ((health.ok() ? "ok " : "failing ") + health.detail() + "\n").getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", "text/plain; charset=utf-8");
        exchange.sendResponseHeaders(health.ok() ? 200 : 503, body.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(body);
        }
    }

    public int port() {
        return server.getAddress().getPort();
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
