package ipt.ingest;

import ipt.schemas.Document;
import java.util.concurrent.CompletableFuture;

/**
 * Where loaded documents go: {@code ipt.documents.raw} directly ({@link DocumentPublisher}) or the HTTP
 * ingest API ({@link HttpDocumentSink}). A future completed normally means the document is durably
 * accepted; completed with a {@link SinkRejection}, the sink refused it for a reason a retry will not fix.
 */
public interface DocumentSink extends AutoCloseable {
    CompletableFuture<?> send(Document document);

    /** Hands over anything buffered; the futures still complete asynchronously. */
    void flush();

    @Override
    void close();

    /** A document the destination refused, with the reason code it gave (as on the rejected topic). */
    final class SinkRejection extends RuntimeException {
        private final String reason;

        public SinkRejection(String reason, String detail) {
            super(detail, null, false, false);
            this.reason = reason;
        }

        public String reason() {
            return reason;
        }
    }
}
