package ipt.ingest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ipt.schemas.AvroSerde;
import ipt.schemas.Document;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Map;
import org.apache.avro.SchemaNormalization;
import org.junit.jupiter.api.Test;

class DocumentParserTest {
    private static final byte[] GOOD = AvroSerde.of(Document.class)
            .encode(Document.newBuilder()
                    .setId("a")
                    .setDomain("en")
                    .setText("x")
                    .setSource("t")
                    .setIngestTime(Instant.EPOCH)
                    .setMetadata(Map.of())
                    .build());

    private static InvalidDocumentException refused(byte[] bytes) {
        return assertThrows(InvalidDocumentException.class, () -> DocumentParser.parse(bytes, Instant.EPOCH, "test"));
    }

    @Test
    void anUnknownFingerprintIsAnsweredWithTheExpectedOnes() {
        byte[] other = GOOD.clone();
        for (int i = 2; i < 10; i++) other[i] = 0x11;
        InvalidDocumentException e = refused(other);
        assertEquals(Reason.UNKNOWN_SCHEMA, e.reason());
        String current = String.format("%016x", SchemaNormalization.parsingFingerprint64(Document.getClassSchema()));
        // The header holds the fingerprint little-endian; the README lists it as those 8 bytes in hex.
        String header = String.format("%016x", Long.reverseBytes(Long.parseUnsignedLong(current, 16)));
        assertTrue(e.getMessage().contains("1111111111111111") && e.getMessage().contains(header), e.getMessage());
    }

    @Test
    void aLengthLargerThanTheRecordIsRefusedBeforeAnythingIsAllocated() {
        // 2^62 bytes declared: no heap could allocate that, so only a check before allocating can answer bad-avro.
        byte[] bomb = new byte[19];
        System.arraycopy(GOOD, 0, bomb, 0, 10);
        byte[] varint = {
            (byte) 0x80, (byte) 0x80, (byte) 0x80, (byte) 0x80, (byte) 0x80, (byte) 0x80, (byte) 0x80, (byte) 0x80, 0x7F
        };
        System.arraycopy(varint, 0, bomb, 10, varint.length);
        InvalidDocumentException e = refused(bomb);
        assertEquals(Reason.BAD_AVRO, e.reason(), e.getMessage());
    }

    @Test
    void bytesAfterAValidRecordAreBadAvro() {
        byte[] tail = new byte[GOOD.length + 3];
        System.arraycopy(GOOD, 0, tail, 0, GOOD.length);
        System.arraycopy("abc".getBytes(StandardCharsets.US_ASCII), 0, tail, GOOD.length, 3);
        InvalidDocumentException e = refused(tail);
        assertEquals(Reason.BAD_AVRO, e.reason());
        assertEquals("3 bytes after the end of the record", e.getMessage());
    }

    @Test
    void jsonErrorsAreInTheApisOwnWords() {
        assertEquals(
                "there is more after the JSON value (one value per body, or per line in NDJSON) at line 1 column 17",
                refused("{\"domain\":\"en\"} {}".getBytes(StandardCharsets.UTF_8))
                        .getMessage());
        assertEquals(
                "duplicate key 'a' at line 1 column 11",
                refused("{\"a\":1,\"a\":2}".getBytes(StandardCharsets.UTF_8)).getMessage());
    }
}
