package ipt.ingest;

import ipt.schemas.RejectedDocument;
import java.nio.ByteBuffer;
import java.time.Instant;

/** Builds the DLQ records; the original bytes always travel with them, so nothing dropped is lost. */
final class Rejections {
    private Rejections() {}

    static Staged.Rejection of(
            Reason reason,
            String detail,
            String documentId,
            byte[] originalBytes,
            String topic,
            int partition,
            long offset,
            long nowMs) {
        return new Staged.Rejection(RejectedDocument.newBuilder()
                .setReason(reason.code())
                .setStage(reason.stage())
                .setDetail(detail == null ? "" : detail)
                .setDocumentId(documentId)
                .setOriginalBytes(ByteBuffer.wrap(originalBytes == null ? new byte[0] : originalBytes))
                .setSourceTopic(topic)
                .setSourcePartition(partition)
                .setSourceOffset(offset)
                .setRejectedAt(Instant.ofEpochMilli(nowMs))
                .build());
    }
}
