package ipt.ingest;

import ipt.schemas.Document;
import ipt.schemas.RejectedDocument;

/** What flows between curation stages: a document still in the running, or a rejection bound for the DLQ. */
sealed interface Staged permits Staged.Candidate, Staged.Rejection {

    /** A valid, normalised document and where its original bytes came from (kept for a later rejection). */
    record Candidate(
            Document document, byte[] originalBytes, String sourceTopic, int sourcePartition, long sourceOffset)
            implements Staged {}

    record Rejection(RejectedDocument record) implements Staged {}
}
