package ipt.trainer;

import io.prometheus.metrics.model.registry.PrometheusRegistry;
import ipt.model.Checkpoint;
import ipt.model.CheckpointException;
import ipt.model.CheckpointStore;
import ipt.model.LanguageModel;
import ipt.runtime.KafkaSettings;
import ipt.runtime.ServiceProcess;
import ipt.runtime.StatusServer;
import ipt.runtime.StatusServer.Health;
import ipt.runtime.TopicReader;
import ipt.runtime.Topics;
import ipt.schemas.AvroSerde;
import ipt.schemas.CheckpointPublished;
import ipt.schemas.Document;
import ipt.schemas.PartitionOffset;
import ipt.schemas.Promotion;
import ipt.trainer.TrainerConfig.Forgetting;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.CountDownLatch;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
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
 * Consumes curated documents and trains one lineage in rounds. A round's checkpoint is published in
 * the same Kafka transaction that commits the offsets of the documents it trained on, so every
 * curated document is trained on as new data exactly once, across crashes: on start the trainer
 * resumes from the last checkpoint whose transaction committed and rolls the replay store back to it.
 */
public final class TrainerService implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(TrainerService.class);
  static final String TAIL_FILE = "packer-tail.bin";
  static final String DOCUMENTS_FILE = "documents.txt";
  static final String STATE_FILE = "trainer-state.properties";
  /** Runs of one round under the divergence guard: each divergence down-weights, then skips, one batch. */
  private static final int MAX_ATTEMPTS = 5;
  private static final Duration RETRY_BACKOFF = Duration.ofSeconds(5);

  /** What the trainer has committed so far, for health and for whoever watches it. */
  public record Status(long version, long step, long documentsCommitted, long pendingDocuments, long replaySequences) {}

  private final Map<String, Object> kafka;
  private final TrainerConfig config;
  private final TrainerMetrics metrics;
  private final AvroSerde<Document> documents = AvroSerde.of(Document.class);
  private final AvroSerde<CheckpointPublished> checkpoints = AvroSerde.of(CheckpointPublished.class);
  private final Thread thread;
  private final CountDownLatch stopped = new CountDownLatch(1);
  private volatile boolean running = true;
  private volatile Health health = Health.ok("starting");
  private volatile Status status = new Status(0, 0, 0, 0, 0);
  private volatile KafkaConsumer<String, byte[]> consumer;

  // Owned by the training thread.
  private LanguageModel model;
  private CheckpointPublished last;
  private Packer packer;
  private ReplayStore replay;
  private LineageState lineageState;
  private ChampionWatch championWatch;
  private long anchoredTo = -1;
  private boolean lastWaitTimedOut;
  private long newestAtTimeout;
  private final CheckpointStore store;
  private final Map<TopicPartition, OffsetAndMetadata> pendingOffsets = new HashMap<>();
  private final List<String> pendingIds = new ArrayList<>();
  private long documentsCommitted;
  private long lastRecordAt = System.nanoTime();

  private TrainerService(Map<String, Object> kafka, TrainerConfig config, PrometheusRegistry registry) {
    this.kafka = kafka;
    this.config = config;
    this.metrics = new TrainerMetrics(registry);
    metrics.lineage(config.lineage());
    // The lineage's local directory doubles as the cache of what the store fetches: its own checkpoints are there.
    this.store = CheckpointStore.of(config.checkpointStore(), config.checkpointRoot().getParent(), System.getenv());
    this.thread = new Thread(this::run, "trainer-" + config.lineage());
  }

  public static TrainerService start(Map<String, Object> kafka, TrainerConfig config, PrometheusRegistry registry) {
    TrainerService service = new TrainerService(kafka, config, registry);
    service.thread.start();
    return service;
  }

  public Health health() {
    return health;
  }

  public Status status() {
    return status;
  }

  public TrainerConfig config() {
    return config;
  }

  /**
   * Runs sessions until closed. A session that fails (broker unreachable, fenced, a round that would
   * not commit) is abandoned whole; the next one recovers from Kafka and disk, as a restarted process would.
   */
  private void run() {
    championWatch = ChampionWatch.start(kafka, config.lineage());
    try {
      while (running) {
        try {
          session();
        } catch (WakeupException e) {
          if (running) health = Health.failing("woken up unexpectedly");
        } catch (Exception e) {
          if (!running) break;
          log.error("trainer {} failed; recovering from the last committed checkpoint", config.lineage(), e);
          health = Health.failing(e.toString());
          metrics.round(config.lineage(), "failed", 0);
          Thread.sleep(RETRY_BACKOFF.toMillis());
        } finally {
          if (model != null) model.close();
          model = null;
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      try {
        championWatch.close();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      stopped.countDown();
    }
  }

  private void session() throws Exception {
    pendingOffsets.clear();
    pendingIds.clear();
    try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(producerProps());
        KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(consumerProps())) {
      this.consumer = consumer;
      if (!running) return;
      // Fences an older instance of this lineage and aborts its open transaction before we read.
      producer.initTransactions();
      recover();
      consumer.subscribe(List.of(Topics.CURATED));
      health = Health.ok("training " + config.lineage());
      while (running) {
        ConsumerRecords<String, byte[]> records = consumer.poll(Duration.ofMillis(200));
        int needed = config.rounds().stepsPerRound() * newPerBatch();
        if (absorb(consumer, records, needed)) {
          train(producer, consumer, needed);
        } else if (!pendingIds.isEmpty() && System.nanoTime() - lastRecordAt >= config.rounds().idleFlush().toNanos()) {
          // The stream went quiet: train what fills whole sequences; the rest rides in the tail.
          train(producer, consumer, packer.fullSequences());
        }
        publishStatus();
        metrics.consumerLag(config.lineage(), lag(consumer));
      }
    } finally {
      if (replay != null) replay.close();
      replay = null;
    }
  }

  private int newPerBatch() {
    return config.newPerBatch(replay.size() > 0, lineageState.replayFraction());
  }

  /** Reads the lineage's last committed checkpoint and restores model, packer tail and replay store to it. */
  private void recover() throws Exception {
    last = lastCommittedCheckpoint().orElse(null);
    long version = last == null ? 0 : last.getVersion();
    replay = ReplayStore.open(config.replayDir(), version, config.replay().capacityBytes(), config.train().seed());
    List<String> orphans = new ArrayList<>(OrphanCheckpoints.remove(config.checkpointRoot(), version));
    orphans.addAll(store.removeAfter(config.lineage(), version));
    if (!orphans.isEmpty()) {
      log.warn("{}: removed checkpoint directories no committed round points to: {}", config.lineage(), orphans);
      metrics.orphansRemoved(config.lineage(), orphans.size());
    }
    anchoredTo = -1;
    if (last == null) {
      model = prepared(startingModel());
      packer = new Packer(config.sequenceLength(), model.tokenizer().eos());
      lineageState = LineageState.initial(config.replay().fraction());
      log.info("{}: starting {}, {} {} parameters at step {}, tokenizer {}", config.lineage(),
          config.start().from() == null ? "fresh" : "from " + config.start().from(), model.parameterCount(), model.architecture(),
          model.step(), model.tokenizer());
    } else {
      Checkpoint checkpoint = store.open(last.getLocation());
      model = prepared(LanguageModel.load(checkpoint, config.train()));
      packer = Packer.fromTail(config.sequenceLength(), model.tokenizer().eos(), checkpoint.file(TAIL_FILE));
      lineageState = LineageState.parse(checkpoint.file(STATE_FILE));
      log.info("{}: resumed from checkpoint v{} at step {} (replay {}%)", config.lineage(), version, model.step(),
          Math.round(lineageState.replayFraction() * 100));
    }
  }

  /** A new lineage's first weights (TrainerConfig.Start), in the context length the packer cuts sequences for. */
  private LanguageModel startingModel() throws IOException, CheckpointException {
    Path from = config.start().from();
    LanguageModel m = from == null ? LanguageModel.create(config.model(), config.train())
        : Files.isDirectory(from) ? LanguageModel.load(Checkpoint.open(from), config.train())
        : LanguageModel.fromTorchScript(from, config.start().tokenizer(), config.model(), config.train());
    if (m.config().contextLength() != config.model().contextLength()) {
      m.close();
      throw new IllegalStateException(from + " has context length " + m.config().contextLength() + ", the lineage is configured for "
          + config.model().contextLength() + " (IPT_CONTEXT_LENGTH)");
    }
    return m;
  }

  /** Applies the lineage's freezing to a model just created or loaded. */
  private LanguageModel prepared(LanguageModel m) {
    Forgetting f = config.forgetting();
    if (f.freezeEmbeddings() || f.frozenBlocks() > 0) m.freeze(f.freezeEmbeddings(), f.frozenBlocks());
    return m;
  }

  /**
   * Before a round: answers a run of settled rejections as the lineage's recovery says ({@link Recovery}), and keeps
   * the L2 pull anchored to the current champion.
   */
  private void followChampion() throws CheckpointException, InterruptedException {
    Recovery recovery = Recovery.decide(config, lineageState);
    if (recovery.action() == Recovery.Action.DECLINE) {
      log.info("{}: {} consecutive candidates rejected ({}), none worse than champion v{} overall: keeping the working weights",
          config.lineage(), recovery.rejected().size(), recovery.rejected(), recovery.champion());
      lineageState = recovery.applied(lineageState, config);
    } else if (recovery.action() != Recovery.Action.NONE) {
      Promotion champion = awaitPromotion(recovery.champion());
      if (champion != null) {
        LineageState next = recovery.applied(lineageState, config);
        log.warn("{}: {} consecutive candidates rejected ({}); {} champion v{}, replay {}% -> {}%", config.lineage(), recovery.rejected().size(),
            recovery.rejected(), recovery.action() == Recovery.Action.RESET ? "resetting the working weights to" : "interpolating toward",
            champion.getVersion(), Math.round(lineageState.replayFraction() * 100), Math.round(next.replayFraction() * 100));
        model = recovery.apply(model, prepared(LanguageModel.load(store.open(champion.getLocation()), config.train())), config);
        anchoredTo = -1;
        lineageState = next;
        metrics.reset(config.lineage());
      }
    }
    Promotion champion = championWatch.state().champion();
    Forgetting f = config.forgetting();
    if (champion != null && f.l2Pull() > 0 && anchoredTo != champion.getVersion()) {
      pullTowards(model, champion);
      anchoredTo = champion.getVersion();
      log.info("{}: L2 pull (strength {}) toward champion v{}", config.lineage(), f.l2Pull(), champion.getVersion());
    }
  }

  /** The promotion of a champion a settled report named; it commits with the report, but may be read a moment later. */
  private Promotion awaitPromotion(long version) throws InterruptedException {
    long deadline = System.nanoTime() + config.steering().evaluationWait().toNanos();
    Promotion p;
    while ((p = championWatch.promotion(version)) == null && System.nanoTime() < deadline) Thread.sleep(20);
    if (p == null) log.warn("{}: promotion of champion v{} not read within {}; not recovering this round", config.lineage(), version,
        config.steering().evaluationWait());
    return p;
  }

  /**
   * After round {@code version} trained, before its checkpoint: folds in the evaluator's reports on versions up to
   * {@code version - 1} (waiting for that one a bounded time), and sets the next round's replay fraction from them.
   */
  private void settle(long version) throws InterruptedException {
    long through = version - 1;
    long from = lineageState.evidence().evaluatedThrough();
    int timedOut = lineageState.timedOutWaits();
    if (through > from) {
      boolean waitAgain = !lastWaitTimedOut || championWatch.newestEvaluated() > newestAtTimeout;
      boolean settled = championWatch.newestEvaluated() >= through
          || (waitAgain && championWatch.awaitEvaluated(through, config.steering().evaluationWait()));
      if (!settled) {
        timedOut++;
        newestAtTimeout = championWatch.newestEvaluated();
        log.warn("{}: no report on v{} within {}; round v{} goes on with the reports through v{}", config.lineage(), through,
            config.steering().evaluationWait(), version + 1, newestAtTimeout);
      }
      lastWaitTimedOut = !settled;
    }
    lineageState = lineageState.settled(championWatch.evaluated(from, through), timedOut, config, replay.domains());
  }

  /** The replay mixture of the next round under the {@code STEERED} policy, else null (the policy's own draw). */
  private SortedMap<String, Double> shares() {
    if (config.replay().policy() != TrainerConfig.Replay.Policy.STEERED || replay.size() == 0) return null;
    return ReplayMixture.shares(replay.domains(), lineageState.evidence(), config.steering().floor());
  }

  /** The lineage's newest committed checkpoint; also counts the documents all its checkpoints committed. */
  private Optional<CheckpointPublished> lastCommittedCheckpoint() {
    CheckpointPublished latest = null;
    long documentsSeen = 0;
    for (ConsumerRecord<String, byte[]> r : TopicReader.readAll(kafka, Topics.CHECKPOINTS)) {
      if (!config.lineage().equals(r.key())) continue;
      CheckpointPublished c = checkpoints.decode(r.value());
      if (latest == null || c.getVersion() > latest.getVersion()) latest = c;
      documentsSeen += c.getDocuments();
    }
    documentsCommitted = documentsSeen;
    return Optional.ofNullable(latest);
  }

  /**
   * Adds records to the packer until it holds {@code needed} full sequences; the records after that
   * point are handed back to the consumer (seek) so they open the next round.
   */
  private boolean absorb(KafkaConsumer<String, byte[]> consumer, ConsumerRecords<String, byte[]> records, int needed) {
    boolean full = packer.fullSequences() >= needed;
    for (TopicPartition tp : records.partitions()) {
      for (ConsumerRecord<String, byte[]> r : records.records(tp)) {
        if (full) {
          consumer.seek(tp, r.offset());
          break;
        }
        lastRecordAt = System.nanoTime();
        pendingOffsets.put(tp, new OffsetAndMetadata(r.offset() + 1));
        if (r.value() == null) continue;
        try {
          Document doc = documents.decode(r.value());
          packer.add(doc.getDomain(), model.tokenizer().encode(doc.getText()));
          pendingIds.add(doc.getId());
          metrics.consumed(config.lineage(), doc.getDomain());
        } catch (SerializationException e) {
          // Curation only writes valid documents; anything else on the topic is skipped, not fatal.
          log.warn("{}: skipping undecodable record {}-{}@{}: {}", config.lineage(), tp.topic(), tp.partition(), r.offset(), e.getMessage());
        }
        full = packer.fullSequences() >= needed;
      }
    }
    return full;
  }

  private void train(KafkaProducer<String, byte[]> producer, KafkaConsumer<String, byte[]> consumer, int sequences) throws Exception {
    long started = System.nanoTime();
    long version = (last == null ? 0 : last.getVersion()) + 1;
    followChampion();
    int newPerBatch = newPerBatch();
    SortedMap<String, Double> shares = shares();
    lineageState = lineageState.with(lineageState.replayFraction(), shares == null ? new TreeMap<>() : shares);
    List<Packer.Sequence> fresh = packer.take(sequences);
    TrainingRound.Outcome outcome = TrainingRound.runGuarded(model, this::restoreLast, config, fresh, newPerBatch, replay, shares,
        LanguageModel::train, metrics, MAX_ATTEMPTS);
    model = outcome.model();
    outcome.guardEvents().forEach(e -> log.warn("{}: round v{} diverged ({}); restored v{} and retried", config.lineage(), version, e, version - 1));
    TrainingRound.Result result = outcome.result();
    double trainLoss = result.steps() == 0 && last != null ? last.getTrainLoss() : result.trainLoss();
    metrics.roundLosses(config.lineage(), result.losses());
    replay.add(version, fresh);
    replay.snapshot(version);
    settle(version);
    // If anything from here on fails, the session ends; the next one learns from the checkpoints topic
    // whether this transaction committed, and drops the replay entries and directory if it did not.
    long writeStarted = System.nanoTime();
    Checkpoint checkpoint = writeCheckpoint(version, fresh.size(), trainLoss);
    metrics.checkpointWritten(config.lineage(), (System.nanoTime() - writeStarted) / 1e9, sizeOf(checkpoint.dir()));
    CheckpointPublished event = event(checkpoint, store.keep(checkpoint), version, trainLoss);
    producer.beginTransaction();
    producer.send(new ProducerRecord<>(Topics.CHECKPOINTS, config.lineage(), checkpoints.encode(event)));
    producer.sendOffsetsToTransaction(Map.copyOf(pendingOffsets), consumer.groupMetadata());
    producer.commitTransaction();
    last = event;
    documentsCommitted += pendingIds.size();
    log.info("{}: round v{} committed: {} steps, {} documents, {} new sequences, train loss {}",
        config.lineage(), version, result.steps(), pendingIds.size(), fresh.size(), String.format("%.3f", trainLoss));
    pendingOffsets.clear();
    pendingIds.clear();
    replay.dropSnapshotsBefore(version);
    metrics.round(config.lineage(), "committed", (System.nanoTime() - started) / 1e9);
  }

  /** The last committed weights, frozen and pulled as before, for the divergence guard's retry. */
  private LanguageModel restoreLast() throws IOException, CheckpointException {
    LanguageModel restored = prepared(last == null ? startingModel()
        : LanguageModel.load(store.open(last.getLocation()), config.train()));
    Promotion champion = championWatch.state().champion();
    if (config.forgetting().l2Pull() > 0 && champion != null && anchoredTo == champion.getVersion()) pullTowards(restored, champion);
    return restored;
  }

  /** Anchors {@code m}'s L2 pull to the champion's weights. */
  private void pullTowards(LanguageModel m, Promotion champion) throws CheckpointException {
    try (LanguageModel anchor = LanguageModel.load(store.open(champion.getLocation()), config.train())) {
      m.pullTowards(anchor, config.forgetting().l2Pull());
    }
  }

  private Checkpoint writeCheckpoint(long version, int sequences, double trainLoss) throws IOException {
    Path dir = config.checkpointRoot().resolve(String.format("v%06d", version));
    Files.createDirectories(config.checkpointRoot());
    long tokensSeen = (last == null ? 0 : last.getTokensSeen()) + (long) sequences * config.sequenceLength();
    Map<String, Long> offsets = new LinkedHashMap<>();
    pendingOffsets.forEach((tp, o) -> offsets.put(tp.topic() + "-" + tp.partition(), o.offset()));
    Checkpoint.Manifest manifest = new Checkpoint.Manifest(1, config.lineage(), version, last == null ? null : last.getVersion(),
        model.config(), model.architecture(), model.step(), tokensSeen, offsets, trainLoss, System.currentTimeMillis(), Map.of());
    Map<String, byte[]> extra = Map.of(
        TAIL_FILE, packer.tailBytes(),
        STATE_FILE, lineageState.bytes(),
        DOCUMENTS_FILE, (String.join("\n", pendingIds) + "\n").getBytes(StandardCharsets.UTF_8));
    return Checkpoint.write(config.checkpointRoot(), dir.getFileName().toString(), manifest, model, extra);
  }

  private CheckpointPublished event(Checkpoint checkpoint, String location, long version, double trainLoss) {
    Checkpoint.Manifest m = checkpoint.manifest();
    List<PartitionOffset> offsets = new ArrayList<>();
    pendingOffsets.forEach((tp, o) -> offsets.add(new PartitionOffset(tp.topic(), tp.partition(), o.offset())));
    return CheckpointPublished.newBuilder()
        .setLineage(config.lineage())
        .setVersion(version)
        .setParentVersion(last == null ? null : last.getVersion())
        .setLocation(location)
        .setSha256(checkpoint.sha256())
        .setStep(m.step())
        .setTokensSeen(m.tokensSeen())
        .setDocuments(pendingIds.size())
        .setOffsets(offsets)
        .setTrainLoss(trainLoss)
        .setCreatedAt(Instant.ofEpochMilli(m.createdAtMillis()))
        .build();
  }

  /** Records on the assigned partitions past the consumer's position, as far as the consumer knows. */
  private static long lag(KafkaConsumer<String, byte[]> consumer) {
    long lag = 0;
    for (TopicPartition tp : consumer.assignment()) lag += consumer.currentLag(tp).orElse(0);
    return lag;
  }

  private static long sizeOf(Path dir) throws IOException {
    try (var files = Files.walk(dir)) {
      return files.filter(Files::isRegularFile).mapToLong(f -> f.toFile().length()).sum();
    }
  }

  private void publishStatus() {
    long version = last == null ? 0 : last.getVersion();
    status = new Status(version, model.step(), documentsCommitted, pendingIds.size(), replay.size());
    metrics.state(config.lineage(), replay.size(), packer.tokens(), version);
    metrics.replay(config.lineage(), replay.reservoirs());
  }

  private Map<String, Object> producerProps() {
    Map<String, Object> props = new HashMap<>(kafka);
    props.put("key.serializer", StringSerializer.class);
    props.put("value.serializer", ByteArraySerializer.class);
    props.put("transactional.id", config.groupId());
    props.put("enable.idempotence", "true");
    props.put("acks", "all");
    return props;
  }

  private Map<String, Object> consumerProps() {
    Map<String, Object> props = new HashMap<>(kafka);
    props.put("key.deserializer", StringDeserializer.class);
    props.put("value.deserializer", ByteArrayDeserializer.class);
    props.put("group.id", config.groupId());
    // Static membership: a restarted trainer takes its partitions back at once instead of waiting out the session.
    props.put("group.instance.id", config.groupId());
    props.put("isolation.level", "read_committed");
    props.put("enable.auto.commit", "false");
    props.put("auto.offset.reset", "earliest");
    // A round does not poll; give it room before the group considers the trainer dead.
    props.put("max.poll.interval.ms", String.valueOf(Duration.ofMinutes(30).toMillis()));
    return props;
  }

  @Override
  public void close() throws InterruptedException {
    running = false;
    KafkaConsumer<String, byte[]> c = consumer;
    if (c != null) {
      try {
        c.wakeup();
      } catch (IllegalStateException closedAlready) {
        // Between sessions: the loop sees running == false.
      }
    }
    stopped.await();
  }

  /** Runs one trainer against the Kafka cluster named by KAFKA_BOOTSTRAP_SERVERS (see README). */
  public static void main(String[] args) throws Exception {
    Map<String, String> env = System.getenv();
    PrometheusRegistry registry = new PrometheusRegistry();
    TrainerService service = start(KafkaSettings.fromEnv(env), TrainerConfig.fromEnv(env), registry);
    ServiceProcess.runUntilShutdown("trainer", env, registry, service::health, service::close);
  }
}
