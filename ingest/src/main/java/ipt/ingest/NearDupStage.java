package ipt.ingest;

import ipt.schemas.Document;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;

/**
 * Near-duplicate removal over a stream keyed by domain: a document whose MinHash band keys meet one already
 * stored for its domain is rejected, naming the earlier document; otherwise its keys are stored and it goes
 * on keyed by its id. A band remembered longer ago than the horizon (in record timestamps) no longer counts, and is
 * remembered anew for the document that passes. The stores are changelogged, so under exactly-once a restart
 * neither forgets nor double-counts a document.
 */
final class NearDupStage implements Processor<String, Staged.Candidate, String, Staged> {
    private final MinHash minHash;
    private final CurationMetrics metrics;
    private final DedupMemory firstIdByBand;
    private ProcessorContext<String, Staged> context;

    NearDupStage(String storeName, Optional<Duration> horizon, MinHash minHash, CurationMetrics metrics) {
        this.minHash = minHash;
        this.metrics = metrics;
        this.firstIdByBand = new DedupMemory(storeName, "near", horizon, metrics);
    }

    @Override
    public void init(ProcessorContext<String, Staged> context) {
        this.context = context;
        firstIdByBand.init(context);
    }

    @Override
    public void close() {
        firstIdByBand.close();
    }

    @Override
    public void process(Record<String, Staged.Candidate> record) {
        Staged.Candidate candidate = record.value();
        Document doc = candidate.document();
        metrics.stageIn(Reason.Stage.NEAR_DUP, doc.getDomain());
        List<String> bands = minHash.bandKeys(minHash.signature(doc.getText()));
        List<String> keys = new ArrayList<>(bands.size());
        List<DedupMemory.Remembered> expired = new ArrayList<>(bands.size());
        for (String band : bands) {
            String key = doc.getDomain() + "|" + band;
            DedupMemory.Remembered remembered = firstIdByBand.get(key, record.timestamp());
            DedupMemory.Remembered earlier = firstIdByBand.live(remembered, record.timestamp());
            if (earlier != null) {
                metrics.nearDuplicate(doc.getDomain());
                metrics.rejected(Reason.NEAR_DUPLICATE);
                context.forward(record.withKey(doc.getId())
                        .withValue(Rejections.of(
                                Reason.NEAR_DUPLICATE,
                                "shares MinHash band " + band.substring(0, band.indexOf(':')) + " with document "
                                        + DocumentParser.shorten(earlier.firstId()),
                                doc.getId(),
                                candidate.originalBytes(),
                                candidate.sourceTopic(),
                                candidate.sourcePartition(),
                                candidate.sourceOffset(),
                                context.currentSystemTimeMs())));
                return;
            }
            keys.add(key);
            expired.add(remembered);
        }
        // Every band was just looked up and found free (or expired): no second read each.
        for (int i = 0; i < keys.size(); i++)
            firstIdByBand.remember(keys.get(i), doc.getId(), record.timestamp(), expired.get(i));
        metrics.stageOut(Reason.Stage.NEAR_DUP, doc.getDomain());
        context.forward(record.withKey(doc.getId()).withValue(candidate));
    }
}
