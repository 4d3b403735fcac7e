package ipt.ingest;

import ipt.schemas.Document;
import java.util.ArrayList;
import java.util.List;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * Near-duplicate removal over a stream keyed by domain: a document whose MinHash band keys meet one already
 * stored for its domain is rejected, naming the earlier document; otherwise its keys are stored and it goes
 * on keyed by its id. The store is changelogged, so under exactly-once a restart neither forgets nor
 * double-counts a document.
 */
final class NearDupStage implements Processor<String, Staged.Candidate, String, Staged> {
    private final String storeName;
    private final MinHash minHash;
    private final CurationMetrics metrics;
    private ProcessorContext<String, Staged> context;
    private KeyValueStore<String, String> firstIdByBand;

    NearDupStage(String storeName, MinHash minHash, CurationMetrics metrics) {
        this.storeName = storeName;
        this.minHash = minHash;
        this.metrics = metrics;
    }

    @Override
    public void init(ProcessorContext<String, Staged> context) {
        this.context = context;
        this.firstIdByBand = context.getStateStore(storeName);
    }

    @Override
    public void process(Record<String, Staged.Candidate> record) {
        Staged.Candidate candidate = record.value();
        Document doc = candidate.document();
        metrics.stageIn(Reason.Stage.NEAR_DUP, doc.getDomain());
        List<String> bands = minHash.bandKeys(minHash.signature(doc.getText()));
        List<String> keys = new ArrayList<>(bands.size());
        for (String band : bands) {
            String key = doc.getDomain() + "|" + band;
            String earlier = firstIdByBand.get(key);
            if (earlier != null) {
                metrics.nearDuplicate(doc.getDomain());
                metrics.rejected(Reason.NEAR_DUPLICATE);
                context.forward(record.withKey(doc.getId())
                        .withValue(Rejections.of(
                                Reason.NEAR_DUPLICATE,
                                "shares MinHash band " + band.substring(0, band.indexOf(':')) + " with document "
                                        + DocumentParser.shorten(earlier),
                                doc.getId(),
                                candidate.originalBytes(),
                                candidate.sourceTopic(),
                                candidate.sourcePartition(),
                                candidate.sourceOffset(),
                                context.currentSystemTimeMs())));
                return;
            }
            keys.add(key);
        }
        // Every band was just looked up and found free: plain puts, no second read each.
        for (String key : keys) firstIdByBand.put(key, doc.getId());
        metrics.stageOut(Reason.Stage.NEAR_DUP, doc.getDomain());
        context.forward(record.withKey(doc.getId()).withValue(candidate));
    }
}
