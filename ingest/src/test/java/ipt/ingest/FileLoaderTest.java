package ipt.ingest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ipt.schemas.AvroSerde;
import ipt.schemas.Document;
import ipt.schemas.Topics;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPOutputStream;
import org.apache.kafka.clients.producer.MockProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.errors.TimeoutException;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FileLoaderTest {
    private static final AvroSerde<Document> DOCUMENTS = AvroSerde.of(Document.class);

    @TempDir
    Path dir;

    private final MockProducer<byte[], byte[]> producer =
            new MockProducer<>(true, null, new ByteArraySerializer(), new ByteArraySerializer());
    private final FileLoader loader = new FileLoader(new DocumentPublisher(producer), "en");

    /** Good lines 1, 3, 7, 8; broken JSON on 2, invalid UTF-8 on 4, a blank line on 5, empty text on 6. */
    private static byte[] jsonLines() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(utf8("{\"id\":\"one\",\"domain\":\"de\",\"text\":\"Eins\"}\n"));
        out.writeBytes(utf8("{\"id\":\"broken\",\"text\":\"no end\n"));
        out.writeBytes(utf8("{\"id\":\"three\",\"text\":\"Three, default domain\",\"metadata\":{\"k\":\"v\"}}\r\n"));
        out.writeBytes(utf8("{\"id\":\"bad-bytes\",\"text\":\"caf"));
        out.writeBytes(new byte[] {(byte) 0xE9});
        out.writeBytes(utf8("\"}\n"));
        out.writeBytes(utf8("   \n"));
        out.writeBytes(utf8("{\"id\":\"empty\",\"text\":\" \\n \"}\n"));
        out.writeBytes(utf8("{\"text\":\"Seven, no id\"}\n"));
        out.writeBytes(utf8("{\"id\":\"eight\",\"text\":\"Last line without newline\"}"));
        return out.toByteArray();
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static byte[] gzip(byte[] bytes) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (OutputStream gz = new GZIPOutputStream(out)) {
            gz.write(bytes);
        }
        return out.toByteArray();
    }

    private List<Document> published() {
        for (ProducerRecord<byte[], byte[]> r : producer.history()) {
            assertEquals(Topics.RAW.name(), r.topic());
            assertEquals(
                    DOCUMENTS.decode(r.value()).getId(), new String(r.key(), StandardCharsets.UTF_8), "keyed by id");
        }
        return producer.history().stream().map(r -> DOCUMENTS.decode(r.value())).toList();
    }

    private static void assertJsonLinesReport(Path file, LoadReport report) {
        assertEquals(4, report.published());
        assertEquals(3, report.problems().size(), report.problems().toString());
        assertEquals(
                new LoadReport.Problem(
                        file, 2, "malformed-json", report.problems().get(0).detail()),
                report.problems().get(0));
        assertEquals(4, report.problems().get(1).line());
        assertEquals("invalid-utf8", report.problems().get(1).reason());
        assertEquals(6, report.problems().get(2).line());
        assertEquals("empty-text", report.problems().get(2).reason());
    }

    @Test
    void jsonLinesReportsBadLinesByNumberAndPublishesTheRest() throws IOException {
        Path file = Files.write(dir.resolve("docs.jsonl"), jsonLines());
        LoadReport report = loader.load(file);
        assertJsonLinesReport(file, report);

        List<Document> docs = published();
        assertEquals(4, docs.size());
        assertEquals("one", docs.get(0).getId());
        assertEquals("de", docs.get(0).getDomain());
        assertEquals("three", docs.get(1).getId());
        assertEquals("en", docs.get(1).getDomain(), "default domain");
        assertEquals(Map.of("k", "v"), docs.get(1).getMetadata());
        assertEquals("file:" + file + ":3", docs.get(1).getSource());
        assertTrue(
                docs.get(2).getId().matches("[0-9a-f]{64}"),
                "id derived from content: " + docs.get(2).getId());
        assertEquals("Last line without newline", docs.get(3).getText());
    }

    @Test
    void gzippedJsonLinesGiveTheSameResult() throws IOException {
        Path file = Files.write(dir.resolve("docs.jsonl.gz"), gzip(jsonLines()));
        assertJsonLinesReport(file, loader.load(file));
        assertEquals(4, published().size());
    }

    @Test
    void derivedIdsAreStableAcrossLoads() throws IOException {
        Path file = Files.write(dir.resolve("a.jsonl"), utf8("{\"text\":\"same\"}\n"));
        loader.load(file);
        loader.load(file);
        List<Document> docs = published();
        assertEquals(docs.get(0).getId(), docs.get(1).getId());
    }

    @Test
    void textAndMarkdownFilesAreOneDocumentEach() throws IOException {
        Path txt = Files.write(dir.resolve("a.txt"), utf8("Plain text\nfile\n"));
        Path md = Files.write(dir.resolve("b.md.gz"), gzip(utf8("# Title\n\nBody")));
        assertEquals(1, loader.load(txt).published());
        assertEquals(1, loader.load(md).published());
        List<Document> docs = published();
        assertEquals("Plain text\nfile\n", docs.get(0).getText());
        assertEquals(Sha256.contentId("en", "Plain text\nfile\n"), docs.get(0).getId());
        assertEquals("file:" + txt, docs.get(0).getSource());
        assertEquals("# Title\n\nBody", docs.get(1).getText());
    }

    @Test
    void invalidUtf8InATextFileIsReportedAtItsLine() throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        bytes.writeBytes(utf8("line one\nline two\nline "));
        bytes.writeBytes(new byte[] {(byte) 0xC3, 0x28});
        Path file = Files.write(dir.resolve("bad.txt"), bytes.toByteArray());
        LoadReport report = loader.load(file);
        assertEquals(0, report.published());
        assertEquals(
                List.of(new LoadReport.Problem(file, 3, "invalid-utf8", "invalid UTF-8 at byte 23")),
                report.problems());
    }

    @Test
    void directoryIsWalkedInOrderSkippingHiddenFilesAndReportingUnsupportedOnes() throws IOException {
        Files.createDirectories(dir.resolve("sub"));
        Files.createDirectories(dir.resolve(".git"));
        Files.write(dir.resolve("sub/b.txt"), utf8("second"));
        Files.write(dir.resolve("a.jsonl"), utf8("{\"text\":\"first\"}\n"));
        Files.write(dir.resolve(".git/config"), utf8("hidden"));
        Files.write(dir.resolve("empty.md"), utf8("  \n"));
        Path pdf = Files.write(dir.resolve("c.pdf"), new byte[] {1, 2, 3});
        LoadReport report = loader.load(dir);
        assertEquals(2, report.published());
        assertEquals(
                List.of("first", "second"),
                published().stream().map(Document::getText).toList());
        assertEquals(
                List.of("unsupported-file", "empty-text"),
                report.problems().stream().map(LoadReport.Problem::reason).toList());
        assertEquals(pdf, report.problems().get(0).path());
    }

    @Test
    void missingFileIsAProblemNotAnException() {
        LoadReport report = loader.load(dir.resolve("nope.jsonl"));
        assertEquals(0, report.published());
        assertEquals("unreadable-file", report.problems().get(0).reason());
    }

    @Test
    void documentsTheBrokerRefusesAreNotCountedAsPublished() throws IOException {
        producer.sendException = new TimeoutException("broker unreachable");
        Path file = Files.write(dir.resolve("x.jsonl"), utf8("{\"text\":\"a\"}\n{\"text\":\"b\"}\n"));
        LoadReport report = loader.load(file);
        assertEquals(0, report.published());
        assertEquals(
                List.of(1L, 2L),
                report.problems().stream().map(LoadReport.Problem::line).toList());
        assertTrue(
                report.problems().stream()
                        .allMatch(p -> p.reason().equals("publish-failed")
                                && p.detail().contains("broker unreachable")),
                report.problems().toString());
    }
}
