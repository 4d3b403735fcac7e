package ipt.ingest;

import ipt.schemas.Document;
import java.time.Duration;
import java.util.Optional;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;

/**
 * Exact dedup over the stream keyed by content hash: the first document with a given normalised text
 * goes on, keyed by its id; every later one is rejected as a duplicate, until the horizon passes: a copy whose
 * remembered twin is older than that (in record timestamps) goes on and is remembered in its place.
 */
final class DedupStage implements Processor<String, Staged.Candidate, String, Staged> {
    private final CurationMetrics metrics;
    private final DedupMemory firstIdByHash;
    private ProcessorContext<String, Staged> context;

    DedupStage(String storeName, Optional<Duration> horizon, CurationMetrics metrics) {
        this.metrics = metrics;
        this.firstIdByHash = new DedupMemory(storeName, "exact", horizon, metrics);
    }

    @Override
    public void init(ProcessorContext<String, Staged> context) {
        this.context = context;
        firstIdByHash.init(context);
    }

    @Override
    public void close() {
        firstIdByHash.close();
    }

    @Override
    public void process(Record<String, Staged.Candidate> record) {
        Staged.Candidate candidate = record.value();
        Document doc = candidate.document();
        metrics.stageIn(Reason.Stage.DEDUP, doc.getDomain());
        DedupMemory.Remembered earlier = firstIdByHash.get(record.key(), record.timestamp());
        if (firstIdByHash.live(earlier, record.timestamp()) == null) {
            firstIdByHash.remember(record.key(), doc.getId(), record.timestamp(), earlier);
            metrics.stageOut(Reason.Stage.DEDUP, doc.getDomain());
            context.forward(record.withKey(doc.getId()).withValue(candidate));
            return;
        }
        metrics.duplicate(doc.getDomain());
        metrics.rejected(Reason.DUPLICATE);
        String firstId = earlier.firstId();
        String detail = firstId.equals(doc.getId())
                ? "document " + firstId + " was sent again"
                : "same normalised text as document " + DocumentParser.shorten(firstId);
        context.forward(record.withKey(doc.getId())
                .withValue(Rejections.of(
                        Reason.DUPLICATE,
                        detail,
                        doc.getId(),
                        candidate.originalBytes(),
                        candidate.sourceTopic(),
                        candidate.sourcePartition(),
                        candidate.sourceOffset(),
                        context.currentSystemTimeMs())));
    }
}
