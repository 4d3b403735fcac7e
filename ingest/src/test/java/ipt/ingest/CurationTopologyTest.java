package ipt.ingest;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot;
import io.prometheus.metrics.model.snapshots.Labels;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import ipt.schemas.AvroSerde;
import ipt.schemas.Document;
import ipt.schemas.RejectedDocument;
import ipt.schemas.Topics;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyDescription;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.test.TestRecord;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CurationTopologyTest {
    private static final AvroSerde<Document> DOCUMENTS = AvroSerde.of(Document.class);
    private static final AvroSerde<RejectedDocument> REJECTIONS = AvroSerde.of(RejectedDocument.class);

    @TempDir
    Path stateDir;

    private PrometheusRegistry registry;
    private TopologyTestDriver driver;
    private TestInputTopic<byte[], byte[]> raw;
    private TestOutputTopic<String, byte[]> curated;
    private TestOutputTopic<String, byte[]> heldout;
    private TestOutputTopic<String, byte[]> rejected;

    /**
     * Routing and dedup are tested on short texts, so the content filters (tested below and in their own tests) are
     * off, and so is the new-domain share (tested on its own), leaving the hash of the id to route.
     */
    @BeforeEach
    void start() {
        startWith(CurationConfig.defaults()
                .withHeldoutFraction(0.3)
                .withoutContentFilters()
                .withNewDomainHeldoutBytes(0));
    }

    private void startWith(CurationConfig config) {
        if (driver != null) driver.close();
        registry = new PrometheusRegistry();
        Properties props = new Properties();
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, "curation-test");
        props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "unused:9092");
        props.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
        driver = new TopologyTestDriver(CurationTopology.build(config, new CurationMetrics(registry)), props);
        raw = driver.createInputTopic(Topics.RAW.name(), new ByteArraySerializer(), new ByteArraySerializer());
        curated =
                driver.createOutputTopic(Topics.CURATED.name(), new StringDeserializer(), new ByteArrayDeserializer());
        heldout =
                driver.createOutputTopic(Topics.HELDOUT.name(), new StringDeserializer(), new ByteArrayDeserializer());
        rejected =
                driver.createOutputTopic(Topics.REJECTED.name(), new StringDeserializer(), new ByteArrayDeserializer());
    }

    @AfterEach
    void stop() {
        driver.close();
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] part : parts) out.writeBytes(part);
        return out.toByteArray();
    }

    private static Document document(String id, String domain, String text) {
        return Document.newBuilder()
                .setId(id)
                .setDomain(domain)
                .setText(text)
                .setSource("test")
                .setIngestTime(Instant.ofEpochMilli(1_700_000_000_000L))
                .setMetadata(Map.of("k", "v"))
                .build();
    }

    /** Everything on curated and held-out, by id. */
    private Map<String, Document> accepted() {
        Map<String, Document> out = new java.util.HashMap<>();
        for (TestRecord<String, byte[]> r : curated.readRecordsToList()) {
            Document doc = DOCUMENTS.decode(r.value());
            assertEquals(r.key(), doc.getId(), "output key is the document id");
            assertTrue(!CurationTopology.isHeldOut(doc.getId(), 0.3), doc.getId() + " is held out but went to curated");
            out.put(doc.getId(), doc);
        }
        for (TestRecord<String, byte[]> r : heldout.readRecordsToList()) {
            Document doc = DOCUMENTS.decode(r.value());
            assertEquals(r.key(), doc.getId());
            assertTrue(
                    CurationTopology.isHeldOut(doc.getId(), 0.3), doc.getId() + " is not held out but went to heldout");
            out.put(doc.getId(), doc);
        }
        return out;
    }

    @Test
    void validJsonGoesToCuratedOrHeldOutByTheHashOfItsId() {
        int heldOut = 0;
        for (int i = 0; i < 60; i++) {
            String id = "doc-" + i;
            raw.pipeInput(utf8("{\"id\":\"" + id + "\",\"domain\":\"en\",\"text\":\"Document number " + i
                    + " \\r\\nsecond line\",\"metadata\":{\"lang\":\"en\"}}"));
            if (CurationTopology.isHeldOut(id, 0.3)) heldOut++;
        }
        Map<String, Document> out = accepted();
        assertEquals(60, out.size());
        assertTrue(heldOut > 0 && heldOut < 60, "both topics are exercised");
        Document doc = out.get("doc-7");
        assertEquals("Document number 7\nsecond line", doc.getText());
        assertEquals("en", doc.getDomain());
        assertEquals(Map.of("lang", "en"), doc.getMetadata());
        assertEquals("kafka:" + Topics.RAW.name(), doc.getSource());
        assertTrue(rejected.isEmpty());
    }

    @Test
    void aNewDomainIsHeldOutFromHalfItsFirstDocumentsThenByTheHashOfTheId() {
        startWith(CurationConfig.defaults()
                .withHeldoutFraction(0.05)
                .withoutContentFilters()
                .withNewDomainHeldoutBytes(1000));
        for (int i = 0; i < 40; i++) {
            String text = String.format("Texte numero %03d ", i).repeat(6).substring(0, 100);
            raw.pipeInput(utf8("{\"id\":\"fr-" + i + "\",\"domain\":\"fr\",\"text\":\"" + text + "\"}"));
        }
        raw.pipeInput(utf8("{\"id\":\"de-0\",\"domain\":\"de\",\"text\":\"Erster deutscher Text\"}"));
        List<String> held =
                heldout.readRecordsToList().stream().map(TestRecord::key).toList();
        List<String> boosted = new ArrayList<>();
        for (int i = 0; i < 20; i += 2) boosted.add("fr-" + i);
        List<String> expected = new ArrayList<>(boosted);
        for (int i = 19; i < 40; i++) if (CurationTopology.isHeldOut("fr-" + i, 0.05)) expected.add("fr-" + i);
        expected.add("de-0");
        assertEquals(
                expected,
                held,
                "every other one of the first 19 (1,000 held-out bytes of 1,900), then the hash; de starts its own");
        assertEquals(40 + 1 - held.size(), curated.getQueueSize());
    }

    @Test
    void avroDocumentIsAcceptedAsIs() {
        Document doc = document("avro-1", "de", "Guten Tag");
        raw.pipeInput(utf8("avro-1"), DOCUMENTS.encode(doc));
        assertEquals(doc, accepted().get("avro-1"));
    }

    @Test
    void byteOrderMarkAndUnknownFieldsAreAccepted() {
        raw.pipeInput(concat(
                new byte[] {(byte) 0xEF, (byte) 0xBB, (byte) 0xBF},
                utf8("{\"id\":\"bom\",\"domain\":\"fr\",\"text\":\"Bonjour\",\"source\":\"http\",\"extra\":[1,2]}")));
        Document doc = accepted().get("bom");
        assertEquals("Bonjour", doc.getText());
        assertEquals("http", doc.getSource());
    }

    @Test
    void sameTextUnderAnotherIdIsRejectedAsDuplicate() {
        raw.pipeInput(utf8("{\"id\":\"first\",\"domain\":\"en\",\"text\":\"Same\\nwords.\"}"));
        byte[] second = utf8("{\"id\":\"second\",\"domain\":\"en\",\"text\":\"Same  \\r\\nwords.\"}");
        raw.pipeInput(second);
        // Unicode-equivalent text is the same text once normalised.
        raw.pipeInput(utf8("{\"id\":\"third\",\"domain\":\"en\",\"text\":\"caf\u00e9\"}"));
        raw.pipeInput(utf8("{\"id\":\"fourth\",\"domain\":\"en\",\"text\":\"cafe\u0301\"}"));

        assertEquals(List.of("first", "third"), new ArrayList<>(new java.util.TreeMap<>(accepted()).keySet()));
        List<RejectedDocument> dups =
                rejected.readValuesToList().stream().map(REJECTIONS::decode).toList();
        assertEquals(2, dups.size());
        RejectedDocument dup = dups.get(0);
        assertEquals("duplicate", dup.getReason());
        assertEquals("dedup", dup.getStage());
        assertEquals("second", dup.getDocumentId());
        assertTrue(dup.getDetail().contains("first"), dup.getDetail());
        assertArrayEquals(second, bytes(dup.getOriginalBytes()), "the original bytes, not the normalised document");
        assertEquals(Topics.RAW.name(), dup.getSourceTopic());
        assertEquals(1, dup.getSourceOffset());
        assertEquals("fourth", dups.get(1).getDocumentId());
        assertEquals(2.0, counter("ipt_curation_rejected", Labels.of("reason", "duplicate", "stage", "dedup")));
        assertEquals(2.0, counter("ipt_curation_duplicates", Labels.of("domain", "en")));
    }

    @Test
    void documentWithoutIdGetsOneFromItsContentSoAResendIsADuplicate() {
        byte[] json = utf8("{\"domain\":\"en\",\"text\":\"No id here\"}");
        raw.pipeInput(json);
        raw.pipeInput(json);
        Map<String, Document> out = accepted();
        assertEquals(1, out.size());
        String id = out.keySet().iterator().next();
        assertTrue(id.matches("[0-9a-f]{64}"), id);
        RejectedDocument dup = REJECTIONS.decode(rejected.readValue());
        assertEquals("duplicate", dup.getReason());
        assertEquals(id, dup.getDocumentId());
        assertTrue(dup.getDetail().contains("sent again"), dup.getDetail());
    }

    @Test
    void textIsNormalised() {
        raw.pipeInput(utf8("{\"id\":\"n\",\"domain\":\"fr\",\"text\":\"e\\u0301t\\u00e9\\r\\nline\\u0007 two "
                + "\\t\\rend\\u0000\"}"));
        assertEquals("\u00e9t\u00e9\nline two\nend", accepted().get("n").getText());
    }

    private record Bad(String name, byte[] bytes, String reason) {}

    private static List<Bad> badInputs() {
        Document good = document("avro-bad", "en", "Avro body");
        byte[] encoded = DOCUMENTS.encode(good);
        byte[] unknownFingerprint = encoded.clone();
        unknownFingerprint[5] ^= 0x5A;
        byte[] truncatedAvro = Arrays.copyOf(encoded, 14);
        String huge = "a".repeat(1_000_001);
        return List.of(
                new Bad("truncated JSON", utf8("{\"domain\":\"en\",\"text\":\"abc"), "malformed-json"),
                new Bad("trailing garbage", utf8("{\"domain\":\"en\",\"text\":\"abc\"} tail"), "malformed-json"),
                new Bad("duplicate key", utf8("{\"domain\":\"en\",\"text\":\"a\",\"text\":\"b\"}"), "malformed-json"),
                new Bad("single quotes", utf8("{'domain':'en','text':'abc'}"), "malformed-json"),
                new Bad("whitespace only record", utf8("  \n "), "malformed-json"),
                new Bad("binary junk, valid UTF-8", new byte[] {0, 1, 2, 3, 4, 5}, "malformed-json"),
                new Bad("binary junk", new byte[] {(byte) 0xFF, (byte) 0xFE, 0x00, (byte) 0x9C, 0x42}, "invalid-utf8"),
                new Bad(
                        "invalid UTF-8 in text",
                        concat(utf8("{\"domain\":\"en\",\"text\":\"caf"), new byte[] {(byte) 0xC3, 0x28}, utf8("\"}")),
                        "invalid-utf8"),
                new Bad(
                        "overlong UTF-8",
                        concat(
                                utf8("{\"domain\":\"en\",\"text\":\""),
                                new byte[] {(byte) 0xC0, (byte) 0xAF},
                                utf8("\"}")),
                        "invalid-utf8"),
                new Bad(
                        "UTF-8 encoded surrogate",
                        concat(
                                utf8("{\"domain\":\"en\",\"text\":\""),
                                new byte[] {(byte) 0xED, (byte) 0xA0, (byte) 0x80},
                                utf8("\"}")),
                        "invalid-utf8"),
                new Bad("lone surrogate escape", utf8("{\"domain\":\"en\",\"text\":\"x\\ud800y\"}"), "invalid-utf8"),
                new Bad("text is a number", utf8("{\"domain\":\"en\",\"text\":42}"), "wrong-type"),
                new Bad("domain is a list", utf8("{\"domain\":[\"en\"],\"text\":\"abc\"}"), "wrong-type"),
                new Bad("id is an object", utf8("{\"id\":{},\"domain\":\"en\",\"text\":\"abc\"}"), "wrong-type"),
                new Bad(
                        "metadata value is a number",
                        utf8("{\"domain\":\"en\",\"text\":\"abc\",\"metadata\":{\"n\":1}}"),
                        "wrong-type"),
                new Bad(
                        "metadata is a string",
                        utf8("{\"domain\":\"en\",\"text\":\"abc\",\"metadata\":\"x\"}"),
                        "wrong-type"),
                new Bad("no text", utf8("{\"domain\":\"en\"}"), "missing-field"),
                new Bad("text is null", utf8("{\"domain\":\"en\",\"text\":null}"), "missing-field"),
                new Bad("no domain", utf8("{\"text\":\"abc\"}"), "missing-field"),
                new Bad("top-level array", utf8("[{\"domain\":\"en\",\"text\":\"abc\"}]"), "not-an-object"),
                new Bad("top-level number", utf8("42"), "not-an-object"),
                new Bad("top-level null", utf8("null"), "not-an-object"),
                new Bad("top-level string", utf8("\"text\""), "not-an-object"),
                new Bad("empty value", new byte[0], "empty-record"),
                new Bad("unknown Avro fingerprint", unknownFingerprint, "unknown-schema"),
                new Bad("truncated Avro", truncatedAvro, "bad-avro"),
                new Bad("Avro record with junk after it", concat(encoded, utf8("junk")), "bad-avro"),
                new Bad(
                        "Avro id declaring 2 GiB in 15 bytes",
                        concat(
                                Arrays.copyOf(encoded, 10),
                                new byte[] {(byte) 0xE0, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, 0x0F}),
                        "bad-avro"),
                new Bad(
                        "Avro id with a negative length",
                        concat(Arrays.copyOf(encoded, 10), new byte[] {0x03, 'a'}),
                        "bad-avro"),
                new Bad(
                        "zero-width characters only",
                        utf8("{\"domain\":\"en\",\"text\":\"\\u200b\\u200d\\u2060\\ufeff\"}"),
                        "empty-text"),
                new Bad("empty text", utf8("{\"domain\":\"en\",\"text\":\"\"}"), "empty-text"),
                new Bad(
                        "whitespace-only text",
                        utf8("{\"domain\":\"en\",\"text\":\" \\r\\n\\t \\u00a0\\n\"}"),
                        "empty-text"),
                new Bad(
                        "control characters only",
                        utf8("{\"domain\":\"en\",\"text\":\"\\u0000\\u0007\\u001b\"}"),
                        "empty-text"),
                new Bad("huge text", utf8("{\"domain\":\"en\",\"text\":\"" + huge + "\"}"), "text-too-long"),
                new Bad("upper-case domain", utf8("{\"domain\":\"EN\",\"text\":\"abc\"}"), "bad-domain"),
                new Bad("path in domain", utf8("{\"domain\":\"en/../x\",\"text\":\"abc\"}"), "bad-domain"),
                new Bad("empty domain", utf8("{\"domain\":\"\",\"text\":\"abc\"}"), "bad-domain"),
                new Bad(
                        "Avro document with bad domain",
                        DOCUMENTS.encode(document("avro-2", "Not A Domain", "text")),
                        "bad-domain"),
                new Bad(
                        "id too long",
                        utf8("{\"id\":\"" + "x".repeat(257) + "\",\"domain\":\"en\",\"text\":\"abc\"}"),
                        "bad-id"),
                new Bad("empty id", utf8("{\"id\":\"\",\"domain\":\"en\",\"text\":\"abc\"}"), "bad-id"));
    }

    @Test
    void everyMalformedInputGivesExactlyOneRejectionWithItsReasonAndOriginalBytes() {
        List<Bad> bad = badInputs();
        for (int i = 0; i < bad.size(); i++) {
            Bad b = bad.get(i);
            raw.pipeInput(b.bytes());
            List<byte[]> out = rejected.readValuesToList();
            assertEquals(1, out.size(), b.name() + ": one rejection");
            RejectedDocument r = REJECTIONS.decode(out.get(0));
            assertEquals(b.reason(), r.getReason(), b.name() + ": " + r.getDetail());
            assertEquals(
                    Reason.valueOf(b.reason().toUpperCase().replace('-', '_')).stage(), r.getStage(), b.name());
            assertTrue(!r.getDetail().isBlank(), b.name() + ": has a detail");
            assertArrayEquals(b.bytes(), bytes(r.getOriginalBytes()), b.name() + ": original bytes");
            assertEquals(Topics.RAW.name(), r.getSourceTopic());
            assertEquals(0, r.getSourcePartition());
            assertEquals(i, r.getSourceOffset(), b.name());
            assertTrue(curated.isEmpty() && heldout.isEmpty(), b.name() + ": nothing curated");
        }
        raw.pipeInput((byte[]) null);
        RejectedDocument tombstone = REJECTIONS.decode(rejected.readValue());
        assertEquals("empty-record", tombstone.getReason());
        assertEquals(0, tombstone.getOriginalBytes().remaining());

        raw.pipeInput(utf8("{\"id\":\"after\",\"domain\":\"en\",\"text\":\"still running\"}"));
        assertEquals("still running", accepted().get("after").getText(), "the stream goes on after bad input");
    }

    @Test
    void validateRejectionsNameTheDocument() {
        raw.pipeInput(utf8("{\"id\":\"named\",\"domain\":\"EN\",\"text\":\"abc\"}"));
        TestRecord<String, byte[]> r = rejected.readRecord();
        assertEquals("named", r.key());
        assertEquals("named", REJECTIONS.decode(r.value()).getDocumentId());
        raw.pipeInput(utf8("{\"domain\":\"en\",\"text\":"));
        r = rejected.readRecord();
        assertNull(r.key());
        assertNull(REJECTIONS.decode(r.value()).getDocumentId());
    }

    @Test
    void textLengthBoundsComeFromTheConfig() {
        startWith(CurationConfig.defaults()
                .withTextChars(5, 10)
                .withoutContentFilters()
                .withNewDomainHeldoutBytes(0));
        raw.pipeInput(utf8("{\"domain\":\"en\",\"text\":\"abcd\"}"));
        raw.pipeInput(utf8("{\"domain\":\"en\",\"text\":\"abcdefghijk\"}"));
        raw.pipeInput(utf8("{\"domain\":\"en\",\"text\":\"abcdefghij\"}"));
        List<String> reasons = rejected.readValuesToList().stream()
                .map(v -> REJECTIONS.decode(v).getReason())
                .toList();
        assertEquals(List.of("text-too-short", "text-too-long"), reasons);
        assertEquals(1, curated.getQueueSize() + heldout.getQueueSize());
    }

    @Test
    void countsDocumentsPerStageAndDomain() {
        raw.pipeInput(utf8("{\"id\":\"a\",\"domain\":\"en\",\"text\":\"one\"}"));
        raw.pipeInput(utf8("{\"id\":\"b\",\"domain\":\"de\",\"text\":\"zwei\"}"));
        raw.pipeInput(utf8("{\"id\":\"c\",\"domain\":\"de\",\"text\":\"\"}"));
        raw.pipeInput(utf8("not json"));
        assertEquals(4.0, counter("ipt_curation_stage_in", Labels.of("domain", "unparsed", "stage", "parse")));
        assertEquals(2.0, counter("ipt_curation_stage_out", Labels.of("domain", "de", "stage", "parse")));
        assertEquals(1.0, counter("ipt_curation_stage_out", Labels.of("domain", "de", "stage", "validate")));
        assertEquals(1.0, counter("ipt_curation_stage_out", Labels.of("domain", "en", "stage", "dedup")));
        assertEquals(1.0, counter("ipt_curation_rejected", Labels.of("reason", "empty-text", "stage", "validate")));
        assertEquals(1.0, counter("ipt_curation_rejected", Labels.of("reason", "malformed-json", "stage", "parse")));
        double published = counter("ipt_curation_published", Labels.of("domain", "en", "topic", Topics.CURATED.name()))
                + counter("ipt_curation_published", Labels.of("domain", "en", "topic", Topics.HELDOUT.name()));
        assertEquals(1.0, published);
    }

    @Test
    void dedupAndNearDupEachMeetOnOneRepartitionTopic() {
        TopologyDescription description =
                CurationTopology.build(CurationConfig.defaults()).describe();
        List<String> internalSinks = new ArrayList<>();
        for (TopologyDescription.Subtopology sub : description.subtopologies()) {
            for (TopologyDescription.Node node : sub.nodes()) {
                if (node instanceof TopologyDescription.Sink sink
                        && !sink.topic().startsWith("ipt.documents.")) internalSinks.add(sink.topic());
            }
        }
        assertEquals(
                List.of(
                        CurationTopology.DEDUP_REPARTITION + "-repartition",
                        CurationTopology.NEAR_DUP_REPARTITION + "-repartition"),
                internalSinks,
                description.toString());
        assertEquals(3, description.subtopologies().size(), "parse | dedup | near-dup and split: " + description);
    }

    private static final String SPEECH =
            "Madam President, on behalf of the committee I would like to thank the rapporteur for her work"
                    + " on this report. The proposal before us today is a balanced compromise between the "
                    + "positions of the Council and of"
                    + " this House, and I hope that we can adopt it with a large majority tomorrow.";

    @Test
    void lowQualityTextIsRejectedByTheQualityStageWithItsRuleAndOriginalBytes() {
        startWith(CurationConfig.defaults().withNewDomainHeldoutBytes(0));
        byte[] spam = utf8("{\"id\":\"spam\",\"domain\":\"en\",\"text\":\""
                + "Buy the best of the cheap watches online today and save\\n".repeat(10) + "\"}");
        byte[] short_ = utf8("{\"id\":\"short\",\"domain\":\"en\",\"text\":\"Thank you.\"}");
        byte[] code = utf8("{\"id\":\"code\",\"domain\":\"java\",\"text\":\"class A {\\n  int x;\\n}\\n\"}");
        raw.pipeInput(spam);
        raw.pipeInput(short_);
        raw.pipeInput(code);
        raw.pipeInput(DOCUMENTS.encode(document("speech", "en", SPEECH)));
        List<RejectedDocument> out =
                rejected.readValuesToList().stream().map(REJECTIONS::decode).toList();
        assertEquals(
                List.of("duplicate-lines", "too-few-words"),
                out.stream().map(RejectedDocument::getReason).toList());
        assertEquals(
                List.of("quality", "quality"),
                out.stream().map(RejectedDocument::getStage).toList());
        assertArrayEquals(spam, out.get(0).getOriginalBytes().array());
        assertEquals(
                Map.of("code", "java", "speech", "en"),
                accepted().values().stream()
                        .collect(java.util.stream.Collectors.toMap(Document::getId, Document::getDomain)));
        assertEquals(
                2.0,
                counter("ipt_curation_rejected", Labels.of("reason", "duplicate-lines", "stage", "quality"))
                        + counter("ipt_curation_rejected", Labels.of("reason", "too-few-words", "stage", "quality")));
    }

    @Test
    void aNearCopyIsRejectedNamingTheFirstAndTheSameTextInAnotherDomainIsKept() {
        startWith(CurationConfig.defaults().withNewDomainHeldoutBytes(0));
        raw.pipeInput(DOCUMENTS.encode(document("first", "en", SPEECH)));
        byte[] copy = DOCUMENTS.encode(document("copy", "en", SPEECH.replace("large majority", "big majority")));
        raw.pipeInput(copy);
        raw.pipeInput(
                DOCUMENTS.encode(document("elsewhere", "en-gb", SPEECH.replace("large majority", "clear majority"))));
        List<RejectedDocument> out =
                rejected.readValuesToList().stream().map(REJECTIONS::decode).toList();
        assertEquals(1, out.size(), out.toString());
        assertEquals("near-duplicate", out.get(0).getReason());
        assertEquals("near-dup", out.get(0).getStage());
        assertEquals("copy", out.get(0).getDocumentId());
        assertTrue(out.get(0).getDetail().contains("first"), out.get(0).getDetail());
        assertArrayEquals(copy, out.get(0).getOriginalBytes().array());
        assertEquals(java.util.Set.of("first", "elsewhere"), accepted().keySet());
        assertEquals(1.0, counter("ipt_curation_near_duplicates", Labels.of("domain", "en")));
    }

    private static final Instant T0 = Instant.parse("2026-01-01T00:00:00Z");

    /** Routing as in {@link #start}, with a dedup horizon. */
    private void startWithHorizon(Optional<Duration> horizon) {
        startWith(CurationConfig.defaults()
                .withHeldoutFraction(0.3)
                .withoutContentFilters()
                .withNewDomainHeldoutBytes(0)
                .withDedupHorizon(horizon));
    }

    private void pipeAt(Duration after, String id, String text) {
        raw.pipeInput(utf8("{\"id\":\"" + id + "\",\"domain\":\"en\",\"text\":\"" + text + "\"}"), T0.plus(after));
    }

    /** The first ids a dedup store remembers, sorted. */
    private List<String> rememberedIds(String store) {
        List<String> ids = new ArrayList<>();
        KeyValueStore<String, String> kv = driver.getKeyValueStore(store);
        try (KeyValueIterator<String, String> it = kv.all()) {
            it.forEachRemaining(e -> ids.add(e.value.substring(e.value.indexOf('\0') + 1)));
        }
        ids.sort(null);
        return ids;
    }

    private long entries(String store) {
        KeyValueStore<String, String> kv = driver.getKeyValueStore(store);
        long n = 0;
        try (KeyValueIterator<String, String> it = kv.all()) {
            for (; it.hasNext(); it.next()) n++;
        }
        return n;
    }

    @Test
    void theExactStoreHoldsOneHorizonOfStreamTimeAndACopyPassesOnceItsTwinIsThatOld() {
        startWithHorizon(Optional.of(Duration.ofHours(1)));
        for (int i = 0; i < 600; i++) pipeAt(Duration.ofMinutes(i), "doc-" + i, "Text number " + i);
        assertEquals(600, accepted().size());
        // Stream time is minute 599: the entries of minutes 540..599 are younger than an hour, the rest swept.
        List<String> last = new ArrayList<>();
        for (int i = 540; i < 600; i++) last.add("doc-" + i);
        last.sort(null);
        assertEquals(last, rememberedIds("dedup-content-hashes"));
        assertEquals(60, entries("dedup-content-hashes-by-time"));
        assertEquals(60.0, gauge("ipt_curation_dedup_entries", Labels.of("stage", "exact")));
        assertEquals(540.0, counter("ipt_curation_dedup_expired", Labels.of("stage", "exact")));

        pipeAt(Duration.ofMinutes(604), "copy-545", "Text number 545"); // 59 minutes after its twin: dropped
        pipeAt(Duration.ofMinutes(604), "copy-539", "Text number 539"); // twin swept: passes
        pipeAt(Duration.ofMinutes(610), "copy-550", "Text number 550"); // twin exactly 1 h old, not yet swept: passes
        pipeAt(Duration.ofMinutes(611), "again-550", "Text number 550"); // the copy is now the one remembered
        assertEquals(java.util.Set.of("copy-539", "copy-550"), accepted().keySet());
        List<RejectedDocument> dropped =
                rejected.readValuesToList().stream().map(REJECTIONS::decode).toList();
        assertEquals(
                List.of("copy-545", "again-550"),
                dropped.stream().map(RejectedDocument::getDocumentId).toList());
        assertTrue(
                dropped.get(1).getDetail().contains("copy-550"), dropped.get(1).getDetail());
    }

    @Test
    void withTheHorizonOffACopyIsDroppedHoweverLateItComes() {
        startWithHorizon(Optional.empty());
        pipeAt(Duration.ZERO, "first", "Kept forever");
        for (int i = 1; i <= 100; i++) pipeAt(Duration.ofDays(i), "filler-" + i, "Filler " + i);
        pipeAt(Duration.ofDays(1000), "late-copy", "Kept forever");
        assertTrue(!accepted().containsKey("late-copy"));
        assertEquals("late-copy", REJECTIONS.decode(rejected.readValue()).getDocumentId());
        assertEquals(101, entries("dedup-content-hashes"));
        assertEquals(101, entries("dedup-content-hashes-by-time"));
        assertEquals(0.0, counter("ipt_curation_dedup_expired", Labels.of("stage", "exact")));
    }

    @Test
    void nearDuplicateBandsExpireTheSameWay() {
        startWith(CurationConfig.defaults()
                .withHeldoutFraction(0.3)
                .withNewDomainHeldoutBytes(0)
                .withDedupHorizon(Optional.of(Duration.ofHours(1))));
        int bands = MinHash.Config.defaults().bands();
        raw.pipeInput(DOCUMENTS.encode(document("first", "en", SPEECH)), T0);
        raw.pipeInput(
                DOCUMENTS.encode(document("copy", "en", SPEECH.replace("large majority", "big majority"))),
                T0.plus(Duration.ofMinutes(30)));
        assertEquals(
                List.of("first"),
                rememberedIds(CurationTopology.NEAR_DUP_STORE).stream()
                        .distinct()
                        .toList());
        assertEquals((double) bands, gauge("ipt_curation_dedup_entries", Labels.of("stage", "near")));
        // An hour after the first, its bands no longer count: the copy passes and its bands replace them.
        raw.pipeInput(
                DOCUMENTS.encode(document("later", "en", SPEECH.replace("large majority", "clear majority"))),
                T0.plus(Duration.ofMinutes(60)));
        raw.pipeInput(
                DOCUMENTS.encode(document("again", "en", SPEECH.replace("large majority", "vast majority"))),
                T0.plus(Duration.ofMinutes(90)));
        assertEquals(java.util.Set.of("first", "later"), accepted().keySet());
        List<RejectedDocument> dropped =
                rejected.readValuesToList().stream().map(REJECTIONS::decode).toList();
        assertEquals(
                List.of("copy", "again"),
                dropped.stream().map(RejectedDocument::getDocumentId).toList());
        assertTrue(dropped.get(1).getDetail().contains("later"), dropped.get(1).getDetail());
        assertEquals(Collections.nCopies(bands, "later"), rememberedIds(CurationTopology.NEAR_DUP_STORE));
        assertEquals(bands, entries(CurationTopology.NEAR_DUP_STORE + "-by-time"));
        assertEquals((double) bands, gauge("ipt_curation_dedup_entries", Labels.of("stage", "near")));
        assertEquals((double) bands, counter("ipt_curation_dedup_expired", Labels.of("stage", "near")));
    }

    private double gauge(String name, Labels labels) {
        for (MetricSnapshot snapshot : registry.scrape()) {
            if (!snapshot.getMetadata().getName().equals(name)) continue;
            for (GaugeSnapshot.GaugeDataPointSnapshot point : ((GaugeSnapshot) snapshot).getDataPoints()) {
                if (point.getLabels().equals(labels)) return point.getValue();
            }
        }
        return Double.NaN;
    }

    /** A rate over these sees the first rejection and the first document: their series exist before it, at 0. */
    @Test
    void everyRejectionReasonAndTheIncomingCountExistAtZeroBeforeTheFirstRecord() {
        for (Reason reason : Reason.values()) {
            assertEquals(
                    0.0,
                    point("ipt_curation_rejected", Labels.of("reason", reason.code(), "stage", reason.stage())),
                    reason.code());
        }
        assertEquals(0.0, point("ipt_curation_stage_in", Labels.of("domain", "unparsed", "stage", "parse")));
        raw.pipeInput(utf8("x"), new byte[0]);
        assertEquals(1.0, counter("ipt_curation_rejected", Labels.of("reason", "empty-record", "stage", "parse")));
    }

    /** The counter's value, or null when the series does not exist. */
    private Double point(String name, Labels labels) {
        for (MetricSnapshot snapshot : registry.scrape()) {
            if (!snapshot.getMetadata().getName().equals(name)) continue;
            for (CounterSnapshot.CounterDataPointSnapshot p : ((CounterSnapshot) snapshot).getDataPoints()) {
                if (p.getLabels().equals(labels)) return p.getValue();
            }
        }
        return null;
    }

    private double counter(String name, Labels labels) {
        Double value = point(name, labels);
        return value == null ? 0.0 : value;
    }

    private static byte[] bytes(ByteBuffer buffer) {
        ByteBuffer copy = buffer.duplicate();
        byte[] out = new byte[copy.remaining()];
        copy.get(out);
        return out;
    }
}
