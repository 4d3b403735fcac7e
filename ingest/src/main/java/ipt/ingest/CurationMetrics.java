package ipt.ingest;

import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.Gauge;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.model.registry.PrometheusRegistry;

/**
 * Counters of the curation topology, registered in the registry the service exposes (not the default
 * one: several services can share a JVM).
 */
public final class CurationMetrics {
    static final String UNPARSED = DomainLabels.UNPARSED;

    private final Counter in;
    private final Counter out;
    private final Counter rejected;
    private final Counter duplicates;
    private final Counter published;
    private final Counter nearDuplicates;
    private final Counter threadReplacements;
    private final Histogram latency;
    private final Gauge dedupEntries;
    private final Counter dedupExpired;
    private final DomainLabels domains = new DomainLabels();

    public CurationMetrics(PrometheusRegistry registry) {
        in = Counter.builder()
                .name("ipt_curation_stage_in_total")
                .help("Documents entering a curation stage.")
                .labelNames("stage", "domain")
                .register(registry);
        out = Counter.builder()
                .name("ipt_curation_stage_out_total")
                .help("Documents passing a curation stage.")
                .labelNames("stage", "domain")
                .register(registry);
        rejected = Counter.builder()
                .name("ipt_curation_rejected_total")
                .help("Records sent to the rejected topic.")
                .labelNames("stage", "reason")
                .register(registry);
        duplicates = Counter.builder()
                .name("ipt_curation_duplicates_total")
                .help("Documents whose normalised text was seen before.")
                .labelNames("domain")
                .register(registry);
        nearDuplicates = Counter.builder()
                .name("ipt_curation_near_duplicates_total")
                .help("Documents dropped as near duplicates (MinHash LSH).")
                .labelNames("domain")
                .register(registry);
        latency = Histogram.builder()
                .name("ipt_curation_latency_seconds")
                .help("From the raw record's timestamp (the producer's send, just before its ack) to the "
                        + "curated or held-out record.")
                .labelNames("topic")
                .classicUpperBounds(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
                .register(registry);
        threadReplacements = Counter.builder()
                .name("ipt_curation_stream_thread_replacements_total")
                .help("Stream threads that died and were replaced; deaths in a row on one record also fail /healthz.")
                .register(registry);
        dedupEntries = Gauge.builder()
                .name("ipt_curation_dedup_entries")
                .help("Entries the dedup stores of this process's tasks remember: content hashes (exact), MinHash band"
                        + " keys, one per band of each remembered document (near).")
                .labelNames("stage")
                .register(registry);
        dedupExpired = Counter.builder()
                .name("ipt_curation_dedup_expired_total")
                .help("Dedup entries dropped for being older than IPT_DEDUP_HORIZON (swept, or replaced by a copy).")
                .labelNames("stage")
                .register(registry);
        published = Counter.builder()
                .name("ipt_curation_published_total")
                .help("Curated documents written, by output topic.")
                .labelNames("topic", "domain")
                .register(registry);
        // Series whose labels are known in advance exist at 0 from the start, so rate() over them sees the first
        // event; those labelled by a domain are born at their first one (the dashboard's panels count that too).
        for (Reason reason : Reason.values()) rejected.labelValues(reason.stage(), reason.code());
        in.labelValues(Reason.Stage.PARSE, UNPARSED);
    }

    void stageIn(String stage, String domain) {
        in.labelValues(stage, label(domain)).inc();
    }

    void stageOut(String stage, String domain) {
        out.labelValues(stage, label(domain)).inc();
    }

    void rejected(Reason reason) {
        rejected.labelValues(reason.stage(), reason.code()).inc();
    }

    void duplicate(String domain) {
        duplicates.labelValues(label(domain)).inc();
    }

    void nearDuplicate(String domain) {
        nearDuplicates.labelValues(label(domain)).inc();
    }

    void published(String topic, String domain, double latencySeconds) {
        published.labelValues(topic, label(domain)).inc();
        latency.labelValues(topic).observe(Math.max(0, latencySeconds));
    }

    void dedupEntries(String stage, long delta) {
        dedupEntries.labelValues(stage).inc(delta);
    }

    void dedupExpired(String stage, long count) {
        dedupExpired.labelValues(stage).inc(count);
    }

    void threadReplaced() {
        threadReplacements.inc();
    }

    private String label(String domain) {
        return domains.of(domain);
    }
}
