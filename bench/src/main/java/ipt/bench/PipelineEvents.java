package ipt.bench;

import ipt.schemas.Topics;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;

/**
 * When the pipeline's outputs arrive (read_committed, as every service reads them): curated documents, each lineage's
 * checkpoints and the evaluator's reports. A fault counts as recovered at the first such output after it.
 */
final class PipelineEvents implements AutoCloseable {
    static final String CURATED = "curated";
    static final String EVALUATION = "evaluation";

    private final KafkaConsumer<String, byte[]> consumer;
    private final Map<String, List<Long>> arrivals = new ConcurrentHashMap<>();
    private final Thread thread;
    private volatile boolean running = true;

    PipelineEvents(Map<String, Object> kafka) {
        Map<String, Object> props = new HashMap<>(kafka);
        props.put("isolation.level", "read_committed");
        props.put("enable.auto.commit", "false");
        consumer = new KafkaConsumer<>(props, new StringDeserializer(), new ByteArrayDeserializer());
        List<TopicPartition> partitions = new ArrayList<>();
        for (String topic : List.of(Topics.CURATED.name(), Topics.CHECKPOINTS.name(), Topics.EVALUATIONS.name()))
            consumer.partitionsFor(topic).forEach(p -> partitions.add(new TopicPartition(topic, p.partition())));
        consumer.assign(partitions);
        consumer.seekToBeginning(partitions);
        thread = new Thread(this::run, "soak-events");
        thread.setDaemon(true);
        thread.start();
    }

    static String checkpoint(String lineage) {
        return "checkpoint " + lineage;
    }

    private void run() {
        try {
            while (running) {
                for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                    long now = System.nanoTime();
                    String kind;
                    if (r.topic().equals(Topics.CURATED.name())) kind = CURATED;
                    else if (r.topic().equals(Topics.EVALUATIONS.name())) kind = EVALUATION;
                    else kind = checkpoint(Topics.CHECKPOINTS.value(r).getLineage());
                    arrivals.computeIfAbsent(kind, k -> new CopyOnWriteArrayList<>())
                            .add(now);
                }
            }
        } catch (WakeupException closing) {
            // close() ends the loop
        } finally {
            consumer.close();
        }
    }

    /** When the first output of that kind after {@code nanos} arrived (System.nanoTime), or -1 if none has yet. */
    long firstAfter(String kind, long nanos) {
        for (long t : arrivals.getOrDefault(kind, List.of())) if (t > nanos) return t;
        return -1;
    }

    @Override
    public void close() throws InterruptedException {
        running = false;
        consumer.wakeup();
        thread.join();
    }
}
