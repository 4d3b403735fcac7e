package ipt.standalone;

import io.prometheus.metrics.model.registry.PrometheusRegistry;
import ipt.evaluator.EvaluatorConfig;
import ipt.evaluator.EvaluatorService;
import ipt.evaluator.RegistryApi;
import ipt.ingest.CurationConfig;
import ipt.ingest.CurationService;
import ipt.ingest.IngestApi;
import ipt.ingest.IngestApiConfig;
import ipt.runtime.KafkaSettings;
import ipt.runtime.StatusServer;
import ipt.schemas.Topics;
import ipt.trainer.TrainerConfig;
import ipt.trainer.TrainerService;
import java.net.URI;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.common.TopicPartition;

/**
 * Every ipt service in this JVM against one Kafka cluster, each with its own /metrics and /healthz
 * port, as `ipt demo` and the integration tests run them. They still talk only through topics.
 */
final class LocalPipeline implements AutoCloseable {
    private final Map<String, Object> kafka;
    private final Admin admin;
    private final CurationService curation;
    private final IngestApi ingestApi;
    private final String ingestToken;
    private final List<TrainerService> trainers = new ArrayList<>();
    private final EvaluatorService evaluator;
    private final Map<String, StatusServer> status = new HashMap<>();

    LocalPipeline(
            String bootstrapServers,
            Path workDir,
            CurationConfig curationConfig,
            List<TrainerConfig> trainerConfigs,
            EvaluatorConfig evaluatorConfig)
            throws Exception {
        kafka = KafkaSettings.of(bootstrapServers);
        admin = Admin.create(kafka);
        Topics.ensure(admin, Topics.specs(Topics.DEFAULT_DOCUMENT_PARTITIONS), (short) 1);
        PrometheusRegistry curationRegistry = new PrometheusRegistry();
        curation = CurationService.start(kafka, curationConfig, workDir.resolve("streams"), curationRegistry);
        status.put("curation", StatusServer.start("127.0.0.1", 0, curationRegistry, curation::health));
        ingestToken = HexFormat.of().formatHex(new SecureRandom().generateSeed(16));
        PrometheusRegistry apiRegistry = new PrometheusRegistry();
        ingestApi =
                IngestApi.start(IngestApiConfig.of("127.0.0.1", 0, ingestToken), kafka, curationConfig, apiRegistry);
        status.put("ingest-api", StatusServer.start("127.0.0.1", 0, apiRegistry, ingestApi::health));
        for (TrainerConfig c : trainerConfigs) {
            PrometheusRegistry registry = new PrometheusRegistry();
            TrainerService trainer = TrainerService.start(kafka, c, registry);
            trainers.add(trainer);
            status.put("trainer " + c.lineage(), StatusServer.start("127.0.0.1", 0, registry, trainer::health));
        }
        PrometheusRegistry evaluatorRegistry = new PrometheusRegistry();
        evaluator = EvaluatorService.start(kafka, evaluatorConfig, evaluatorRegistry);
        status.put(
                "evaluator",
                StatusServer.start(
                        "127.0.0.1",
                        0,
                        evaluatorRegistry,
                        evaluator::health,
                        Map.of(RegistryApi.PATH, evaluator.registryApi())));
    }

    Map<String, Object> kafka() {
        return kafka;
    }

    /** The HTTP ingest API and its bearer token (random per pipeline). */
    URI ingestApiUrl() {
        return ingestApi.url();
    }

    String ingestToken() {
        return ingestToken;
    }

    List<TrainerService> trainers() {
        return trainers;
    }

    /** Service name → its status port (/metrics, /healthz). */
    Map<String, Integer> statusPorts() {
        return status.entrySet().stream()
                .collect(Collectors.toMap(Map.Entry::getKey, e -> e.getValue().port()));
    }

    /**
     * Waits until every document published so far went through curation, every curated document is in
     * a committed round of every trainer, and every checkpoint was judged: all groups' committed
     * offsets at the read_committed end of their topics.
     */
    void awaitSettled(Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        int settledChecks = 0;
        while (settledChecks < 2) {
            if (System.nanoTime() > deadline)
                throw new IllegalStateException("pipeline did not settle within " + timeout + ": " + lag());
            for (TrainerService t : trainers) {
                if (!t.health().ok())
                    throw new IllegalStateException("trainer " + t.config().lineage() + " failed: "
                            + t.health().detail());
            }
            if (!evaluator.health().ok())
                throw new IllegalStateException(
                        "evaluator failed: " + evaluator.health().detail());
            settledChecks = lag().isEmpty() ? settledChecks + 1 : 0;
            Thread.sleep(500);
        }
    }

    /** Group → partitions whose committed offset is behind the end; empty when everything is settled. */
    Map<String, Map<TopicPartition, Long>> lag() throws Exception {
        Map<String, Map<TopicPartition, Long>> out = new HashMap<>();
        groupLag("ipt-curation", List.of(Topics.RAW.name()), out);
        for (TrainerService t : trainers)
            groupLag("ipt-trainer-" + t.config().lineage(), List.of(Topics.CURATED.name()), out);
        groupLag("ipt-evaluator", List.of(Topics.CHECKPOINTS.name()), out);
        return out;
    }

    private void groupLag(String group, List<String> topics, Map<String, Map<TopicPartition, Long>> out)
            throws Exception {
        Map<TopicPartition, Long> behind = GroupLag.behind(admin, kafka, group, topics);
        if (!behind.isEmpty()) out.put(group, behind);
    }

    @Override
    public void close() throws Exception {
        evaluator.close();
        for (TrainerService t : trainers) t.close();
        ingestApi.close();
        curation.close();
        status.values().forEach(StatusServer::close);
        admin.close();
    }
}
