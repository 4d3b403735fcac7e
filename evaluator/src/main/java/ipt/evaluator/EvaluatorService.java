package ipt.evaluator;

import com.sun.net.httpserver.HttpHandler;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import ipt.checkpoints.CheckpointStore;
import ipt.model.ComputeDevice;
import ipt.model.LanguageModel;
import ipt.model.Task;
import ipt.model.UserSuites;
import ipt.runtime.KafkaSettings;
import ipt.runtime.ServiceLoop;
import ipt.runtime.ServiceProcess;
import ipt.runtime.Settings;
import ipt.runtime.StatusServer.Health;
import ipt.runtime.TopicReader;
import ipt.schemas.CheckpointPublished;
import ipt.schemas.Decision;
import ipt.schemas.Document;
import ipt.schemas.EvaluationReport;
import ipt.schemas.Promotion;
import ipt.schemas.RuleResult;
import ipt.schemas.TaskForgetting;
import ipt.schemas.TaskResult;
import ipt.schemas.Topics;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Judges every committed checkpoint against its lineage's champion on every task: the frozen held-out snapshot's
 * domains and the user suites. The report, the promotion (if any) and the checkpoint's consumer offset go out in
 * one Kafka transaction, so each checkpoint is judged exactly once. Champions follow ipt.promotions, manual
 * promotions included; a champion is scored once per task and its scores cached, and served at the checkpoint
 * store's fixed location for its lineage ({@link ServingPublisher}). Each promotion observes the freshness of the
 * documents it serves first ({@link ServedFreshness}).
 */
public final class EvaluatorService implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(EvaluatorService.class);
    static final String GROUP = "ipt-evaluator";
    private static final Duration RETRY_BACKOFF = Duration.ofSeconds(5);
    private static final Duration DECISIONS_WHEN_IDLE = Duration.ofSeconds(2);

    private final Map<String, Object> kafka;
    private final EvaluatorConfig config;
    private final EvaluatorMetrics metrics;
    private final PromotionGate gate;
    private final List<Task> suites;
    private final CheckpointStore store;
    private final ModelRegistry registry;
    private final ServiceLoop loop;
    private final ServingPublisher serving;

    /** The current champion of a lineage, its model loaded (a lineage whose champion cannot be loaded has none). */
    private record Champion(Promotion promotion, LanguageModel model) {}

    // Per session: rebuilt from Kafka and the snapshot directory whenever a session starts over.
    private final Map<String, Champion> champions = new HashMap<>();
    private final Map<String, TaskScores.Score> championScores = new HashMap<>();
    private HeldOutSnapshots snapshots;
    private ForgettingLedger ledger;
    private Retention retention;
    // The committed champion pointer's version per lineage, whether or not its model could be loaded.
    private final Map<String, Long> pointers = new HashMap<>();
    // Per process: what was served is read back from the log by every session; a promotion is observed once, by the
    // process that reads it after its first pass over the log (those before were the previous process's to observe).
    private final ServedFreshness freshness = new ServedFreshness();
    private boolean observingFreshness;

    private EvaluatorService(Map<String, Object> kafka, EvaluatorConfig config, PrometheusRegistry registry)
            throws IOException {
        this.kafka = kafka;
        this.config = config;
        this.metrics = new EvaluatorMetrics(registry);
        this.gate = new PromotionGate(config.gate());
        this.suites = UserSuites.load(config.suites());
        this.store = config.store(Settings.environment());
        this.registry = ModelRegistry.follow(kafka);
        this.serving = new ServingPublisher(store, metrics, RETRY_BACKOFF);
        this.loop = new ServiceLoop("evaluator", this::session, e -> {}, this::forgetChampions, RETRY_BACKOFF);
    }

    /** Starts evaluating; a malformed suite or rules file is refused here with an {@link IllegalArgumentException}. */
    public static EvaluatorService start(Map<String, Object> kafka, EvaluatorConfig config, PrometheusRegistry registry)
            throws IOException {
        EvaluatorService service = new EvaluatorService(kafka, config, registry);
        service.loop.start();
        return service;
    }

    public Health health() {
        return loop.health();
    }

    /** The registry's read-only HTTP API, to mount at {@link RegistryApi#PATH}. */
    public HttpHandler registryApi() {
        return new RegistryApi(registry);
    }

    /** After a session: what it loaded is rebuilt from Kafka by the next one. */
    private void forgetChampions() {
        champions.values().forEach(c -> c.model().close());
        champions.clear();
        championScores.clear();
        pointers.clear();
    }

    private void session() throws Exception {
        try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(producerProps());
                KafkaConsumer<String, byte[]> heldOutReader = TopicReader.open(kafka);
                KafkaConsumer<String, byte[]> decisionReader = TopicReader.open(kafka);
                KafkaConsumer<String, byte[]> consumer =
                        new KafkaConsumer<>(consumerProps(), new StringDeserializer(), new ByteArrayDeserializer());
                Retention retention = new Retention(kafka, store, config.retention(), metrics)) {
            this.retention = retention;
            loop.wakeOnClose(consumer);
            if (!loop.running()) return;
            producer.initTransactions();
            snapshots = HeldOutSnapshots.open(
                    config.snapshots(), config.heldOutTokensPerDomain(), config.heldOutMinDocuments());
            ledger = new ForgettingLedger();
            List<TopicPartition> heldOutPartitions = TopicReader.fromBeginning(heldOutReader, Topics.HELDOUT.name());
            List<TopicPartition> decisionPartitions = TopicReader.fromBeginning(
                    decisionReader, Topics.PROMOTIONS.name(), Topics.EVALUATIONS.name(), Topics.CHECKPOINTS.name());
            followDecisions(decisionReader, decisionPartitions);
            for (String lineage : ledger.lineages())
                metrics.stall(lineage, ledger.stall(lineage).rejected());
            consumer.subscribe(List.of(Topics.CHECKPOINTS.name()));
            loop.health(Health.ok("evaluating"));
            long decisionsRead = System.nanoTime();
            while (loop.running()) {
                serving.publish();
                var records = consumer.poll(Duration.ofMillis(200));
                if (records.isEmpty()) {
                    // A manual promotion is served within seconds, not only once the next candidate arrives.
                    if (System.nanoTime() - decisionsRead > DECISIONS_WHEN_IDLE.toNanos()) {
                        followDecisions(decisionReader, decisionPartitions);
                        decisionsRead = System.nanoTime();
                    }
                    continue;
                }
                // Held-out documents committed before the checkpoint, and decisions made meanwhile (a manual
                // promotion), count.
                catchUpHeldOut(heldOutReader, heldOutPartitions);
                followDecisions(decisionReader, decisionPartitions);
                for (ConsumerRecord<String, byte[]> r : records) {
                    String lineage = evaluate(producer, consumer, r);
                    if (lineage != null) retain(lineage, decisionReader, decisionPartitions);
                }
            }
        }
    }

    /**
     * Retention of the lineage just decided: after the decision committed, so what it deletes was judged; a
     * failure (the store unreachable) is retried after the lineage's next decision.
     */
    private void retain(
            String lineage, KafkaConsumer<String, byte[]> decisionReader, List<TopicPartition> decisionPartitions) {
        try {
            retention.apply(lineage, () -> {
                followDecisions(decisionReader, decisionPartitions);
                return pointers.get(lineage);
            });
        } catch (IOException | java.io.UncheckedIOException e) {
            log.warn("retention of {} failed, retried after its next decision: {}", lineage, e.getMessage());
        }
    }

    /** Judges one published checkpoint; returns its lineage (null: not a checkpoint this version can read). */
    private String evaluate(
            KafkaProducer<String, byte[]> producer,
            KafkaConsumer<String, byte[]> consumer,
            ConsumerRecord<String, byte[]> record)
            throws InterruptedException {
        long started = System.nanoTime();
        CheckpointPublished candidate;
        try {
            candidate = Topics.CHECKPOINTS.value(record);
        } catch (SerializationException e) {
            log.warn("skipping undecodable checkpoint event at offset {}: {}", record.offset(), e.getMessage());
            commitOffsetOnly(producer, consumer, record);
            return null;
        }
        String lineage = candidate.getLineage();
        published(candidate);
        Champion champion = champions.get(lineage);
        HeldOutSnapshots.Snapshot snapshot = snapshots.current();
        List<Task> tasks = new ArrayList<>(snapshot.tasks());
        tasks.addAll(suites);
        List<String> heldOut = snapshot.tasks().stream().map(Task::name).toList();
        PromotionGate.History learned =
                PromotionGate.History.of(candidate.getDomainTokens(), heldOut, ledger.best(lineage));
        log.info("{} v{}: judging on {} tasks", lineage, candidate.getVersion(), tasks.size());
        CheckpointAccess access = CheckpointAccess.open(store, candidate.getLocation(), candidate.getSha256());
        Judgement.Result judged = Judgement.judge(
                lineage,
                access,
                tasks,
                champion == null ? null : task -> championScore(lineage, champion, task),
                gate,
                snapshot.newestTask(),
                learned,
                () -> !loop.running());
        LanguageModel model = judged.model();
        List<PromotionGate.Measure> measures = judged.measures();
        PromotionGate.Verdict verdict = judged.verdict();
        PromotionGate.History history = judged.history();
        measures.forEach(m -> metrics.measured(lineage, m));

        EvaluationReport report = report(candidate, champion, snapshot.version(), measures, verdict, history);
        ledger.record(report);
        retention.record(report);
        Stall stall = ledger.stall(lineage);
        Long served = verdict.promote()
                ? Long.valueOf(candidate.getVersion())
                : champion == null ? null : champion.promotion().getVersion();
        report.setNext(
                NextStep.of(verdict, candidate, served, stall, config.stallAfter(), regressed(measures, history)));
        LanguageModel scale = model != null ? model : champion == null ? null : champion.model();
        double uniformLoss =
                scale == null ? Double.NaN : Math.log(scale.config().vocabSize());
        ForgettingLedger.Summary transfer = ledger.summary(lineage, uniformLoss);
        report.setForgetting(transfer.forgetting().entrySet().stream()
                .map(e -> new TaskForgetting(e.getKey(), e.getValue()))
                .collect(Collectors.toList()));
        report.setBackwardTransfer(transfer.backwardTransfer());
        report.setForwardTransfer(
                transfer.forwardTransfer() == null || !Double.isFinite(transfer.forwardTransfer())
                        ? null
                        : transfer.forwardTransfer());
        Promotion promotion = verdict.promote() ? promotion(candidate, champion, verdict) : null;
        producer.beginTransaction();
        producer.send(Topics.EVALUATIONS.record(lineage, report));
        if (promotion != null) producer.send(Topics.PROMOTIONS.record(lineage, promotion));
        producer.sendOffsetsToTransaction(next(record), consumer.groupMetadata());
        producer.commitTransaction();

        if (promotion != null) {
            promoted(report);
            pointers.put(lineage, promotion.getVersion());
            replaceChampion(lineage, new Champion(promotion, model));
            serving.follow(access.checkpoint());
            judged.scores()
                    .forEach((task, score) ->
                            championScores.put(scoreKey(lineage, promotion.getVersion(), task), score));
        } else if (model != null) {
            model.close();
        }
        metrics.transfer(lineage, transfer, ledger.candidateSummary(lineage, uniformLoss));
        Champion now = champions.get(lineage);
        metrics.decided(
                lineage,
                verdict.promote(),
                verdict.rule(),
                now == null ? 0 : now.promotion().getVersion(),
                (System.nanoTime() - started) / 1e9);
        metrics.stall(lineage, stall.rejected());
        log.info(
                "{} v{}: {} ({}) {}; next: {}",
                lineage,
                candidate.getVersion(),
                verdict.promote() ? "PROMOTE" : "REJECT",
                verdict.rule(),
                verdict.reason(),
                report.getNext());
        return lineage;
    }

    private TaskScores.Score championScore(String lineage, Champion champion, Task task) {
        String key = scoreKey(lineage, champion.promotion().getVersion(), task.name());
        TaskScores.Score cached = championScores.get(key);
        metrics.championScore(cached != null);
        if (cached != null) return cached;
        TaskScores.Score score = TaskScores.score(champion.model(), task);
        championScores.put(key, score);
        return score;
    }

    private static String scoreKey(String lineage, long version, String task) {
        return lineage + "\u0000" + version + "\u0000" + task;
    }

    private void replaceChampion(String lineage, Champion next) {
        Champion previous = champions.put(lineage, next);
        if (previous != null && previous.model() != next.model())
            previous.model().close();
    }

    /** The lineage's best losses, with the current champion's own counted (a task may be new since it was promoted). */
    /** Learned loss tasks the candidate is worse on than the champion, worst first, for the report's next step. */
    private static List<String> regressed(List<PromotionGate.Measure> measures, PromotionGate.History history) {
        return measures.stream()
                .filter(m -> m.metric().equals(TaskScores.LOSS)
                        && history.learned(m.task())
                        && m.champion() != null
                        && m.relativeChange() > 0)
                .sorted(java.util.Comparator.comparingDouble(m -> -m.relativeChange()))
                .map(m -> String.format(java.util.Locale.ROOT, "%s %+.1f%%", m.task(), 100 * m.relativeChange()))
                .toList();
    }

    private EvaluationReport report(
            CheckpointPublished candidate,
            Champion champion,
            long snapshotVersion,
            List<PromotionGate.Measure> measures,
            PromotionGate.Verdict verdict,
            PromotionGate.History history) {
        List<TaskResult> tasks = measures.stream()
                .map(m -> TaskResult.newBuilder()
                        .setTask(m.task())
                        .setMetric(m.metric())
                        .setCandidate(m.candidate())
                        .setChampion(m.champion())
                        .setRelativeChange(m.relativeChange())
                        .setBudget(gate.budget(m, history))
                        .setBest(
                                m.metric().equals(TaskScores.LOSS)
                                        ? history.best().get(m.task())
                                        : null)
                        .setWeight(
                                m.metric().equals(TaskScores.LOSS)
                                        ? history.weights().get(m.task())
                                        : null)
                        .setSequences(m.count())
                        .setPassed(PromotionGate.passed(verdict, m))
                        .setHigherIsBetter(m.higherIsBetter())
                        .build())
                .collect(Collectors.toList());
        return EvaluationReport.newBuilder()
                .setLineage(candidate.getLineage())
                .setCandidateVersion(candidate.getVersion())
                .setChampionVersion(
                        champion == null ? null : champion.promotion().getVersion())
                .setCandidateStep(candidate.getStep())
                .setTasks(tasks)
                .setDecision(verdict.promote() ? Decision.PROMOTE : Decision.REJECT)
                .setDecidingRule(verdict.rule())
                .setReason(verdict.reason())
                .setEvaluatedAt(Instant.now())
                .setSnapshotVersion(snapshotVersion)
                .setRules(verdict.outcomes().stream()
                        .map(o -> new RuleResult(o.rule(), o.passed(), o.detail()))
                        .collect(Collectors.toList()))
                .setForgetting(List.of())
                .setPolicy(gate.policy().name())
                .build();
    }

    private static Promotion promotion(
            CheckpointPublished candidate, Champion champion, PromotionGate.Verdict verdict) {
        return Promotion.newBuilder()
                .setLineage(candidate.getLineage())
                .setVersion(candidate.getVersion())
                .setPreviousVersion(
                        champion == null ? null : champion.promotion().getVersion())
                .setLocation(candidate.getLocation())
                .setSha256(candidate.getSha256())
                .setDecidingRule(verdict.rule())
                .setPromotedAt(Instant.now())
                .build();
    }

    private void commitOffsetOnly(
            KafkaProducer<String, byte[]> producer,
            KafkaConsumer<String, byte[]> consumer,
            ConsumerRecord<String, byte[]> record) {
        producer.beginTransaction();
        producer.sendOffsetsToTransaction(next(record), consumer.groupMetadata());
        producer.commitTransaction();
    }

    private static Map<TopicPartition, OffsetAndMetadata> next(ConsumerRecord<?, ?> record) {
        return Map.of(
                new TopicPartition(record.topic(), record.partition()), new OffsetAndMetadata(record.offset() + 1));
    }

    /**
     * Reads new decisions: every report into the forgetting ledger; a champion pointer that differs from the loaded
     * champion (at start, or after a manual promotion) loads that checkpoint. Checkpoints and promotions (gate or
     * manual) also go to the freshness account.
     */
    private void followDecisions(KafkaConsumer<String, byte[]> reader, List<TopicPartition> partitions) {
        Map<String, Promotion> latest = new HashMap<>();
        List<EvaluationReport> promotedReports = new ArrayList<>();
        for (ConsumerRecord<String, byte[]> r : TopicReader.readToEnd(reader, partitions)) {
            try {
                if (Topics.PROMOTIONS.holds(r)) {
                    Promotion p = Topics.PROMOTIONS.value(r);
                    latest.put(p.getLineage(), p);
                } else if (Topics.CHECKPOINTS.holds(r)) {
                    published(Topics.CHECKPOINTS.value(r));
                } else {
                    EvaluationReport report = Topics.EVALUATIONS.value(r);
                    ledger.record(report);
                    retention.record(report);
                    if (report.getDecision() == Decision.PROMOTE) promotedReports.add(report);
                }
            } catch (SerializationException e) {
                log.warn("skipping undecodable record {}@{}: {}", r.topic(), r.offset(), e.getMessage());
            }
        }
        // After the batch's checkpoints: a promotion's checkpoint may come later in the batch (another partition).
        promotedReports.forEach(this::promoted);
        observingFreshness = true;
        for (Promotion p : latest.values()) {
            pointers.put(p.getLineage(), p.getVersion());
            Champion current = champions.get(p.getLineage());
            if (current != null && current.promotion().getVersion() == p.getVersion()) continue;
            CheckpointAccess access = CheckpointAccess.open(store, p.getLocation(), p.getSha256());
            try {
                if (access.refusal() != null) throw new java.io.IOException(access.refusal());
                replaceChampion(
                        p.getLineage(), new Champion(p, access.checkpoint().model()));
                serving.follow(access.checkpoint());
                log.info("champion of {} is v{} ({})", p.getLineage(), p.getVersion(), p.getDecidingRule());
            } catch (java.io.IOException | java.io.UncheckedIOException e) {
                // Without a readable champion the next candidate is judged as the lineage's first.
                log.error("champion {} v{} cannot be loaded: {}", p.getLineage(), p.getVersion(), e.getMessage());
                Champion gone = champions.remove(p.getLineage());
                if (gone != null) gone.model().close();
            }
        }
    }

    private void published(CheckpointPublished checkpoint) {
        freshness.published(checkpoint.getLineage(), checkpoint.getVersion(), checkpoint.getArrivals());
        metrics.unserved(checkpoint.getLineage(), freshness.oldestUnservedMillis(checkpoint.getLineage()));
    }

    /** A promotion's report (gate or manual): the documents it serves first, observed unless an earlier process did. */
    private void promoted(EvaluationReport report) {
        String lineage = report.getLineage();
        List<ServedFreshness.Served> served = freshness.promoted(
                lineage, report.getCandidateVersion(), report.getEvaluatedAt().toEpochMilli());
        if (observingFreshness) metrics.served(lineage, served);
        metrics.unserved(lineage, freshness.oldestUnservedMillis(lineage));
    }

    private void catchUpHeldOut(KafkaConsumer<String, byte[]> reader, List<TopicPartition> partitions)
            throws IOException {
        for (ConsumerRecord<String, byte[]> r : TopicReader.readToEnd(reader, partitions)) {
            try {
                Document doc = Topics.HELDOUT.value(r);
                if (snapshots.add(doc.getDomain(), doc.getText())) {
                    log.info(
                            "held-out snapshot v{}: {} became a task",
                            snapshots.current().version(),
                            doc.getDomain());
                }
            } catch (SerializationException e) {
                log.warn("skipping undecodable held-out record at offset {}: {}", r.offset(), e.getMessage());
            }
        }
        metrics.snapshot(snapshots.current().version());
    }

    private Map<String, Object> producerProps() {
        Map<String, Object> props = new HashMap<>(kafka);
        props.put("key.serializer", StringSerializer.class);
        props.put("value.serializer", ByteArraySerializer.class);
        props.put("transactional.id", GROUP);
        props.put("acks", "all");
        return props;
    }

    private Map<String, Object> consumerProps() {
        Map<String, Object> props = new HashMap<>(kafka);
        props.put("group.id", GROUP);
        props.put("isolation.level", "read_committed");
        props.put("enable.auto.commit", "false");
        props.put("auto.offset.reset", "earliest");
        props.put("max.poll.records", "1");
        props.put("max.poll.interval.ms", String.valueOf(Duration.ofMinutes(30).toMillis()));
        return props;
    }

    /**
     * Stops evaluating: a decision in progress is abandoned before its next task is scored. Its report, promotion and
     * offset go out in one transaction, none of which began, so a restarted evaluator judges the checkpoint once.
     */
    @Override
    public void close() throws InterruptedException {
        loop.close();
        registry.close();
    }

    /** Runs the evaluator against the Kafka cluster named by KAFKA_BOOTSTRAP_SERVERS (see README). */
    public static void main(String[] args) throws Exception {
        Settings.Values settings = EvaluatorConfig.SETTINGS.parse(Settings.environment());
        ComputeDevice.use(settings.get(Settings.DEVICE)); // before any model: a GPU PyTorch cannot use is refused here
        PrometheusRegistry registry = new PrometheusRegistry();
        EvaluatorService service =
                start(KafkaSettings.fromEnv(settings.env()), EvaluatorConfig.from(settings), registry);
        ServiceProcess.runUntilShutdown(
                "evaluator",
                settings,
                registry,
                service::health,
                service::close,
                Map.of(RegistryApi.PATH, service.registryApi()));
    }
}
