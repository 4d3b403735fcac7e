package ipt.runtime;

import ipt.schemas.EvaluationReport;
import ipt.schemas.Promotion;
import ipt.schemas.Topics;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.errors.WakeupException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Follows the evaluator's decisions, ipt.promotions and ipt.evaluations, as committed: from their beginnings, then
 * as they grow, on its own thread. A lost connection is made again and both topics are read anew.
 */
public final class DecisionFollower implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(DecisionFollower.class);
    private static final Duration RETRY = Duration.ofSeconds(5);

    /** What a follower builds from the decisions, told in the order they were committed per partition. */
    public interface Listener {
        /** Both topics are about to be read again from their beginnings: what was built from them goes. */
        void restart();

        void promotion(Promotion promotion);

        void report(EvaluationReport report);

        /** Every decision committed when the topics were (re)opened has been told. */
        default void caughtUp() {}
    }

    private final Map<String, Object> kafka;
    private final Listener listener;
    private final Thread thread;
    private volatile boolean running = true;
    private volatile KafkaConsumer<String, byte[]> consumer;

    private DecisionFollower(Map<String, Object> kafka, Listener listener, String name) {
        this.kafka = Map.copyOf(kafka);
        this.listener = listener;
        this.thread = new Thread(this::follow, name);
        thread.setDaemon(true);
    }

    /** Follows the decisions on a thread named {@code name} until closed. */
    public static DecisionFollower start(Map<String, Object> kafka, String name, Listener listener) {
        DecisionFollower follower = new DecisionFollower(kafka, listener, name);
        follower.thread.start();
        return follower;
    }

    /** Tells the listener every decision committed so far, on the caller's thread. */
    public static void readAll(Map<String, Object> kafka, Listener listener) {
        listener.restart();
        TopicReader.readAll(kafka, Topics.PROMOTIONS.name(), Topics.EVALUATIONS.name())
                .forEach(r -> tell(listener, r));
        listener.caughtUp();
    }

    private void follow() {
        while (running) {
            try (KafkaConsumer<String, byte[]> c = TopicReader.open(kafka)) {
                consumer = c;
                if (!running) return;
                List<TopicPartition> partitions =
                        TopicReader.fromBeginning(c, Topics.PROMOTIONS.name(), Topics.EVALUATIONS.name());
                listener.restart();
                TopicReader.readToEnd(c, partitions).forEach(r -> tell(listener, r));
                listener.caughtUp();
                while (running) c.poll(Duration.ofMillis(500)).forEach(r -> tell(listener, r));
            } catch (WakeupException e) {
                if (running) log.warn("{} woken up; reading the decisions again", thread.getName());
            } catch (RuntimeException e) {
                if (!running) return;
                log.warn(
                        "{} cannot follow the decisions ({}); reading them again in {} s",
                        thread.getName(),
                        e.toString(),
                        RETRY.toSeconds());
                try {
                    for (long slept = 0; slept < RETRY.toMillis() && running; slept += 250) Thread.sleep(250);
                } catch (InterruptedException interrupted) {
                    return;
                }
            } finally {
                consumer = null;
            }
        }
    }

    private static void tell(Listener listener, ConsumerRecord<String, byte[]> r) {
        if (r.value() == null) return;
        try {
            if (Topics.PROMOTIONS.holds(r)) listener.promotion(Topics.PROMOTIONS.value(r));
            else listener.report(Topics.EVALUATIONS.value(r));
        } catch (SerializationException e) {
            log.warn("skipping undecodable record {}-{}@{}: {}", r.topic(), r.partition(), r.offset(), e.getMessage());
        }
    }

    @Override
    public void close() throws InterruptedException {
        running = false;
        KafkaConsumer<String, byte[]> c = consumer;
        if (c != null)
            c.wakeup(); // not an interrupt: a consumer closing on an interrupted thread fails to close cleanly
        thread.join();
    }
}
