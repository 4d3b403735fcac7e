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
 * Follows the evaluator's decisions for one lineage on its own thread: every promotion (from {@code ipt.promotions})
 * and every report on the lineage's candidates (from {@code ipt.evaluations}); the lineage's rounds read them as
 * settled {@link Lineage.Reports}.
 */
final class ChampionWatch implements Lineage.Reports, AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ChampionWatch.class);
  private static final Duration RETRY = Duration.ofSeconds(5);

  private final String lineage;
  private final KafkaConsumer<String, byte[]> consumer;
  private final AvroSerde<Promotion> promotions = AvroSerde.of(Promotion.class);
  private final AvroSerde<EvaluationReport> reports = AvroSerde.of(EvaluationReport.class);
  private final Thread thread;
  private volatile boolean running = true;
  /** Every report on the lineage's candidates (the first one per version) and every promotion, by version. */
  private final ConcurrentSkipListMap<Long, EvaluationReport> evaluated = new ConcurrentSkipListMap<>();
  private final Map<Long, Promotion> promoted = new ConcurrentHashMap<>();
  // Owned by the trainer's thread, which alone settles.
  private boolean lastWaitTimedOut;
  private long newestAtTimeout;

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

  /**
   * The evaluator judges a lineage's checkpoints in version order, so once a report on {@code through} or a later
   * version is in, every report up to {@code through} is. After a wait that ran out, the next one waits only if a
   * report arrived meanwhile: a trainer with no evaluator beside it is not held up round after round.
   */
  @Override
  public Lineage.Settled settle(long after, long through, Duration wait) throws InterruptedException {
    if (after >= through) return new Lineage.Settled(List.of(), false);
    boolean waitAgain = !lastWaitTimedOut || newestEvaluated() > newestAtTimeout;
    long deadline = System.nanoTime() + (waitAgain ? wait.toNanos() : 0);
    synchronized (evaluated) {
      while (newestEvaluated() < through) {
        long left = deadline - System.nanoTime();
        if (left <= 0) break;
        evaluated.wait(Math.max(1, left / 1_000_000));
      }
    }
    lastWaitTimedOut = newestEvaluated() < through;
    if (lastWaitTimedOut) newestAtTimeout = newestEvaluated();
    return new Lineage.Settled(List.copyOf(evaluated.subMap(after, false, through, true).values()), lastWaitTimedOut);
  }

  @Override
  public String location(long version, Duration wait) throws InterruptedException {
    long deadline = System.nanoTime() + wait.toNanos();
    Promotion p;
    while ((p = promoted.get(version)) == null && System.nanoTime() < deadline) Thread.sleep(20);
    return p == null ? null : p.getLocation();
  }

  private long newestEvaluated() {
    return evaluated.isEmpty() ? 0 : evaluated.lastKey();
  }

  /** Reads both topics from the beginning, then follows them; a broker outage only delays it. */
  private void run() {
    try {
      while (running) {
        try {
          if (consumer.assignment().isEmpty()) assignFromBeginning();
          for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofSeconds(1))) {
            if (!lineage.equals(r.key()) || r.value() == null) continue;
            try {
              if (r.topic().equals(Topics.PROMOTIONS)) {
                Promotion p = promotions.decode(r.value());
                promoted.putIfAbsent(p.getVersion(), p);
              } else {
                EvaluationReport report = reports.decode(r.value());
                evaluated.putIfAbsent(report.getCandidateVersion(), report);
              }
            } catch (SerializationException e) {
              log.warn("{}: skipping undecodable {} record at offset {}: {}", lineage, r.topic(), r.offset(), e.getMessage());
            }
          }
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
