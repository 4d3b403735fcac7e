package ipt.ingest;

import io.prometheus.metrics.model.registry.PrometheusRegistry;
import ipt.runtime.KafkaSettings;
import ipt.runtime.ServiceProcess;
import ipt.runtime.Settings;
import ipt.runtime.StatusServer;
import ipt.schemas.Topics;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.config.TopicConfig;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Runs the curation topology against a Kafka cluster: the wiring around {@link CurationTopology}. */
public final class CurationService implements AutoCloseable {
    public static final String APPLICATION_ID = "ipt-curation";
    /**
     * A repartition record carries the document and its original bytes, so it can be twice the raw record:
     * internal topics and the producer get room for that.
     */
    static final int MAX_INTERNAL_RECORD_BYTES = 16 * 1024 * 1024;

    private static final Logger LOG = LoggerFactory.getLogger(CurationService.class);
    private static final Duration CLOSE_TIMEOUT = Duration.ofSeconds(30);

    private final KafkaStreams streams;
    private final StreamThreadDeaths deaths;

    private CurationService(KafkaStreams streams, StreamThreadDeaths deaths) {
        this.streams = streams;
        this.deaths = deaths;
    }

    /**
     * Starts the topology with exactly-once processing. {@code kafkaProps} are client settings
     * (bootstrap servers, security, optionally {@code replication.factor} for the internal topics and an
     * {@code application.id} other than {@value #APPLICATION_ID}).
     */
    public static CurationService start(
            Map<String, Object> kafkaProps, CurationConfig config, Path stateDir, PrometheusRegistry registry) {
        CurationMetrics metrics = new CurationMetrics(registry);
        StreamThreadDeaths deaths = new StreamThreadDeaths();
        KafkaStreams streams =
                new KafkaStreams(CurationTopology.build(config, metrics, deaths), streamsProps(kafkaProps, stateDir));
        // A thread that dies on a transient fault (broker gone, fenced producer) comes back; bad input should never get
        // here, and if it does the deaths in a row on one record show in /healthz and the replacement counter.
        streams.setUncaughtExceptionHandler(e -> {
            String on = deaths.died().map(p -> " on " + p).orElse("");
            LOG.error("curation stream thread failed{}; replacing it", on, e);
            metrics.threadReplaced();
            return StreamThreadExceptionResponse.REPLACE_THREAD;
        });
        streams.setStateListener((now, before) -> LOG.info("curation streams {} -> {}", before, now));
        streams.start();
        return new CurationService(streams, deaths);
    }

    static Properties streamsProps(Map<String, Object> kafkaProps, Path stateDir) {
        Properties props = new Properties();
        props.putAll(kafkaProps);
        props.putIfAbsent(StreamsConfig.APPLICATION_ID_CONFIG, APPLICATION_ID);
        props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        props.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toAbsolutePath().toString());
        // Quality rules and MinHash are CPU work: one stream thread per core (the parse stage has a task per raw
        // partition).
        props.putIfAbsent(
                StreamsConfig.NUM_STREAM_THREADS_CONFIG, Runtime.getRuntime().availableProcessors());
        props.putIfAbsent(StreamsConfig.producerPrefix(ProducerConfig.COMPRESSION_TYPE_CONFIG), "lz4");
        props.putIfAbsent(
                StreamsConfig.producerPrefix(ProducerConfig.MAX_REQUEST_SIZE_CONFIG), MAX_INTERNAL_RECORD_BYTES);
        props.putIfAbsent(
                StreamsConfig.topicPrefix(TopicConfig.MAX_MESSAGE_BYTES_CONFIG),
                String.valueOf(MAX_INTERNAL_RECORD_BYTES));
        return props;
    }

    /**
     * Healthy while running or rebalancing (and while starting); failing once stopped or errored, or while stream
     * threads keep dying on the same record (a partition that cannot move on).
     */
    public StatusServer.Health health() {
        KafkaStreams.State state = streams.state();
        var stuck = deaths.stuck();
        if (stuck.isPresent()) return StatusServer.Health.failing("curation " + state + ", " + stuck.get());
        return switch (state) {
            case CREATED, REBALANCING, RUNNING -> StatusServer.Health.ok("curation " + state);
            case PENDING_SHUTDOWN, NOT_RUNNING, PENDING_ERROR, ERROR ->
                StatusServer.Health.failing("curation " + state);
        };
    }

    public KafkaStreams.State state() {
        return streams.state();
    }

    @Override
    public void close() {
        streams.close(CLOSE_TIMEOUT);
    }

    /**
     * Runs the service alone, with the settings of {@link CurationConfig#SETTINGS}; topics are created if missing.
     */
    public static void main(String[] args) throws Exception {
        // Settings first: a wrong one is reported at once, not after waiting for the broker.
        Settings.Values settings = CurationConfig.SETTINGS.parse(Settings.environment());
        Map<String, Object> kafka = KafkaSettings.fromEnv(settings.env());
        CurationConfig config = CurationConfig.from(settings);
        Path stateDir = settings.isSet(CurationConfig.STATE_DIR)
                ? settings.get(CurationConfig.STATE_DIR)
                : Path.of(System.getProperty("java.io.tmpdir"), "ipt-curation");
        int partitions = settings.get(CurationConfig.DOCUMENT_PARTITIONS);
        short replication =
                Short.parseShort(String.valueOf(kafka.getOrDefault(StreamsConfig.REPLICATION_FACTOR_CONFIG, "1")));
        try (Admin admin = Admin.create(kafka)) {
            Topics.ensure(admin, Topics.specs(partitions), replication);
        }

        PrometheusRegistry registry = new PrometheusRegistry();
        CurationService service = start(kafka, config, stateDir, registry);
        ServiceProcess.runUntilShutdown("curation", settings, registry, service::health, service);
    }
}
