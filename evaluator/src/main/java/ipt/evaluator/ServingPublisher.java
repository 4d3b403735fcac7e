package ipt.evaluator;

import ipt.checkpoints.Checkpoint;
import ipt.checkpoints.CheckpointStore;
import ipt.model.LanguageModel;
import java.io.IOException;
import java.time.Duration;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps each lineage's champion at the store's fixed serving location: told of every champion the evaluator follows
 * (promoted by the gate, by hand, or found at start), it publishes whatever is not served yet. A failure is logged and
 * counted and tried again after a pause; it never stops judging.
 */
final class ServingPublisher {
    private static final Logger log = LoggerFactory.getLogger(ServingPublisher.class);

    private final CheckpointStore store;
    private final EvaluatorMetrics metrics;
    private final Duration retryAfter;
    private final Map<String, Pending> pending = new HashMap<>();

    private record Pending(Checkpoint champion, long notBeforeNanos) {}

    ServingPublisher(CheckpointStore store, EvaluatorMetrics metrics, Duration retryAfter) {
        this.store = store;
        this.metrics = metrics;
        this.retryAfter = retryAfter;
    }

    /** The lineage's champion is now {@code champion}: to be served on the next {@link #publish}. */
    void follow(Checkpoint champion) {
        metrics.serving(champion.manifest().lineage());
        pending.put(champion.manifest().lineage(), new Pending(champion, System.nanoTime()));
    }

    /** Serves every followed champion that is not served yet and due; what fails waits {@code retryAfter}. */
    void publish() {
        for (Iterator<Map.Entry<String, Pending>> it = pending.entrySet().iterator(); it.hasNext(); ) {
            Map.Entry<String, Pending> next = it.next();
            String lineage = next.getKey();
            Checkpoint champion = next.getValue().champion();
            if (System.nanoTime() - next.getValue().notBeforeNanos() < 0) continue;
            if (LanguageModel.TORCHSCRIPT.equals(champion.manifest().architecture())) {
                log.info(
                        "{} v{} is a TorchScript model, which has no Hugging Face form to serve",
                        lineage,
                        champion.manifest().version());
                it.remove();
                continue;
            }
            CheckpointStore.Served wanted =
                    new CheckpointStore.Served(champion.manifest().version(), champion.sha256());
            try {
                if (!wanted.equals(store.served(lineage))) {
                    long started = System.nanoTime();
                    store.serve(champion);
                    log.info(
                            "serving {} v{} at {} ({} ms)",
                            lineage,
                            wanted.version(),
                            store.servingLocation(lineage),
                            (System.nanoTime() - started) / 1_000_000);
                }
                metrics.served(lineage, wanted.version());
                it.remove();
            } catch (IOException | RuntimeException e) {
                metrics.servingFailed(lineage);
                log.error(
                        "cannot serve {} v{} at {} (again in {} s): {}",
                        lineage,
                        wanted.version(),
                        store.servingLocation(lineage),
                        retryAfter.toSeconds(),
                        e.toString());
                next.setValue(new Pending(champion, System.nanoTime() + retryAfter.toNanos()));
            }
        }
    }
}
