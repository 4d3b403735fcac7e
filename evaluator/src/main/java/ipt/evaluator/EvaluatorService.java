package ipt.evaluator;

import io.prometheus.metrics.model.registry.PrometheusRegistry;
import ipt.model.Checkpoint;
import ipt.model.CheckpointException;
import ipt.model.LanguageModel;
import ipt.model.TrainConfig;
import ipt.runtime.KafkaSettings;
import ipt.runtime.ServiceProcess;
import ipt.runtime.StatusServer;
import ipt.runtime.StatusServer.Health;
import ipt.runtime.Topics;
import ipt.schemas.AvroSerde;
import ipt.schemas.CheckpointPublished;
import ipt.schemas.Decision;
import ipt.schemas.Document;
import ipt.schemas.EvaluationReport;
import ipt.schemas.Promotion;
import ipt.schemas.TaskResult;
import java.nio.file.Path;
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
 * Judges every committed checkpoint against its lineage's champion on the held-out set of every
 * domain. The report, the promotion (if any) and the checkpoint's consumer offset go out in one
 * Kafka transaction, so each checkpoint is judged exactly once.
 */
public final class EvaluatorService implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(EvaluatorService.class);
  static final String GROUP = "ipt-evaluator";
  private static final Duration RETRY_BACKOFF = Duration.ofSeconds(5);

  private final Map<String, Object> kafka;
  private final EvaluatorConfig config;
  private final EvaluatorMetrics metrics;
  private final PromotionGate gate;
  private HeldOutSet heldOut;
  private final AvroSerde<Document> documents = AvroSerde.of(Document.class);
  private final AvroSerde<CheckpointPublished> checkpoints = AvroSerde.of(CheckpointPublished.class);
  private final AvroSerde<EvaluationReport> reports = AvroSerde.of(EvaluationReport.class);
  private final AvroSerde<Promotion> promotions = AvroSerde.of(Promotion.class);
  private final Thread thread;
  private final CountDownLatch stopped = new CountDownLatch(1);
  private volatile boolean running = true;
  private volatile Health health = Health.ok("starting");
  private volatile KafkaConsumer<String, byte[]> checkpointConsumer;

  /** The current champion of each lineage, its model kept loaded. */
  private record Champion(Promotion promotion, LanguageModel model) {}

  private final Map<String, Champion> champions = new HashMap<>();

  private EvaluatorService(Map<String, Object> kafka, EvaluatorConfig config, PrometheusRegistry registry) {
    this.kafka = kafka;
    this.config = config;
    this.metrics = new EvaluatorMetrics(registry);
    this.gate = new PromotionGate(config.regressionBudget());
    this.thread = new Thread(this::run, "evaluator");
  }

  public static EvaluatorService start(Map<String, Object> kafka, EvaluatorConfig config, PrometheusRegistry registry) {
    EvaluatorService service = new EvaluatorService(kafka, config, registry);
    service.thread.start();
    return service;
  }

  public Health health() {
    return health;
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
        KafkaConsumer<String, byte[]> heldOutReader = new KafkaConsumer<>(readerProps(), new StringDeserializer(), new ByteArrayDeserializer());
        KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(consumerProps(), new StringDeserializer(), new ByteArrayDeserializer())) {
      checkpointConsumer = consumer;
      if (!running) return;
      producer.initTransactions();
      heldOut = new HeldOutSet(config.heldOutTokensPerDomain());
      loadChampions();
      List<TopicPartition> heldOutPartitions = partitions(heldOutReader, Topics.HELDOUT);
      heldOutReader.assign(heldOutPartitions);
      heldOutReader.seekToBeginning(heldOutPartitions);
      consumer.subscribe(List.of(Topics.CHECKPOINTS));
      health = Health.ok("evaluating");
      while (running) {
        var records = consumer.poll(Duration.ofMillis(200));
        if (records.isEmpty()) continue;
        // Held-out documents committed before the checkpoint are part of its evaluation.
        catchUp(heldOutReader, heldOutPartitions);
        for (ConsumerRecord<String, byte[]> r : records) {
          evaluate(producer, consumer, r);
        }
      }
    }
  }

  private void evaluate(KafkaProducer<String, byte[]> producer, KafkaConsumer<String, byte[]> consumer, ConsumerRecord<String, byte[]> record)
      throws Exception {
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
    LanguageModel model = null;
    List<PromotionGate.Measure> measures = new ArrayList<>();
    PromotionGate.Verdict verdict;
    try {
      Checkpoint checkpoint = Checkpoint.open(Path.of(candidate.getLocation()));
      if (!checkpoint.sha256().equals(candidate.getSha256())) {
        verdict = new PromotionGate.Verdict(false, "integrity",
            "manifest sha256 " + checkpoint.sha256() + " differs from the published " + candidate.getSha256());
      } else {
        model = LanguageModel.load(checkpoint, TrainConfig.defaults());
        for (String domain : heldOut.domains()) {
          List<int[]> sequences = heldOut.sequences(domain, model.config().contextLength() + 1, model.tokenizer());
          double candidateLoss = model.loss(sequences);
          Double championLoss = champion == null ? null : champion.model().loss(sequences);
          measures.add(new PromotionGate.Measure("heldout/" + domain, candidateLoss, championLoss, sequences.size()));
          metrics.measured(lineage, domain, candidateLoss, championLoss);
        }
        verdict = gate.decide(measures, champion != null);
      }
    } catch (CheckpointException e) {
      verdict = new PromotionGate.Verdict(false, "integrity", e.getMessage());
    }

    EvaluationReport report = report(candidate, champion, measures, verdict);
    Promotion promotion = verdict.promote() ? promotion(candidate, champion, verdict) : null;
    producer.beginTransaction();
    producer.send(new ProducerRecord<>(Topics.EVALUATIONS, lineage, reports.encode(report)));
    if (promotion != null) producer.send(new ProducerRecord<>(Topics.PROMOTIONS, lineage, promotions.encode(promotion)));
    producer.sendOffsetsToTransaction(next(record), consumer.groupMetadata());
    producer.commitTransaction();

    if (promotion != null) {
      if (champion != null) champion.model().close();
      champions.put(lineage, new Champion(promotion, model));
    } else if (model != null) {
      model.close();
    }
    Champion now = champions.get(lineage);
    metrics.decided(lineage, verdict.promote(), verdict.rule(), now == null ? 0 : now.promotion().getVersion(), (System.nanoTime() - started) / 1e9);
    log.info("{} v{}: {} ({}) {}", lineage, candidate.getVersion(), verdict.promote() ? "PROMOTE" : "REJECT", verdict.rule(), verdict.reason());
  }

  private EvaluationReport report(CheckpointPublished candidate, Champion champion, List<PromotionGate.Measure> measures, PromotionGate.Verdict verdict) {
    List<TaskResult> tasks = measures.stream().map(m -> TaskResult.newBuilder()
        .setTask(m.task())
        .setMetric("loss")
        .setCandidate(m.candidate())
        .setChampion(m.champion())
        .setRelativeChange(m.relativeChange())
        .setBudget(gate.budget())
        .setSequences(m.sequences())
        .setPassed(gate.passes(m))
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

  /** The champion of every lineage, from the compacted promotions topic; their models are loaded. */
  private void loadChampions() {
    try (KafkaConsumer<String, byte[]> reader = new KafkaConsumer<>(readerProps(), new StringDeserializer(), new ByteArrayDeserializer())) {
      List<TopicPartition> partitions = partitions(reader, Topics.PROMOTIONS);
      reader.assign(partitions);
      reader.seekToBeginning(partitions);
      Map<String, Promotion> latest = new HashMap<>();
      for (ConsumerRecord<String, byte[]> r : readToEnd(reader, partitions)) {
        Promotion p = promotions.decode(r.value());
        latest.put(p.getLineage(), p);
      }
      for (Promotion p : latest.values()) {
        try {
          champions.put(p.getLineage(), new Champion(p, LanguageModel.load(Checkpoint.open(Path.of(p.getLocation())), TrainConfig.defaults())));
          log.info("champion of {} is v{}", p.getLineage(), p.getVersion());
        } catch (CheckpointException e) {
          // Without a readable champion the next candidate is judged as the lineage's first.
          log.error("champion {} v{} cannot be loaded: {}", p.getLineage(), p.getVersion(), e.getMessage());
        }
      }
    }
  }

  private void catchUp(KafkaConsumer<String, byte[]> reader, List<TopicPartition> partitions) {
    for (ConsumerRecord<String, byte[]> r : readToEnd(reader, partitions)) {
      try {
        Document doc = documents.decode(r.value());
        heldOut.add(doc.getDomain(), doc.getText());
      } catch (SerializationException e) {
        log.warn("skipping undecodable held-out record at offset {}: {}", r.offset(), e.getMessage());
      }
    }
  }

  private static List<ConsumerRecord<String, byte[]>> readToEnd(KafkaConsumer<String, byte[]> reader, List<TopicPartition> partitions) {
    Map<TopicPartition, Long> end = reader.endOffsets(partitions);
    List<ConsumerRecord<String, byte[]>> out = new ArrayList<>();
    while (partitions.stream().anyMatch(p -> reader.position(p) < end.get(p))) {
      reader.poll(Duration.ofMillis(200)).forEach(out::add);
    }
    return out;
  }

  private static List<TopicPartition> partitions(KafkaConsumer<?, ?> consumer, String topic) {
    return consumer.partitionsFor(topic).stream().map(p -> new TopicPartition(topic, p.partition())).collect(Collectors.toList());
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

  private Map<String, Object> readerProps() {
    Map<String, Object> props = new HashMap<>(kafka);
    props.put("isolation.level", "read_committed");
    props.put("enable.auto.commit", "false");
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
  }

  /** Runs the evaluator against the Kafka cluster named by KAFKA_BOOTSTRAP_SERVERS (see README). */
  public static void main(String[] args) throws Exception {
    Map<String, String> env = System.getenv();
    PrometheusRegistry registry = new PrometheusRegistry();
    EvaluatorService service = start(KafkaSettings.fromEnv(env), EvaluatorConfig.fromEnv(env), registry);
    ServiceProcess.runUntilShutdown("evaluator", env, registry, service::health, service::close);
  }
}
