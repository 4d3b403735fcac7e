package ipt.trainer;

import io.prometheus.metrics.model.registry.PrometheusRegistry;
import ipt.checkpoints.Checkpoint;
import ipt.checkpoints.CheckpointStore;
import ipt.model.ComputeDevice;
import ipt.runtime.DecisionFollower;
import ipt.runtime.KafkaSettings;
import ipt.runtime.ServiceLoop;
import ipt.runtime.ServiceProcess;
import ipt.runtime.Settings;
import ipt.runtime.StatusServer.Health;
import ipt.runtime.TopicReader;
import ipt.schemas.CheckpointPublished;
import ipt.schemas.Document;
import ipt.schemas.PartitionOffset;
import ipt.schemas.Topics;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
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
 * Consumes curated documents and trains one lineage in rounds. A round's checkpoint is published in
 * the same Kafka transaction that commits the offsets of the documents it trained on, so every
 * curated document is trained on as new data exactly once, across crashes: on start the trainer
 * resumes from the last checkpoint whose transaction committed and rolls the replay store back to it.
 */
public final class TrainerService implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(TrainerService.class);
    private static final Duration RETRY_BACKOFF = Duration.ofSeconds(5);
    /**
     * Records a partition may hold in the merge before fetching from it pauses: several default rounds' worth, and
     * a bound on the heap when one partition runs far ahead of another that holds the merge back.
     */
    private static final int MAX_HELD_PER_PARTITION = 2_000;

    /** What the trainer has committed so far, for health and for whoever watches it. */
    public record Status(
            long version, long step, long documentsCommitted, long pendingDocuments, long replaySequences) {}

    private final Map<String, Object> kafka;
    private final TrainerConfig config;
    private final TrainerMetrics metrics;
    private final ServiceLoop loop;
    private final ChampionWatch championWatch;
    private final DecisionFollower decisions;
    private volatile Status status = new Status(0, 0, 0, 0, 0);

    // Owned by the training thread.
    private Lineage lineage;
    private CheckpointPublished last;
    private final CheckpointStore store;
    private final Map<TopicPartition, OffsetAndMetadata> pendingOffsets = new HashMap<>();
    private final ArrivalTally pendingArrivals = new ArrivalTally();
    private long documentsCommitted;
    private long lastRecordAt = System.nanoTime();

    private TrainerService(Map<String, Object> kafka, TrainerConfig config, PrometheusRegistry registry) {
        this.kafka = kafka;
        this.config = config;
        this.metrics = new TrainerMetrics(registry);
        metrics.lineage(config.lineage());
        // The lineage's local directory doubles as the cache of what the store fetches: its own checkpoints are there.
        this.store = CheckpointStore.of(
                config.checkpointStore(), config.checkpointRoot().getParent(), Settings.environment());
        this.championWatch = new ChampionWatch(config.lineage());
        this.decisions = DecisionFollower.start(kafka, "champion-watch-" + config.lineage(), championWatch);
        this.loop = new ServiceLoop(
                "trainer-" + config.lineage(),
                this::session,
                e -> metrics.round(config.lineage(), "failed", 0),
                () -> {},
                RETRY_BACKOFF);
    }

    public static TrainerService start(Map<String, Object> kafka, TrainerConfig config, PrometheusRegistry registry) {
        TrainerService service = new TrainerService(kafka, config, registry);
        service.loop.start();
        return service;
    }

    public Health health() {
        return loop.health();
    }

    public Status status() {
        return status;
    }

    public TrainerConfig config() {
        return config;
    }

    private void session() throws Exception {
        pendingOffsets.clear();
        pendingArrivals.clear();
        PartitionMerge<String, byte[]> merge =
                new PartitionMerge<>(config.rounds().partitionWait());
        try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(producerProps());
                KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(consumerProps())) {
            loop.wakeOnClose(consumer);
            if (!loop.running()) return;
            // Fences an older instance of this lineage and aborts its open transaction before we read.
            producer.initTransactions();
            recover();
            Reassignment reassignment = new Reassignment(merge);
            consumer.subscribe(List.of(Topics.CURATED.name()), reassignment);
            loop.health(Health.ok("training " + config.lineage()));
            while (loop.running()) {
                ConsumerRecords<String, byte[]> records = consumer.poll(Duration.ofMillis(200));
                if (reassignment.changed) {
                    // Released but uncommitted records would be fetched again from the committed offsets: start
                    // over from the last checkpoint, as after a crash.
                    log.info(
                            "{}: partitions reassigned; resuming from the last committed checkpoint", config.lineage());
                    return;
                }
                hold(consumer, merge, records);
                int needed = lineage.sequencesPerRound();
                if (absorb(merge, needed)) {
                    train(producer, consumer, needed);
                    merge.resumedPolling();
                } else if (lineage.pendingDocuments() > 0
                        && merge.held() == 0
                        && System.nanoTime() - lastRecordAt
                                >= config.rounds().idleFlush().toNanos()) {
                    // The stream went quiet: train what fills whole sequences; the rest rides in the tail.
                    train(producer, consumer, lineage.fullSequences());
                    merge.resumedPolling();
                }
                publishStatus();
                metrics.consumerLag(config.lineage(), lag(consumer));
            }
        } finally {
            if (lineage != null) lineage.close();
            lineage = null;
        }
    }

    /** Listens for the consumer group's assignments: the first sets up the merge, any later one ends the session. */
    private static final class Reassignment implements ConsumerRebalanceListener {
        private final PartitionMerge<String, byte[]> merge;
        private boolean assigned;
        volatile boolean changed;

        Reassignment(PartitionMerge<String, byte[]> merge) {
            this.merge = merge;
        }

        @Override
        public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
            if (assigned) {
                if (!partitions.isEmpty()) changed = true;
                return;
            }
            assigned = true;
            merge.assign(partitions);
        }

        @Override
        public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
            if (assigned && !partitions.isEmpty()) changed = true;
        }

        @Override
        public void onPartitionsLost(Collection<TopicPartition> partitions) {
            if (assigned) changed = true;
        }
    }

    /**
     * Hands what a poll returned to the merge, tells it which partitions are at their log end, and pauses the
     * partitions that hold many records (resumed once they hold half as many).
     */
    private static void hold(
            KafkaConsumer<String, byte[]> consumer,
            PartitionMerge<String, byte[]> merge,
            ConsumerRecords<String, byte[]> records) {
        for (TopicPartition tp : records.partitions()) merge.add(tp, records.records(tp));
        long now = System.nanoTime();
        List<TopicPartition> pause = new ArrayList<>();
        List<TopicPartition> resume = new ArrayList<>();
        Set<TopicPartition> paused = consumer.paused();
        for (TopicPartition tp : merge.assigned()) {
            merge.observe(tp, consumer.currentLag(tp).orElse(-1) == 0, now);
            int held = merge.held(tp);
            if (held >= MAX_HELD_PER_PARTITION && !paused.contains(tp)) pause.add(tp);
            else if (held < MAX_HELD_PER_PARTITION / 2 && paused.contains(tp)) resume.add(tp);
        }
        if (!pause.isEmpty()) consumer.pause(pause);
        if (!resume.isEmpty()) consumer.resume(resume);
    }

    /**
     * Reads the lineage's committed checkpoints and recovers the lineage to the last; a lost replay store is rebuilt
     * from the curated records those checkpoints committed.
     */
    private void recover() throws Exception {
        List<CheckpointPublished> committed = committedCheckpoints();
        last = committed.stream()
                .max(Comparator.comparingLong(CheckpointPublished::getVersion))
                .orElse(null);
        documentsCommitted =
                committed.stream().mapToLong(CheckpointPublished::getDocuments).sum();
        lineage = Lineage.recover(
                config, store, last == null ? null : last.getLocation(), metrics, new CuratedHistory(kafka, committed));
    }

    /** The lineage's committed checkpoints, as published. */
    private List<CheckpointPublished> committedCheckpoints() {
        List<CheckpointPublished> committed = new ArrayList<>();
        for (ConsumerRecord<String, byte[]> r : TopicReader.readAll(kafka, Topics.CHECKPOINTS.name())) {
            if (config.lineage().equals(r.key())) committed.add(Topics.CHECKPOINTS.value(r));
        }
        return committed;
    }

    /**
     * Adds the records the merge releases to the lineage until it holds {@code needed} full sequences; the rest
     * stay held and open the next round.
     */
    private boolean absorb(PartitionMerge<String, byte[]> merge, int needed) {
        boolean full = lineage.fullSequences() >= needed;
        ConsumerRecord<String, byte[]> r;
        while (!full && (r = merge.next(System.nanoTime())) != null) {
            TopicPartition tp = new TopicPartition(r.topic(), r.partition());
            lastRecordAt = System.nanoTime();
            pendingOffsets.put(tp, new OffsetAndMetadata(r.offset() + 1));
            full = absorb(r, needed);
        }
        return full;
    }

    /** Adds one record's document to the lineage; whether it now holds {@code needed} full sequences. */
    private boolean absorb(ConsumerRecord<String, byte[]> r, int needed) {
        if (r.value() != null) {
            try {
                Document doc = Topics.CURATED.value(r);
                lineage.add(doc.getId(), doc.getDomain(), doc.getText());
                pendingArrivals.add(r.timestamp());
                metrics.consumed(config.lineage(), doc.getDomain());
            } catch (SerializationException e) {
                // Curation only writes valid documents; anything else on the topic is skipped, not fatal.
                log.warn(
                        "{}: skipping undecodable record {}-{}@{}: {}",
                        config.lineage(),
                        r.topic(),
                        r.partition(),
                        r.offset(),
                        e.getMessage());
            }
        }
        return lineage.fullSequences() >= needed;
    }

    /** Trains a round and commits its checkpoint together with the offsets of the documents it absorbed. */
    private void train(KafkaProducer<String, byte[]> producer, KafkaConsumer<String, byte[]> consumer, int sequences)
            throws Exception {
        long started = System.nanoTime();
        Map<String, Long> offsets = new LinkedHashMap<>();
        pendingOffsets.forEach((tp, o) -> offsets.put(tp.topic() + "-" + tp.partition(), o.offset()));
        // If anything from here on fails, the session ends; the next one learns from the checkpoints topic
        // whether this transaction committed, and the recovered lineage drops what the round wrote if it did not.
        Lineage.Round round = lineage.round(sequences, championWatch, offsets, null, () -> !loop.running());
        CheckpointPublished event = event(round);
        producer.beginTransaction();
        producer.send(Topics.CHECKPOINTS.record(config.lineage(), event));
        producer.sendOffsetsToTransaction(Map.copyOf(pendingOffsets), consumer.groupMetadata());
        producer.commitTransaction();
        lineage.committed(round);
        last = event;
        documentsCommitted += round.documents();
        log.info(
                "{}: round v{} committed: {} steps, {} documents, {} new sequences, train loss {}",
                config.lineage(),
                round.version(),
                round.steps(),
                round.documents(),
                round.sequences(),
                String.format("%.3f", round.trainLoss()));
        pendingOffsets.clear();
        pendingArrivals.clear();
        metrics.round(config.lineage(), "committed", (System.nanoTime() - started) / 1e9);
    }

    private CheckpointPublished event(Lineage.Round round) {
        Checkpoint.Manifest m = round.checkpoint().manifest();
        List<PartitionOffset> offsets = new ArrayList<>();
        pendingOffsets.forEach((tp, o) -> offsets.add(new PartitionOffset(tp.topic(), tp.partition(), o.offset())));
        return CheckpointPublished.newBuilder()
                .setLineage(config.lineage())
                .setVersion(round.version())
                .setParentVersion(round.parentVersion())
                .setLocation(round.location())
                .setSha256(round.checkpoint().sha256())
                .setStep(m.step())
                .setTokensSeen(m.tokensSeen())
                .setDocuments(round.documents())
                .setOffsets(offsets)
                .setTrainLoss(round.trainLoss())
                .setCreatedAt(Instant.ofEpochMilli(m.createdAtMillis()))
                .setDomainTokens(lineage.domainTokens())
                .setReplayFraction(lineage.replayFraction())
                .setMaxReplayFraction(adaptiveReplay() ? config.forgetting().maxReplay() : lineage.replayFraction())
                .setPolicy(policy())
                .setArrivals(pendingArrivals.counts())
                .build();
    }

    /** Whether the lineage may raise its replay fraction itself (by measured forgetting, or on a recovery). */
    private boolean adaptiveReplay() {
        return config.steering().gain() > 0
                || (config.forgetting().resetAfterRejections() > 0
                        && config.steering().recovery() != TrainerConfig.Steering.Recovery.NONE);
    }

    /** What this trainer does after rejections, for the evaluator's report (EvaluationReport.next). */
    private String policy() {
        TrainerConfig.Forgetting f = config.forgetting();
        TrainerConfig.Steering st = config.steering();
        String replay = "replay " + Math.round(lineage.replayFraction() * 100) + "%"
                + (config.replay().policy() == TrainerConfig.Replay.Policy.STEERED
                        ? ", drawn most from the domains being forgotten"
                        : "")
                + (st.gain() > 0
                        ? ", following measured forgetting up to " + Math.round(f.maxReplay() * 100) + "%"
                        : "");
        if (f.resetAfterRejections() == 0 || st.recovery() == TrainerConfig.Steering.Recovery.NONE) {
            return "keeps training from its own latest round, " + replay;
        }
        String recovery = switch (st.recovery()) {
            case RESET -> "restarts from the champion's weights";
            case RESET_IF_WORSE -> "restarts from the champion's weights if the newest candidate is worse overall";
            case INTERPOLATE ->
                "moves its weights " + Math.round((1 - st.keep()) * 100) + "% of the way to the champion's";
            case NONE -> throw new IllegalStateException();
        };
        return replay + "; after " + f.resetAfterRejections() + " consecutive rejections " + recovery;
    }

    /** Records on the assigned partitions past the consumer's position, as far as the consumer knows. */
    private static long lag(KafkaConsumer<String, byte[]> consumer) {
        long lag = 0;
        for (TopicPartition tp : consumer.assignment())
            lag += consumer.currentLag(tp).orElse(0);
        return lag;
    }

    private void publishStatus() {
        long version = last == null ? 0 : last.getVersion();
        status = new Status(
                version, lineage.step(), documentsCommitted, lineage.pendingDocuments(), lineage.replaySequences());
        lineage.publishState();
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

    /**
     * Stops training: a round in progress is abandoned before its next step or while it waits for a report (a round
     * whose steps are done still writes and commits its checkpoint). Nothing of an abandoned round was published: its
     * checkpoint and its documents' offsets go out in one transaction, so a restarted trainer trains them again, once.
     */
    @Override
    public void close() throws InterruptedException {
        championWatch.stop();
        loop.close();
        decisions.close();
    }

    /** Runs one trainer against the Kafka cluster named by KAFKA_BOOTSTRAP_SERVERS (see README). */
    public static void main(String[] args) throws Exception {
        Settings.Values settings = TrainerConfig.SETTINGS.parse(Settings.environment());
        ComputeDevice.use(settings.get(Settings.DEVICE)); // before any model: a GPU PyTorch cannot use is refused here
        PrometheusRegistry registry = new PrometheusRegistry();
        TrainerService service = start(KafkaSettings.fromEnv(settings.env()), TrainerConfig.from(settings), registry);
        ServiceProcess.runUntilShutdown("trainer", settings, registry, service::health, service::close);
    }
}
