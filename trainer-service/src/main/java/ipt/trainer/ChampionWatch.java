package ipt.trainer;

import ipt.runtime.Topics;
import ipt.schemas.AvroSerde;
import ipt.schemas.EvaluationReport;
import ipt.schemas.Promotion;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListMap;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Follows the evaluator's decisions for one lineage on its own thread: the current champion and every promotion
 * (from {@code ipt.promotions}) and every report on the lineage's candidates (from {@code ipt.evaluations}), which
 * the trainer folds into its {@link GateEvidence} once they are settled.
 */
final class ChampionWatch implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ChampionWatch.class);
  private static final Duration RETRY = Duration.ofSeconds(5);

  /** The champion, if any. */
  record State(Promotion champion) {}

  private final String lineage;
  private final KafkaConsumer<String, byte[]> consumer;
  private final AvroSerde<Promotion> promotions = AvroSerde.of(Promotion.class);
  private final AvroSerde<EvaluationReport> reports = AvroSerde.of(EvaluationReport.class);
  private final Thread thread;
  private volatile boolean running = true;
  private volatile State state = new State(null);
  /** Every report on the lineage's candidates (the first one per version) and every promotion, by version. */
  private final ConcurrentSkipListMap<Long, GateEvidence.Evaluated> evaluated = new ConcurrentSkipListMap<>();
  private final Map<Long, Promotion> promoted = new ConcurrentHashMap<>();

  private ChampionWatch(Map<String, Object> kafka, String lineage) {
    this.lineage = lineage;
    Map<String, Object> props = new HashMap<>(kafka);
    props.put("isolation.level", "read_committed");
    props.put("enable.auto.commit", "false");
    consumer = new KafkaConsumer<>(props, new StringDeserializer(), new ByteArrayDeserializer());
    thread = new Thread(this::run, "champion-watch-" + lineage);
    thread.setDaemon(true);
  }

  static ChampionWatch start(Map<String, Object> kafka, String lineage) {
    ChampionWatch watch = new ChampionWatch(kafka, lineage);
    watch.thread.start();
    return watch;
  }

  State state() {
    return state;
  }

  /**
   * Waits up to {@code timeout} for a report on version {@code version} or a later one; the evaluator judges a
   * lineage's checkpoints in version order, so every report up to {@code version} is in then. Returns whether it came.
   */
  boolean awaitEvaluated(long version, Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    synchronized (evaluated) {
      while (evaluated.isEmpty() || evaluated.lastKey() < version) {
        long left = deadline - System.nanoTime();
        if (left <= 0) return false;
        evaluated.wait(Math.max(1, left / 1_000_000));
      }
      return true;
    }
  }

  /** The reports on versions in ({@code after}, {@code through}], oldest first. */
  List<GateEvidence.Evaluated> evaluated(long after, long through) {
    return after >= through ? List.of() : List.copyOf(evaluated.subMap(after, false, through, true).values());
  }

  /** The newest version with a report, 0 for none. */
  long newestEvaluated() {
    return evaluated.isEmpty() ? 0 : evaluated.lastKey();
  }

  /** The promotion of {@code version}, if it has been read. */
  Promotion promotion(long version) {
    return promoted.get(version);
  }

  /** Reads both topics from the beginning, then follows them; a broker outage only delays it. */
  private void run() {
    Promotion champion = null;
    try {
      while (running) {
        try {
          if (consumer.assignment().isEmpty()) assignFromBeginning();
          for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofSeconds(1))) {
            if (!lineage.equals(r.key()) || r.value() == null) continue;
            try {
              if (r.topic().equals(Topics.PROMOTIONS)) {
                champion = promotions.decode(r.value());
                promoted.putIfAbsent(champion.getVersion(), champion);
              } else {
                EvaluationReport report = reports.decode(r.value());
                evaluated.putIfAbsent(report.getCandidateVersion(), GateEvidence.Evaluated.of(report));
              }
            } catch (SerializationException e) {
              log.warn("{}: skipping undecodable {} record at offset {}: {}", lineage, r.topic(), r.offset(), e.getMessage());
            }
          }
          state = new State(champion);
          synchronized (evaluated) {
            evaluated.notifyAll();
          }
        } catch (WakeupException e) {
          if (running) throw e;
        } catch (KafkaException e) {
          log.warn("{}: cannot follow promotions yet: {}", lineage, e.toString());
          Thread.sleep(RETRY.toMillis());
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      consumer.close();
    }
  }

  private void assignFromBeginning() {
    List<TopicPartition> partitions = new ArrayList<>();
    for (String topic : List.of(Topics.PROMOTIONS, Topics.EVALUATIONS)) {
      consumer.partitionsFor(topic).forEach(p -> partitions.add(new TopicPartition(topic, p.partition())));
    }
    consumer.assign(partitions);
    consumer.seekToBeginning(partitions);
  }

  @Override
  public void close() throws InterruptedException {
    running = false;
    consumer.wakeup();
    thread.join();
  }
}
