package ipt.ingest;

import ipt.schemas.Document;
import java.nio.charset.StandardCharsets;
import org.apache.kafka.streams.processor.api.FixedKeyProcessor;
import org.apache.kafka.streams.processor.api.FixedKeyProcessorContext;
import org.apache.kafka.streams.processor.api.FixedKeyRecord;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * Decides which documents are held out. A domain's first {@code newDomainBytes} held-out bytes are taken from
 * half of its first documents (a document is held out while the domain's held-out bytes do not exceed its
 * trained bytes), so the evaluator can judge a new domain after about twice that much text instead of
 * 1/heldoutFraction times the snapshot size; after that, the hash of the id decides
 * ({@link CurationTopology#isHeldOut}). The byte counts live in a state store keyed by domain: with near-dup
 * removal on, the stream is partitioned by domain here and the choice depends only on the domain's document order;
 * with it off, each partition counts its own share of a domain.
 */
final class HeldOutSplit implements FixedKeyProcessor<String, Document, HeldOutSplit.Routed> {
    /** A document and where it goes. */
    record Routed(Document document, boolean heldOut) {}

    private final double heldoutFraction;
    private final int newDomainBytes;
    private final String storeName;
    private FixedKeyProcessorContext<String, Routed> context;
    private KeyValueStore<String, String> counts;

    HeldOutSplit(double heldoutFraction, int newDomainBytes, String storeName) {
        this.heldoutFraction = heldoutFraction;
        this.newDomainBytes = newDomainBytes;
        this.storeName = storeName;
    }

    @Override
    public void init(FixedKeyProcessorContext<String, Routed> context) {
        this.context = context;
        this.counts = context.getStateStore(storeName);
    }

    @Override
    public void process(FixedKeyRecord<String, Document> record) {
        Document doc = record.value();
        boolean heldOut;
        String domain = doc.getDomain();
        String seen = heldoutFraction > 0 && newDomainBytes > 0 ? counts.get(domain) : null;
        long held = seen == null ? 0 : Long.parseLong(seen.substring(0, seen.indexOf(' ')));
        long trained = seen == null ? 0 : Long.parseLong(seen.substring(seen.indexOf(' ') + 1));
        if (heldoutFraction > 0 && newDomainBytes > 0 && held < newDomainBytes) {
            heldOut = held <= trained;
            long bytes = doc.getText().getBytes(StandardCharsets.UTF_8).length;
            counts.put(domain, heldOut ? (held + bytes) + " " + trained : held + " " + (trained + bytes));
        } else {
            heldOut = CurationTopology.isHeldOut(record.key(), heldoutFraction);
        }
        context.forward(record.withValue(new Routed(doc, heldOut)));
    }
}
