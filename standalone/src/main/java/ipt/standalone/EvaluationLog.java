package ipt.standalone;

import ipt.schemas.Topics;
import ipt.schemas.EvaluationReport;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;

/** Follows ipt.evaluations (read_committed) and keeps every report, in order. */
final class EvaluationLog implements AutoCloseable {
  private final KafkaConsumer<String, byte[]> consumer;
  private final List<EvaluationReport> seen = new ArrayList<>();
  private final Thread thread;
  private volatile boolean running = true;

  EvaluationLog(Map<String, Object> kafka, Consumer<EvaluationReport> onReport) {
    Map<String, Object> props = new HashMap<>(kafka);
    props.put("isolation.level", "read_committed");
    props.put("enable.auto.commit", "false");
    consumer = new KafkaConsumer<>(props, new StringDeserializer(), new ByteArrayDeserializer());
    thread = new Thread(() -> follow(onReport), "evaluation-log");
    thread.start();
  }

  private void follow(Consumer<EvaluationReport> onReport) {
    try {
      var partitions = consumer.partitionsFor(Topics.EVALUATIONS.name()).stream()
          .map(p -> new org.apache.kafka.common.TopicPartition(p.topic(), p.partition())).toList();
      consumer.assign(partitions);
      consumer.seekToBeginning(partitions);
      while (running) {
        for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(200))) {
          EvaluationReport report = Topics.EVALUATIONS.value(r);
          synchronized (seen) {
            seen.add(report);
          }
          onReport.accept(report);
        }
      }
    } catch (WakeupException e) {
      // close() asked us to stop.
    } finally {
      consumer.close();
    }
  }

  List<EvaluationReport> reports() {
    synchronized (seen) {
      return List.copyOf(seen);
    }
  }

  @Override
  public void close() throws InterruptedException {
    running = false;
    consumer.wakeup();
    thread.join();
  }
}
