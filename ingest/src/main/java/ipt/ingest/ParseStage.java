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
 * Parse, validate, normalise and quality-filter one raw record. A candidate leaves keyed by the sha256 of its normalised
 * text (so the dedup stage can see every copy on one partition); anything else leaves as a rejection.
 */
final class ParseStage implements Processor<byte[], byte[], String, Staged> {
  private static final Logger LOG = LoggerFactory.getLogger(ParseStage.class);

  private final CurationConfig config;
  private final CurationMetrics metrics;
  private ProcessorContext<String, Staged> context;

  ParseStage(CurationConfig config, CurationMetrics metrics) {
    this.config = config;
    this.metrics = metrics;
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
    Document parsed = null;
    try {
      // JSON documents carry no time of their own: the record's timestamp is when the producer sent it.
      parsed = DocumentParser.parse(original, Instant.ofEpochMilli(record.timestamp()), "kafka:" + topic);
      metrics.stageOut(Reason.Stage.PARSE, parsed.getDomain());
      metrics.stageIn(Reason.Stage.VALIDATE, parsed.getDomain());
      Document curated = DocumentValidator.validate(parsed, config);
      metrics.stageOut(Reason.Stage.VALIDATE, curated.getDomain());
      metrics.stageIn(Reason.Stage.QUALITY, curated.getDomain());
      QualityRules.check(curated.getText(), config.qualityFor(curated.getDomain()));
      metrics.stageOut(Reason.Stage.QUALITY, curated.getDomain());
      String contentHash = Sha256.hex(curated.getText());
      context.forward(record.withKey(contentHash).withValue(new Staged.Candidate(curated, original, topic, partition, offset)));
    } catch (InvalidDocumentException e) {
      reject(record, e.reason(), e.getMessage(), parsed, topic, partition, offset);
    } catch (RuntimeException e) {
      LOG.error("unexpected error curating {}-{}@{}; sent to the rejected topic", topic, partition, offset, e);
      reject(record, Reason.UNEXPECTED_ERROR, DocumentParser.shorten(e.toString()), parsed, topic, partition, offset);
    }
  }

  private void reject(
      Record<byte[], byte[]> record, Reason reason, String detail, Document parsed, String topic, int partition, long offset) {
    metrics.rejected(reason);
    String id = parsed == null ? null : parsed.getId();
    context.forward(
        record.withKey(id).withValue(Rejections.of(reason, detail, id, record.value(), topic, partition, offset, context.currentSystemTimeMs())));
  }
}
