package ipt.evaluator;

import com.sun.net.httpserver.HttpHandler;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import ipt.model.CheckpointStore;
import ipt.model.LanguageModel;
import ipt.model.TrainConfig;
import ipt.runtime.KafkaSettings;
import ipt.runtime.ServiceProcess;
import ipt.runtime.StatusServer.Health;
import ipt.runtime.TopicReader;
import ipt.runtime.Topics;
import ipt.schemas.AvroSerde;
import ipt.schemas.CheckpointPublished;
import ipt.schemas.Decision;
import ipt.schemas.Document;
import ipt.schemas.EvaluationReport;
import ipt.schemas.Promotion;
import ipt.schemas.RuleResult;
import ipt.schemas.TaskForgetting;
import ipt.schemas.TaskResult;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.stream.Collectors;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.errors.WakeupException;
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
 * promotions included; a champion is scored once per task and its scores cached.
 */
public final class EvaluatorService implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(EvaluatorService.class);
  static final String GROUP = "ipt-evaluator";
  private static final Duration RETRY_BACKOFF = Duration.ofSeconds(5);

  private final Map<String, Object> kafka;
  private final EvaluatorConfig config;
  private final EvaluatorMetrics metrics;
  private final PromotionGate gate;
  private final List<Task> suites;
  private final CheckpointStore store;
  private final ModelRegistry registry;
  private final AvroSerde<Document> documents = AvroSerde.of(Document.class);
  private final AvroSerde<CheckpointPublished> checkpoints = AvroSerde.of(CheckpointPublished.class);
  private final AvroSerde<EvaluationReport> reports = AvroSerde.of(EvaluationReport.class);
  private final AvroSerde<Promotion> promotions = AvroSerde.of(Promotion.class);
  private final Thread thread;
  private final CountDownLatch stopped = new CountDownLatch(1);
  private volatile boolean running = true;
  private volatile Health health = Health.ok("starting");
  private volatile KafkaConsumer<String, byte[]> checkpointConsumer;

  /** The current champion of a lineage, its model loaded (a lineage whose champion cannot be loaded has none). */
  private record Champion(Promotion promotion, LanguageModel model) {}

  // Per session: rebuilt from Kafka and the snapshot directory whenever a session starts over.
  private final Map<String, Champion> champions = new HashMap<>();
  private final Map<String, TaskScores.Score> championScores = new HashMap<>();
  private HeldOutSnapshots snapshots;
  private ForgettingLedger ledger;

  private EvaluatorService(Map<String, Object> kafka, EvaluatorConfig config, PrometheusRegistry registry) throws IOException {
    this.kafka = kafka;
    this.config = config;
    this.metrics = new EvaluatorMetrics(registry);
    this.gate = new PromotionGate(config.gate());
    this.suites = UserSuites.load(config.suites());
    this.store = config.store(System.getenv());
    this.registry = ModelRegistry.follow(kafka);
    this.thread = new Thread(this::run, "evaluator");
  }

  /** Starts evaluating; a malformed suite or rules file is refused here with an {@link IllegalArgumentException}. */
  public static EvaluatorService start(Map<String, Object> kafka, EvaluatorConfig config, PrometheusRegistry registry) throws IOException {
    EvaluatorService service = new EvaluatorService(kafka, config, registry);
    service.thread.start();
    return service;
  }

  public Health health() {
    return health;
  }

  /** The registry's read-only HTTP API, to mount at {@link RegistryApi#PATH}. */
  public HttpHandler registryApi() {
    return new RegistryApi(registry);
  }

  /** Runs sessions until closed; a failed session is abandoned whole and the next one starts over from Kafka. */
  private void run() {
    try {
      while (running) {
        try {
          session();
        } catch (WakeupException e) {
          if (running) health = Health.failing("woken up unexpectedly");
        } catch (Exception e) {
          if (!running) break;
          log.error("evaluator failed; starting over from the committed offsets", e);
          health = Health.failing(e.toString());
          Thread.sleep(RETRY_BACKOFF.toMillis());
        } finally {
          champions.values().forEach(c -> c.model().close());
          champions.clear();
          championScores.clear();
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      stopped.countDown();
    }
  }

  private void session() throws Exception {
    try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(producerProps());
        KafkaConsumer<String, byte[]> heldOutReader = TopicReader.open(kafka);
        KafkaConsumer<String, byte[]> decisionReader = TopicReader.open(kafka);
        KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(consumerProps(), new StringDeserializer(), new ByteArrayDeserializer())) {
      checkpointConsumer = consumer;
      if (!running) return;
      producer.initTransactions();
      snapshots = HeldOutSnapshots.open(config.snapshots(), config.heldOutTokensPerDomain(), config.heldOutMinDocuments());
      ledger = new ForgettingLedger();
      List<TopicPartition> heldOutPartitions = TopicReader.fromBeginning(heldOutReader, Topics.HELDOUT);
      List<TopicPartition> decisionPartitions = TopicReader.fromBeginning(decisionReader, Topics.PROMOTIONS, Topics.EVALUATIONS);
      followDecisions(decisionReader, decisionPartitions);
      for (String lineage : ledger.lineages()) metrics.stall(lineage, ledger.stall(lineage).rejected());
      consumer.subscribe(List.of(Topics.CHECKPOINTS));
      health = Health.ok("evaluating");
      while (running) {
        var records = consumer.poll(Duration.ofMillis(200));
        if (records.isEmpty()) continue;
        // Held-out documents committed before the checkpoint, and decisions made meanwhile (a manual promotion), count.
        catchUpHeldOut(heldOutReader, heldOutPartitions);
        followDecisions(decisionReader, decisionPartitions);
        for (ConsumerRecord<String, byte[]> r : records) {
          evaluate(producer, consumer, r);
        }
      }
    }
  }

  private void evaluate(KafkaProducer<String, byte[]> producer, KafkaConsumer<String, byte[]> consumer, ConsumerRecord<String, byte[]> record) {
    long started = System.nanoTime();
    CheckpointPublished candidate;
    try {
      candidate = checkpoints.decode(record.value());
    } catch (SerializationException e) {
      log.warn("skipping undecodable checkpoint event at offset {}: {}", record.offset(), e.getMessage());
      commitOffsetOnly(producer, consumer, record);
      return;
    }
    String lineage = candidate.getLineage();
    Champion champion = champions.get(lineage);
    HeldOutSnapshots.Snapshot snapshot = snapshots.current();
    List<Task> tasks = new ArrayList<>(snapshot.tasks());
    tasks.addAll(suites);
    Map<String, TaskScores.Score> scores = new HashMap<>();
    List<PromotionGate.Measure> measures = new ArrayList<>();
    LanguageModel model = null;
    PromotionGate.Verdict verdict;
    List<String> heldOut = snapshot.tasks().stream().map(Task::name).toList();
    PromotionGate.History history = PromotionGate.History.of(candidate.getDomainTokens(), heldOut, ledger.best(lineage));
    CheckpointAccess access = CheckpointAccess.open(store, candidate.getLocation(), candidate.getSha256());
    try {
      if (access.refusal() != null) throw new Refused(access.refusal());
      model = LanguageModel.load(access.checkpoint(), TrainConfig.defaults());
      String nonFinite = model.nonFiniteParameter().orElse(null);
      if (nonFinite != null) throw new Refused("non-finite weights in " + nonFinite);
      for (Task task : tasks) {
        TaskScores.Score own;
        try {
          own = TaskScores.score(model, task);
        } catch (IllegalArgumentException e) {
          throw new Refused("unscorable:" + task.name(), e.getMessage());
        }
        scores.put(task.name(), own);
        TaskScores.Score theirs = champion == null ? null : championScore(lineage, champion, task);
        for (Map.Entry<String, Double> metric : own.metrics().entrySet()) {
          PromotionGate.Measure m = new PromotionGate.Measure(task.name(), metric.getKey(), metric.getValue(),
              theirs == null ? null : theirs.metrics().get(metric.getKey()), own.count());
          measures.add(m);
          metrics.measured(lineage, m);
        }
      }
      history = withChampion(history, measures);
      verdict = gate.decide(lineage, measures, champion != null, snapshot.newestTask(), history);
    } catch (Refused e) {
      verdict = new PromotionGate.Verdict(false, e.rule, e.getMessage(), List.of(new PromotionGate.Outcome(e.rule, false, e.getMessage())));
    } catch (java.io.UncheckedIOException | IllegalArgumentException e) {
      // Files that passed their checksums but do not load as a model (a manifest that lies about the shape).
      verdict = new PromotionGate.Verdict(false, "integrity", e.getMessage(), List.of(new PromotionGate.Outcome("integrity", false, e.getMessage())));
    }

    EvaluationReport report = report(candidate, champion, snapshot.version(), measures, verdict, history);
    ledger.record(report);
    Stall stall = ledger.stall(lineage);
    Long served = verdict.promote() ? Long.valueOf(candidate.getVersion()) : champion == null ? null : champion.promotion().getVersion();
    report.setNext(NextStep.of(verdict, candidate, served, stall, config.stallAfter(), regressed(measures, history)));
    LanguageModel scale = model != null ? model : champion == null ? null : champion.model();
    ForgettingLedger.Summary transfer = ledger.summary(lineage, scale == null ? Double.NaN : Math.log(scale.config().vocabSize()));
    report.setForgetting(transfer.forgetting().entrySet().stream().map(e -> new TaskForgetting(e.getKey(), e.getValue())).collect(Collectors.toList()));
    report.setBackwardTransfer(transfer.backwardTransfer());
    report.setForwardTransfer(transfer.forwardTransfer() == null || !Double.isFinite(transfer.forwardTransfer()) ? null : transfer.forwardTransfer());
    Promotion promotion = verdict.promote() ? promotion(candidate, champion, verdict) : null;
    producer.beginTransaction();
    producer.send(new ProducerRecord<>(Topics.EVALUATIONS, lineage, reports.encode(report)));
    if (promotion != null) producer.send(new ProducerRecord<>(Topics.PROMOTIONS, lineage, promotions.encode(promotion)));
    producer.sendOffsetsToTransaction(next(record), consumer.groupMetadata());
    producer.commitTransaction();

    if (promotion != null) {
      replaceChampion(lineage, new Champion(promotion, model));
      scores.forEach((task, score) -> championScores.put(scoreKey(lineage, promotion.getVersion(), task), score));
    } else if (model != null) {
      model.close();
    }
    metrics.transfer(lineage, transfer);
    Champion now = champions.get(lineage);
    metrics.decided(lineage, verdict.promote(), verdict.rule(), now == null ? 0 : now.promotion().getVersion(), (System.nanoTime() - started) / 1e9);
    metrics.stall(lineage, stall.rejected());
    log.info("{} v{}: {} ({}) {}; next: {}", lineage, candidate.getVersion(), verdict.promote() ? "PROMOTE" : "REJECT", verdict.rule(), verdict.reason(),
        report.getNext());
  }

  /** A candidate that cannot be judged: the rule that says so (integrity, unscorable:task), and why. */
  private static final class Refused extends Exception {
    final String rule;

    Refused(String why) {
      this("integrity", why);
    }

    Refused(String rule, String why) {
      super(why);
      this.rule = rule;
    }
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
    if (previous != null && previous.model() != next.model()) previous.model().close();
  }

  /** The lineage's best losses, with the current champion's own counted (a task may be new since it was promoted). */
  private static PromotionGate.History withChampion(PromotionGate.History history, List<PromotionGate.Measure> measures) {
    Map<String, Double> best = new HashMap<>(history.best());
    for (PromotionGate.Measure m : measures) {
      if (m.metric().equals(TaskScores.LOSS) && m.champion() != null && Double.isFinite(m.champion())) best.merge(m.task(), m.champion(), Math::min);
    }
    return new PromotionGate.History(history.weights(), best);
  }

  /** Learned loss tasks the candidate is worse on than the champion, worst first, for the report's next step. */
  private static List<String> regressed(List<PromotionGate.Measure> measures, PromotionGate.History history) {
    return measures.stream()
        .filter(m -> m.metric().equals(TaskScores.LOSS) && history.learned(m.task()) && m.champion() != null && m.relativeChange() > 0)
        .sorted(java.util.Comparator.comparingDouble(m -> -m.relativeChange()))
        .map(m -> String.format(java.util.Locale.ROOT, "%s %+.1f%%", m.task(), 100 * m.relativeChange())).toList();
  }

  private EvaluationReport report(CheckpointPublished candidate, Champion champion, long snapshotVersion, List<PromotionGate.Measure> measures,
      PromotionGate.Verdict verdict, PromotionGate.History history) {
    List<TaskResult> tasks = measures.stream().map(m -> TaskResult.newBuilder()
        .setTask(m.task())
        .setMetric(m.metric())
        .setCandidate(m.candidate())
        .setChampion(m.champion())
        .setRelativeChange(m.relativeChange())
        .setBudget(gate.budget(m, history))
        .setBest(m.metric().equals(TaskScores.LOSS) ? history.best().get(m.task()) : null)
        .setWeight(m.metric().equals(TaskScores.LOSS) ? history.weights().get(m.task()) : null)
        .setSequences(m.count())
        .setPassed(PromotionGate.passed(verdict, m))
        .setHigherIsBetter(m.higherIsBetter())
        .build()).collect(Collectors.toList());
    return EvaluationReport.newBuilder()
        .setLineage(candidate.getLineage())
        .setCandidateVersion(candidate.getVersion())
        .setChampionVersion(champion == null ? null : champion.promotion().getVersion())
        .setCandidateStep(candidate.getStep())
        .setTasks(tasks)
        .setDecision(verdict.promote() ? Decision.PROMOTE : Decision.REJECT)
        .setDecidingRule(verdict.rule())
        .setReason(verdict.reason())
        .setEvaluatedAt(Instant.now())
        .setSnapshotVersion(snapshotVersion)
        .setRules(verdict.outcomes().stream().map(o -> new RuleResult(o.rule(), o.passed(), o.detail())).collect(Collectors.toList()))
        .setForgetting(List.of())
        .setPolicy(gate.policy().name())
        .build();
  }

  private static Promotion promotion(CheckpointPublished candidate, Champion champion, PromotionGate.Verdict verdict) {
    return Promotion.newBuilder()
        .setLineage(candidate.getLineage())
        .setVersion(candidate.getVersion())
        .setPreviousVersion(champion == null ? null : champion.promotion().getVersion())
        .setLocation(candidate.getLocation())
        .setSha256(candidate.getSha256())
        .setDecidingRule(verdict.rule())
        .setPromotedAt(Instant.now())
        .build();
  }

  private void commitOffsetOnly(KafkaProducer<String, byte[]> producer, KafkaConsumer<String, byte[]> consumer, ConsumerRecord<String, byte[]> record) {
    producer.beginTransaction();
    producer.sendOffsetsToTransaction(next(record), consumer.groupMetadata());
    producer.commitTransaction();
  }

  private static Map<TopicPartition, OffsetAndMetadata> next(ConsumerRecord<?, ?> record) {
    return Map.of(new TopicPartition(record.topic(), record.partition()), new OffsetAndMetadata(record.offset() + 1));
  }

  /**
   * Reads new decisions: every report into the forgetting ledger; a champion pointer that differs from the loaded
   * champion (at start, or after a manual promotion) loads that checkpoint.
   */
  private void followDecisions(KafkaConsumer<String, byte[]> reader, List<TopicPartition> partitions) {
    Map<String, Promotion> latest = new HashMap<>();
    for (ConsumerRecord<String, byte[]> r : TopicReader.readToEnd(reader, partitions)) {
      try {
        if (r.topic().equals(Topics.PROMOTIONS)) {
          Promotion p = promotions.decode(r.value());
          latest.put(p.getLineage(), p);
        } else {
          ledger.record(reports.decode(r.value()));
        }
      } catch (SerializationException e) {
        log.warn("skipping undecodable record {}@{}: {}", r.topic(), r.offset(), e.getMessage());
      }
    }
    for (Promotion p : latest.values()) {
      Champion current = champions.get(p.getLineage());
      if (current != null && current.promotion().getVersion() == p.getVersion()) continue;
      CheckpointAccess access = CheckpointAccess.open(store, p.getLocation(), p.getSha256());
      try {
        if (access.refusal() != null) throw new Refused(access.refusal());
        replaceChampion(p.getLineage(), new Champion(p, LanguageModel.load(access.checkpoint(), TrainConfig.defaults())));
        log.info("champion of {} is v{} ({})", p.getLineage(), p.getVersion(), p.getDecidingRule());
      } catch (Refused | java.io.UncheckedIOException e) {
        // Without a readable champion the next candidate is judged as the lineage's first.
        log.error("champion {} v{} cannot be loaded: {}", p.getLineage(), p.getVersion(), e.getMessage());
        Champion gone = champions.remove(p.getLineage());
        if (gone != null) gone.model().close();
      }
    }
  }

  private void catchUpHeldOut(KafkaConsumer<String, byte[]> reader, List<TopicPartition> partitions) throws IOException {
    for (ConsumerRecord<String, byte[]> r : TopicReader.readToEnd(reader, partitions)) {
      try {
        Document doc = documents.decode(r.value());
        if (snapshots.add(doc.getDomain(), doc.getText())) {
          log.info("held-out snapshot v{}: {} became a task", snapshots.current().version(), doc.getDomain());
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

  @Override
  public void close() throws InterruptedException {
    running = false;
    KafkaConsumer<String, byte[]> c = checkpointConsumer;
    if (c != null) {
      try {
        c.wakeup();
      } catch (IllegalStateException closedAlready) {
        // Between sessions: the loop sees running == false.
      }
    }
    stopped.await();
    registry.close();
  }

  /** Runs the evaluator against the Kafka cluster named by KAFKA_BOOTSTRAP_SERVERS (see README). */
  public static void main(String[] args) throws Exception {
    Map<String, String> env = System.getenv();
    PrometheusRegistry registry = new PrometheusRegistry();
    EvaluatorService service = start(KafkaSettings.fromEnv(env), EvaluatorConfig.fromEnv(env), registry);
    ServiceProcess.runUntilShutdown("evaluator", env, registry, service::health, service::close, Map.of(RegistryApi.PATH, service.registryApi()));
  }
}
