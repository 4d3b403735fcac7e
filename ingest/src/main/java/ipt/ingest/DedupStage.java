package ipt.ingest;

import ipt.schemas.Document;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * Exact dedup over the stream keyed by content hash: the first document with a given normalised text
 * goes on, keyed by its id; every later one is rejected as a duplicate.
 */
final class DedupStage implements Processor<String, Staged.Candidate, String, Staged> {
    private final String storeName;
    private final CurationMetrics metrics;
    private ProcessorContext<String, Staged> context;
    private KeyValueStore<String, String> firstIdByHash;

    DedupStage(String storeName, CurationMetrics metrics) {
        this.storeName = storeName;
        this.metrics = metrics;
    }

    @Override
    public void init(ProcessorContext<String, Staged> context) {
        this.context = context;
        this.firstIdByHash = context.getStateStore(storeName);
    }

    @Override
    public void process(Record<String, Staged.Candidate> record) {
        Staged.Candidate candidate = record.value();
        Document doc = candidate.document();
        metrics.stageIn(Reason.Stage.DEDUP, doc.getDomain());
        String firstId = firstIdByHash.get(record.key());
        if (firstId == null) {
            firstIdByHash.put(record.key(), doc.getId());
            metrics.stageOut(Reason.Stage.DEDUP, doc.getDomain());
            context.forward(record.withKey(doc.getId()).withValue(candidate));
            return;
        }
        metrics.duplicate(doc.getDomain());
        metrics.rejected(Reason.DUPLICATE);
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
