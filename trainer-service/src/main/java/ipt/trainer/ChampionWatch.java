package ipt.trainer;

import ipt.schemas.Topics;
import ipt.schemas.Decision;
import ipt.schemas.EvaluationReport;
import ipt.schemas.Promotion;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
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
 * Follows the evaluator's decisions for one lineage on its own thread: the current champion (from
 * {@code ipt.promotions}) and the candidates rejected since the last promotion (from {@code ipt.evaluations}).
 */
final class ChampionWatch implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ChampionWatch.class);
  private static final Duration RETRY = Duration.ofSeconds(5);

  /** The champion, if any, and the versions of the candidates rejected after the last promotion, oldest first. */
  record State(Promotion champion, List<Long> rejectedSince) {}

  private final String lineage;
  private final KafkaConsumer<String, byte[]> consumer;
  private final Thread thread;
  private volatile boolean running = true;
  private volatile State state = new State(null, List.of());

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

  /** Reads both topics from the beginning, then follows them; a broker outage only delays it. */
  private void run() {
    Promotion champion = null;
    List<Long> rejected = new ArrayList<>();
    try {
      while (running) {
        try {
          if (consumer.assignment().isEmpty()) assignFromBeginning();
          for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofSeconds(1))) {
            if (!lineage.equals(r.key()) || r.value() == null) continue;
            try {
              if (Topics.PROMOTIONS.holds(r)) {
                champion = Topics.PROMOTIONS.value(r);
              } else {
                EvaluationReport report = Topics.EVALUATIONS.value(r);
                if (report.getDecision() == Decision.PROMOTE) rejected.clear();
                else rejected.add(report.getCandidateVersion());
              }
            } catch (SerializationException e) {
              log.warn("{}: skipping undecodable {} record at offset {}: {}", lineage, r.topic(), r.offset(), e.getMessage());
            }
          }
          state = new State(champion, List.copyOf(rejected));
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
    for (String topic : List.of(Topics.PROMOTIONS.name(), Topics.EVALUATIONS.name())) {
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
