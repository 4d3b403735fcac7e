package ipt.ingest;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ipt.schemas.AvroSerde;
import ipt.schemas.Document;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import org.apache.kafka.clients.producer.MockProducer;
import org.apache.kafka.common.errors.TimeoutException;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class IngestJournalTest {
    private static final AvroSerde<Document> DOCUMENTS = AvroSerde.of(Document.class);

    @TempDir
    Path dir;

    private Path fiveLines() throws IOException {
        StringBuilder lines = new StringBuilder();
        for (int i = 1; i <= 5; i++)
            lines.append("{\"id\":\"doc-")
                    .append(i)
                    .append("\",\"text\":\"line ")
                    .append(i)
                    .append("\"}\n");
        return Files.writeString(dir.resolve("docs.jsonl"), lines);
    }

    private static MockProducer<byte[], byte[]> producer(boolean autoComplete) {
        return new MockProducer<>(autoComplete, null, new ByteArraySerializer(), new ByteArraySerializer());
    }

    private static List<String> sentIds(MockProducer<byte[], byte[]> producer) {
        return producer.history().stream()
                .map(r -> DOCUMENTS.decode(r.value()).getId())
                .toList();
    }

    @Test
    void aSecondRunSkipsWhatTheFirstGotAcknowledged() throws IOException {
        Path file = fiveLines();
        Path journal = dir.resolve("journal");
        try (IngestJournal j = IngestJournal.open(journal)) {
            LoadReport first = new FileLoader(new DocumentPublisher(producer(true)), "en")
                    .withJournal(j)
                    .load(file);
            assertEquals(5, first.published());
            assertEquals(0, first.resumed());
        }
        MockProducer<byte[], byte[]> again = producer(true);
        try (IngestJournal j = IngestJournal.open(journal)) {
            LoadReport second = new FileLoader(new DocumentPublisher(again), "en")
                    .withJournal(j)
                    .load(file);
            assertEquals(0, second.published());
            assertEquals(5, second.resumed());
        }
        assertEquals(List.of(), sentIds(again));
    }

    /** Acks only when the test says so (a MockProducer's flush would complete everything at once). */
    private static final class HeldSink implements DocumentSink {
        final List<CompletableFuture<Void>> acks = new CopyOnWriteArrayList<>();

        @Override
        public CompletableFuture<Void> send(Document document) {
            CompletableFuture<Void> ack = new CompletableFuture<>();
            acks.add(ack);
            return ack;
        }

        @Override
        public void flush() {}

        @Override
        public void close() {}
    }

    @Test
    void aFailedSendIsRetriedByTheNextRunWithEverythingAfterIt() throws Exception {
        Path file = fiveLines();
        Path journal = dir.resolve("journal");
        HeldSink sink = new HeldSink();
        try (IngestJournal j = IngestJournal.open(journal)) {
            FileLoader loader = new FileLoader(sink, "en").withJournal(j);
            CompletableFuture<LoadReport> run = CompletableFuture.supplyAsync(() -> loader.load(file));
            while (sink.acks.size() < 5) Thread.sleep(5);
            sink.acks.get(4).complete(null);
            sink.acks.get(0).complete(null);
            sink.acks.get(1).complete(null);
            sink.acks.get(2).completeExceptionally(new TimeoutException("broker gone"));
            sink.acks.get(3).complete(null);
            LoadReport report = run.get();
            assertEquals(4, report.published());
            assertEquals("publish-failed", report.problems().get(0).reason());
            assertEquals(3, report.problems().get(0).line());
        }
        MockProducer<byte[], byte[]> again = producer(true);
        try (IngestJournal j = IngestJournal.open(journal)) {
            LoadReport second = new FileLoader(new DocumentPublisher(again), "en")
                    .withJournal(j)
                    .load(file);
            assertEquals(2, second.resumed());
        }
        assertEquals(List.of("doc-3", "doc-4", "doc-5"), sentIds(again));
    }

    @Test
    void aChangedFileStartsOverAndACutShortNoteIsIgnored() throws IOException {
        Path file = fiveLines();
        Path journal = dir.resolve("journal");
        try (IngestJournal j = IngestJournal.open(journal)) {
            new FileLoader(new DocumentPublisher(producer(true)), "en")
                    .withJournal(j)
                    .load(file);
        }
        Files.writeString(journal, "3\t12", StandardCharsets.UTF_8, StandardOpenOption.APPEND);
        try (IngestJournal j = IngestJournal.open(journal)) {
            assertEquals(5, j.ackedLines(file));
        }
        Files.writeString(file, "{\"id\":\"doc-6\",\"text\":\"line 6\"}\n", StandardOpenOption.APPEND);
        MockProducer<byte[], byte[]> again = producer(true);
        try (IngestJournal j = IngestJournal.open(journal)) {
            LoadReport report = new FileLoader(new DocumentPublisher(again), "en")
                    .withJournal(j)
                    .load(file);
            assertEquals(0, report.resumed());
        }
        assertEquals(6, sentIds(again).size());
    }
}
