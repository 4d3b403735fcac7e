package ipt.ingest;

import ipt.schemas.Document;
import java.time.Instant;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.processor.api.RecordMetadata;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Parse, validate, normalise and quality-filter one raw record. A candidate leaves keyed by the sha256 of its
 * normalised
 * text (so the dedup stage can see every copy on one partition); anything else leaves as a rejection.
 */
final class ParseStage implements Processor<byte[], byte[], String, Staged> {
    private static final Logger LOG = LoggerFactory.getLogger(ParseStage.class);

    private final CurationConfig config;
    private final CurationMetrics metrics;
    private final StreamThreadDeaths deaths;
    private ProcessorContext<String, Staged> context;

    ParseStage(CurationConfig config, CurationMetrics metrics, StreamThreadDeaths deaths) {
        this.config = config;
        this.metrics = metrics;
        this.deaths = deaths;
    }

    @Override
    public void init(ProcessorContext<String, Staged> context) {
        this.context = context;
    }

    @Override
    public void process(Record<byte[], byte[]> record) {
        String topic = context.recordMetadata().map(RecordMetadata::topic).orElse("");
        int partition = context.recordMetadata().map(RecordMetadata::partition).orElse(-1);
        long offset = context.recordMetadata().map(RecordMetadata::offset).orElse(-1L);
        byte[] original = record.value();
        metrics.stageIn(Reason.Stage.PARSE, CurationMetrics.UNPARSED);
        deaths.processing(topic, partition, offset);
        Document parsed = null;
        Staged out;
        try {
            // JSON documents carry no time of their own: the record's timestamp is when the producer sent it.
            parsed = DocumentParser.parse(original, Instant.ofEpochMilli(record.timestamp()), "kafka:" + topic);
            metrics.stageOut(Reason.Stage.PARSE, parsed.getDomain());
            metrics.stageIn(Reason.Stage.VALIDATE, parsed.getDomain());
            Document curated = DocumentValidator.validate(parsed, config);
            metrics.stageOut(Reason.Stage.VALIDATE, curated.getDomain());
            metrics.stageIn(Reason.Stage.QUALITY, curated.getDomain());
            Scripts scripts = Scripts.of(curated.getText());
            QualityRules.check(curated.getText(), scripts, config.qualityFor(curated.getDomain(), scripts));
            metrics.stageOut(Reason.Stage.QUALITY, curated.getDomain());
            out = new Staged.Candidate(curated, original, topic, partition, offset);
        } catch (InvalidDocumentException e) {
            out = rejection(record, e.reason(), e.getMessage(), parsed, topic, partition, offset);
        } catch (RuntimeException | Error e) {
            // Errors too (an OutOfMemoryError or StackOverflowError from one record): a thread that died here would
            // be replaced and read the same record again, and the partition would never move on.
            LOG.error("unexpected error curating {}-{}@{}; sent to the rejected topic", topic, partition, offset, e);
            out = rejection(
                    record,
                    Reason.UNEXPECTED_ERROR,
                    DocumentParser.shorten(e.toString()),
                    parsed,
                    topic,
                    partition,
                    offset);
        }
        // Outside the try: a failure to forward (a fenced producer, a lost task) is Kafka's to handle, not a bad
        // record.
        if (out instanceof Staged.Candidate c) {
            context.forward(record.withKey(Sha256.hex(c.document().getText())).withValue(out));
        } else {
            context.forward(record.withKey(((Staged.Rejection) out).record().getDocumentId())
                    .withValue(out));
        }
        deaths.done();
    }

    private Staged rejection(
            Record<byte[], byte[]> record,
            Reason reason,
            String detail,
            Document parsed,
            String topic,
            int partition,
            long offset) {
        metrics.rejected(reason);
        String id = parsed == null ? null : parsed.getId();
        return Rejections.of(
                reason, detail, id, record.value(), topic, partition, offset, context.currentSystemTimeMs());
    }
}
