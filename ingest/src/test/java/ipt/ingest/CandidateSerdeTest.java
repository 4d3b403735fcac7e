package ipt.ingest;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ipt.schemas.Document;
import java.time.Instant;
import java.util.Map;
import org.junit.jupiter.api.Test;

class CandidateSerdeTest {
    @Test
    void roundTrips() {
        Document doc = Document.newBuilder()
                .setId("id")
                .setDomain("en")
                .setText("text \u00e9")
                .setSource("s")
                .setIngestTime(Instant.ofEpochMilli(5))
                .setMetadata(Map.of("a", "b"))
                .build();
        byte[] original = {1, 2, (byte) 0xFF, 0};
        Staged.Candidate back = CandidateSerde.decode(
                CandidateSerde.encode(new Staged.Candidate(doc, original, "ipt.documents.raw", 3, 77L)));
        assertEquals(doc, back.document());
        assertArrayEquals(original, back.originalBytes());
        assertEquals("ipt.documents.raw", back.sourceTopic());
        assertEquals(3, back.sourcePartition());
        assertEquals(77L, back.sourceOffset());
    }
}
