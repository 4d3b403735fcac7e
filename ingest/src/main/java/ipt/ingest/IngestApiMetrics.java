package ipt.ingest;

import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.model.registry.PrometheusRegistry;

/** HTTP request and document counts of the ingest API. */
final class IngestApiMetrics {
    private final Counter requests;
    private final Histogram duration;
    private final Counter bodyBytes;
    private final Counter documents;
    private final DomainLabels domains = new DomainLabels();

    IngestApiMetrics(PrometheusRegistry registry) {
        requests = Counter.builder()
                .name("ipt_http_requests_total")
                .help("HTTP requests to the ingest API, by route, method and status.")
                .labelNames("route", "method", "status")
                .register(registry);
        duration = Histogram.builder()
                .name("ipt_http_request_duration_seconds")
                .help("From request to response, including the wait for Kafka's acks.")
                .labelNames("route")
                .classicUpperBounds(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
                .register(registry);
        bodyBytes = Counter.builder()
                .name("ipt_http_request_body_bytes_total")
                .help("Request body bytes read.")
                .register(registry);
        documents = Counter.builder()
                .name("ipt_ingest_documents_total")
                .help("Documents in ingest API requests, by domain and outcome.")
                .labelNames("domain", "outcome")
                .register(registry);
    }

    /** Routes are a fixed set (not the raw path), so a scan of random URLs cannot blow up the label space. */
    void request(String route, String method, int status, long startNanos) {
        String m = switch (method) {
            case "GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH" -> method;
            default -> "other";
        };
        requests.labelValues(route, m, String.valueOf(status)).inc();
        duration.labelValues(route).observe((System.nanoTime() - startNanos) / 1e9);
    }

    void bodyBytes(long bytes) {
        bodyBytes.inc(bytes);
    }

    void document(String domain, boolean accepted) {
        documents
                .labelValues(domains.of(domain), accepted ? "accepted" : "failed")
                .inc();
    }
}
