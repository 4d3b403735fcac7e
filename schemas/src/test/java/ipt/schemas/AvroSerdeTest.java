package ipt.schemas;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.message.BinaryMessageEncoder;
import org.apache.kafka.common.errors.SerializationException;
import org.junit.jupiter.api.Test;

class AvroSerdeTest {
    private final AvroSerde<Document> documents = AvroSerde.of(Document.class);

    private static Document document() {
        return Document.newBuilder()
                .setId("doc-1")
                .setDomain("en")
                .setText("Résumé of the session — 会议")
                .setSource("test")
                .setIngestTime(java.time.Instant.ofEpochMilli(1_700_000_000_000L))
                .setMetadata(Map.of("lang", "en"))
                .build();
    }

    @Test
    void roundTripsEveryPayload() {
        Document doc = document();
        assertEquals(doc, documents.decode(documents.encode(doc)));

        CheckpointPublished checkpoint = CheckpointPublished.newBuilder()
                .setLineage("replay")
                .setVersion(3)
                .setParentVersion(2L)
                .setLocation("/data/replay/v000003")
                .setSha256("ab".repeat(32))
                .setStep(150)
                .setTokensSeen(12345)
                .setDocuments(17)
                .setOffsets(List.of(new PartitionOffset("ipt.documents.curated", 0, 42L)))
                .setTrainLoss(1.5)
                .setCreatedAt(java.time.Instant.ofEpochMilli(1))
                .build();
        AvroSerde<CheckpointPublished> checkpoints = AvroSerde.of(CheckpointPublished.class);
        assertEquals(checkpoint, checkpoints.decode(checkpoints.encode(checkpoint)));
    }

    @Test
    void recordWrittenWithPreviousSchemaVersionStillDecodes() throws Exception {
        Schema v1 = SchemaHistory.schemas().stream()
                .filter(s -> s.getName().equals("Document"))
                .findFirst()
                .orElseThrow();
        assertFalse(v1.getFields().stream().anyMatch(f -> f.name().equals("metadata")), "v1 has no metadata field");
        GenericRecord old = new GenericData.Record(v1);
        old.put("id", "old-1");
        old.put("domain", "de");
        old.put("text", "Guten Tag");
        old.put("source", "v1-producer");
        old.put("ingestTime", 1234L);
        byte[] bytes = singleObject(v1, old);

        assertTrue(AvroSerde.isSingleObject(bytes));
        Document decoded = documents.decode(bytes);
        assertEquals("old-1", decoded.getId());
        assertEquals("Guten Tag", decoded.getText());
        assertEquals(Map.of(), decoded.getMetadata(), "field added in v2 takes its default");
    }

    @Test
    void anEvaluationReportOfTheFirstSchemaStillDecodes() throws Exception {
        Schema v1 = SchemaHistory.schemas().stream()
                .filter(s -> s.getName().equals("EvaluationReport"))
                .findFirst()
                .orElseThrow();
        Schema taskV1 = v1.getField("tasks").schema().getElementType();
        GenericRecord task = new GenericData.Record(taskV1);
        task.put("task", "heldout/en");
        task.put("metric", "loss");
        task.put("candidate", 2.5);
        task.put("champion", 2.4);
        task.put("relativeChange", 0.0417);
        task.put("budget", 0.02);
        task.put("sequences", 64);
        task.put("passed", false);
        GenericRecord old = new GenericData.Record(v1);
        old.put("lineage", "main");
        old.put("candidateVersion", 7L);
        old.put("championVersion", 6L);
        old.put("candidateStep", 70L);
        old.put("tasks", List.of(task));
        old.put("decision", new GenericData.EnumSymbol(v1.getField("decision").schema(), "REJECT"));
        old.put("decidingRule", "regression:heldout/en");
        old.put("reason", "+4.2%");
        old.put("evaluatedAt", 1234L);
        byte[] bytes = singleObject(v1, old);

        EvaluationReport decoded = AvroSerde.of(EvaluationReport.class).decode(bytes);
        assertEquals("regression:heldout/en", decoded.getDecidingRule());
        assertEquals(0.02, decoded.getTasks().get(0).getBudget());
        assertFalse(decoded.getTasks().get(0).getHigherIsBetter());
        assertEquals(0L, decoded.getSnapshotVersion());
        assertEquals(List.of(), decoded.getRules());
        assertEquals(null, decoded.getRequestedBy());
    }

    @Test
    void recordsOfTheSchemasBeforeTheGatePolicyStillDecode() throws Exception {
        Schema checkpointV1 = SchemaHistory.schemas().stream()
                .filter(s -> s.getName().equals("CheckpointPublished"))
                .findFirst()
                .orElseThrow();
        GenericRecord old = new GenericData.Record(checkpointV1);
        old.put("lineage", "main");
        old.put("version", 3L);
        old.put("parentVersion", 2L);
        old.put("location", "/data/main/v000003");
        old.put("sha256", "ab".repeat(32));
        old.put("step", 150L);
        old.put("tokensSeen", 12345L);
        old.put("documents", 17L);
        old.put("offsets", List.of());
        old.put("trainLoss", 1.5);
        old.put("createdAt", 1L);
        CheckpointPublished decoded = AvroSerde.of(CheckpointPublished.class).decode(singleObject(checkpointV1, old));
        assertEquals(3L, decoded.getVersion());
        assertEquals(Map.of(), decoded.getDomainTokens(), "no domain tokens from an older trainer");
        assertEquals(null, decoded.getPolicy());
        assertEquals(List.of(), decoded.getArrivals(), "no arrivals from an older trainer");

        Schema reportV2 = SchemaHistory.schemas().stream()
                .filter(s -> s.getName().equals("EvaluationReport") && s.getField("forgetting") != null)
                .findFirst()
                .orElseThrow();
        GenericRecord task =
                new GenericData.Record(reportV2.getField("tasks").schema().getElementType());
        task.put("task", "heldout/en");
        task.put("metric", "loss");
        task.put("candidate", 2.5);
        task.put("sequences", 64);
        task.put("passed", true);
        task.put("higherIsBetter", false);
        GenericRecord report = new GenericData.Record(reportV2);
        report.put("lineage", "main");
        report.put("candidateVersion", 7L);
        report.put("candidateStep", 70L);
        report.put("tasks", List.of(task));
        report.put(
                "decision",
                new GenericData.EnumSymbol(reportV2.getField("decision").schema(), "PROMOTE"));
        report.put("decidingRule", "no-regression");
        report.put("reason", "ok");
        report.put("evaluatedAt", 1234L);
        report.put("snapshotVersion", 1L);
        report.put("rules", List.of());
        report.put("forgetting", List.of());
        EvaluationReport r = AvroSerde.of(EvaluationReport.class).decode(singleObject(reportV2, report));
        assertEquals(null, r.getTasks().get(0).getBest());
        assertEquals(null, r.getTasks().get(0).getWeight());
        assertEquals(null, r.getNext());
        assertEquals(null, r.getPolicy());
    }

    @Test
    void unknownFingerprintTruncatedAndJunkAreClearErrors() {
        byte[] good = documents.encode(document());
        byte[] unknown = good.clone();
        unknown[5] ^= 0x5A;
        SerializationException e = assertThrows(SerializationException.class, () -> documents.decode(unknown));
        assertTrue(e.getMessage().contains("unknown schema fingerprint"), e.getMessage());

        byte[] truncated = Arrays.copyOf(good, good.length / 2);
        assertThrows(SerializationException.class, () -> documents.decode(truncated));

        byte[] junk = "{\"id\":1}".getBytes();
        assertFalse(AvroSerde.isSingleObject(junk));
        assertThrows(SerializationException.class, () -> documents.decode(junk));
    }

    @Test
    void encodingStartsWithSingleObjectMarker() {
        byte[] bytes = documents.encode(document());
        assertArrayEquals(new byte[] {(byte) 0xC3, 0x01}, Arrays.copyOf(bytes, 2));
    }

    /** A record as a producer on an older schema wrote it. */
    private static byte[] singleObject(Schema schema, GenericRecord record) throws java.io.IOException {
        ByteBuffer buf = new BinaryMessageEncoder<GenericRecord>(GenericData.get(), schema).encode(record);
        byte[] bytes = new byte[buf.remaining()];
        buf.get(bytes);
        return bytes;
    }
}
