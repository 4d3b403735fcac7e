package ipt.evaluator;

import ipt.runtime.TopicReader;
import ipt.schemas.Topics;
import ipt.schemas.Decision;
import ipt.schemas.EvaluationReport;
import ipt.schemas.Promotion;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.errors.WakeupException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The champion of every lineage (ipt.promotions) and its whole decision history (ipt.evaluations), as committed
 * on Kafka: read once to the end for the CLI, or followed on a thread for the HTTP API.
 */
public final class ModelRegistry implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ModelRegistry.class);

  private final Map<String, Promotion> champions = new TreeMap<>();
  private final Map<String, List<EvaluationReport>> history = new TreeMap<>();
  private final Map<String, Object> kafka;
  private final Thread follower;
  private volatile KafkaConsumer<String, byte[]> consumer;
  private volatile boolean running = true;

  private ModelRegistry(Map<String, Object> kafka, boolean follow) {
    this.kafka = Map.copyOf(kafka);
    follower = follow ? new Thread(this::follow, "model-registry") : null;
  }

  /** A reader of both topics from their beginnings; state read so far is dropped, as it is read again. */
  private KafkaConsumer<String, byte[]> connect() {
    KafkaConsumer<String, byte[]> c = TopicReader.open(kafka);
    try {
      TopicReader.fromBeginning(c, Topics.PROMOTIONS.name(), Topics.EVALUATIONS.name());
    } catch (RuntimeException e) {
      c.close();
      throw e;
    }
    synchronized (this) {
      champions.clear();
      history.clear();
    }
    return c;
  }

  /** Both topics read to their current end. */
  public static ModelRegistry read(Map<String, Object> kafka) {
    ModelRegistry registry = new ModelRegistry(kafka, false);
    TopicReader.readAll(kafka, Topics.PROMOTIONS.name(), Topics.EVALUATIONS.name()).forEach(registry::take);
    return registry;
  }

  /** Follows both topics on a thread until closed; a lost connection is made again and the topics read anew. */
  public static ModelRegistry follow(Map<String, Object> kafka) {
    ModelRegistry registry = new ModelRegistry(kafka, true);
    registry.follower.setDaemon(true);
    registry.follower.start();
    return registry;
  }

  private void follow() {
    while (running) {
      try (KafkaConsumer<String, byte[]> c = connect()) {
        consumer = c;
        while (running) c.poll(Duration.ofMillis(500)).forEach(this::take);
      } catch (WakeupException e) {
        if (running) log.warn("registry follower woken up; reconnecting");
      } catch (RuntimeException e) {
        if (!running) return;
        log.warn("registry follower lost Kafka ({}); reconnecting in 5 s", e.toString());
        try {
          for (int i = 0; i < 20 && running; i++) Thread.sleep(250);
        } catch (InterruptedException interrupted) {
          return;
        }
      } finally {
        consumer = null;
      }
    }
  }

  private synchronized void take(ConsumerRecord<String, byte[]> r) {
    if (r.value() == null) return;
    try {
      if (Topics.PROMOTIONS.holds(r)) {
        Promotion p = Topics.PROMOTIONS.value(r);
        champions.put(p.getLineage(), p);
      } else {
        EvaluationReport report = Topics.EVALUATIONS.value(r);
        history.computeIfAbsent(report.getLineage(), k -> new ArrayList<>()).add(report);
      }
    } catch (SerializationException e) {
      log.warn("skipping undecodable record {}-{}@{}: {}", r.topic(), r.partition(), r.offset(), e.getMessage());
    }
  }

  public synchronized List<String> lineages() {
    TreeSet<String> names = new TreeSet<>(champions.keySet());
    names.addAll(history.keySet());
    return new ArrayList<>(names);
  }

  public synchronized Optional<Promotion> champion(String lineage) {
    return Optional.ofNullable(champions.get(lineage));
  }

  /** Every decision on the lineage, oldest first: the gate's, and manual promotions. */
  public synchronized List<EvaluationReport> history(String lineage) {
    return List.copyOf(history.getOrDefault(lineage, List.of()));
  }

  /** Every decision about one version of the lineage, oldest first. */
  public synchronized List<EvaluationReport> reports(String lineage, long version) {
    return history.getOrDefault(lineage, List.of()).stream().filter(r -> r.getCandidateVersion() == version).collect(Collectors.toList());
  }

  public synchronized long count(String lineage, Decision decision) {
    return history.getOrDefault(lineage, List.of()).stream().filter(r -> r.getDecision() == decision).count();
  }

  @Override
  public void close() {
    running = false;
    if (follower == null) return;
    KafkaConsumer<String, byte[]> c = consumer;
    if (c != null) c.wakeup(); // not an interrupt: a consumer closing on an interrupted thread fails to close cleanly
    try {
      follower.join(10_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
