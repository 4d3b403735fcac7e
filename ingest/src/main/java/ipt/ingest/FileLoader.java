package ipt.ingest;

import ipt.schemas.Document;
import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Queue;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import java.util.zip.GZIPInputStream;

/**
 * Loads documents from files and sends them to a {@link DocumentSink}: {@code .jsonl} (one JSON document
 * per line) and {@code .txt}/{@code .md} (one document per file, id from its content hash), each plain or
 * {@code .gz}. A bad line is reported with its line number and skipped; the rest goes through. A directory
 * is walked in name order, hidden entries skipped. With an {@link IngestJournal}, lines an earlier run got
 * acknowledged are skipped, so an interrupted load can simply be run again.
 */
public final class FileLoader {
    /** Sends awaiting their ack at once: memory stays bounded whatever the size of the input. */
    private static final int MAX_IN_FLIGHT = 10_000;
    /** How often the journal is told about progress; a kill loses at most this much of it (re-sent, then
     * deduplicated). */
    private static final long JOURNAL_EVERY_NANOS = 500_000_000L;

    /** Progress of a load, for a progress bar; called from the sink's threads too. */
    public interface Listener {
        void acknowledged();

        void problem();

        Listener NONE = new Listener() {
            @Override
            public void acknowledged() {}

            @Override
            public void problem() {}
        };
    }

    private final DocumentSink sink;
    private final String defaultDomain;
    private final CurationConfig config;
    private final IngestJournal journal;
    private final Listener listener;

    /** Documents without a domain get {@code defaultDomain}; they are checked against the default curation rules. */
    public FileLoader(DocumentSink sink, String defaultDomain) {
        this(sink, defaultDomain, CurationConfig.defaults(), null, Listener.NONE);
    }

    /** Checks documents against {@code config} before sending, so bad lines are reported here, by line. */
    public FileLoader(DocumentSink sink, String defaultDomain, CurationConfig config) {
        this(sink, defaultDomain, config, null, Listener.NONE);
    }

    private FileLoader(
            DocumentSink sink, String defaultDomain, CurationConfig config, IngestJournal journal, Listener listener) {
        if (!DocumentValidator.DOMAIN.matcher(defaultDomain).matches()) {
            throw new IllegalArgumentException(
                    "bad default domain '" + defaultDomain + "': must match " + DocumentValidator.DOMAIN.pattern());
        }
        this.sink = sink;
        this.defaultDomain = defaultDomain;
        this.config = config;
        this.journal = journal;
        this.listener = listener;
    }

    public FileLoader withJournal(IngestJournal journal) {
        return new FileLoader(sink, defaultDomain, config, journal, listener);
    }

    public FileLoader withListener(Listener listener) {
        return new FileLoader(sink, defaultDomain, config, journal, listener);
    }

    /** Loads one file or every file under a directory; returns once every sent document is acknowledged. */
    public LoadReport load(Path path) {
        Run run = new Run();
        if (Files.isDirectory(path)) {
            try (Stream<Path> files = Files.walk(path)) {
                files.filter(Files::isRegularFile)
                        .filter(f -> !isHidden(path.relativize(f)))
                        .sorted()
                        .forEach(f -> loadFile(f, run));
            } catch (IOException | UncheckedIOException e) {
                run.problem(path, 0, "unreadable-file", e.toString());
            }
        } else {
            loadFile(path, run);
        }
        sink.flush();
        return run.awaitAcks();
    }

    private static boolean isHidden(Path relative) {
        for (Path part : relative) {
            if (part.toString().startsWith(".")) return true;
        }
        return false;
    }

    private void loadFile(Path file, Run run) {
        String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
        boolean gzip = name.endsWith(".gz");
        if (gzip) name = name.substring(0, name.length() - 3);
        boolean jsonLines = name.endsWith(".jsonl");
        if (!jsonLines && !name.endsWith(".txt") && !name.endsWith(".md")) {
            run.problem(file, 0, "unsupported-file", "not .jsonl, .txt or .md (optionally .gz)");
            return;
        }
        long alreadyAcked = journal == null ? 0 : journal.ackedLines(file);
        FileProgress progress = run.start(file, alreadyAcked);
        try (InputStream raw = Files.newInputStream(file);
                InputStream in = new BufferedInputStream(gzip ? new GZIPInputStream(raw, 1 << 16) : raw, 1 << 16)) {
            if (jsonLines) loadJsonLines(progress, in, run);
            else if (alreadyAcked == 0) loadText(progress, in, run);
        } catch (IOException e) {
            run.problem(file, 0, "unreadable-file", e.toString());
        } finally {
            progress.allRead();
        }
    }

    private void loadJsonLines(FileProgress progress, InputStream in, Run run) throws IOException {
        Path file = progress.file;
        LineReader lines = new LineReader(in, maxBytes());
        long lineNumber = 0;
        for (byte[] line = lines.next(); line != null; line = lines.next()) {
            lineNumber++;
            if (lineNumber <= progress.alreadyAcked) continue;
            if (lines.truncated()) {
                run.problem(
                        file, lineNumber, Reason.TEXT_TOO_LONG.code(), "line is longer than " + maxBytes() + " bytes");
            } else if (!isBlankLine(line)) {
                try {
                    Document doc = DocumentParser.parseJson(
                            line, defaultDomain, Instant.now(), "file:" + file + ":" + lineNumber);
                    DocumentValidator.validate(doc, config);
                    run.send(doc, progress, lineNumber);
                    continue;
                } catch (InvalidDocumentException e) {
                    run.problem(file, lineNumber, e.reason().code(), e.getMessage());
                }
            }
            progress.settled(lineNumber);
        }
    }

    private void loadText(FileProgress progress, InputStream in, Run run) throws IOException {
        Path file = progress.file;
        byte[] bytes = in.readNBytes(maxBytes() + 1);
        if (bytes.length > maxBytes()) {
            run.problem(file, 0, Reason.TEXT_TOO_LONG.code(), "file is longer than " + maxBytes() + " bytes");
            return;
        }
        try {
            String text = StrictUtf8.decode(bytes);
            if (!text.isEmpty() && text.charAt(0) == '\uFEFF') text = text.substring(1);
            Document doc = Document.newBuilder()
                    .setId(Sha256.contentId(defaultDomain, text))
                    .setDomain(defaultDomain)
                    .setText(text)
                    .setSource("file:" + file)
                    .setIngestTime(Instant.now())
                    .setMetadata(Map.of())
                    .build();
            DocumentValidator.validate(doc, config);
            run.send(doc, progress, 1);
        } catch (StrictUtf8.InvalidUtf8Exception e) {
            run.problem(file, lineOf(bytes, e.offset()), e.reason().code(), e.getMessage());
        } catch (InvalidDocumentException e) {
            run.problem(file, 0, e.reason().code(), e.getMessage());
        }
    }

    /** Bytes a line or file may have: the longest text allowed, at up to 4 UTF-8 bytes a char, plus JSON framing. */
    private int maxBytes() {
        return (int) Math.min(Integer.MAX_VALUE - 16, 4L * config.maxTextChars() + 64 * 1024);
    }

    private static boolean isBlankLine(byte[] line) {
        for (byte b : line) {
            if (b != ' ' && b != '\t') return false;
        }
        return true;
    }

    private static long lineOf(byte[] bytes, int offset) {
        long line = 1;
        for (int i = 0; i < offset && i < bytes.length; i++) {
            if (bytes[i] == '\n') line++;
        }
        return line;
    }

    /** Lines as raw bytes, so each can be decoded strictly on its own; CRLF and LF both end a line. */
    private static final class LineReader {
        private final InputStream in;
        private final int maxBytes;
        private boolean truncated;

        LineReader(InputStream in, int maxBytes) {
            this.in = in;
            this.maxBytes = maxBytes;
        }

        /** The next line without its end, or null at the end of input; longer lines are cut ({@link #truncated}). */
        byte[] next() throws IOException {
            ByteArrayOutputStream line = new ByteArrayOutputStream();
            truncated = false;
            int b = in.read();
            if (b == -1) return null;
            for (; b != -1 && b != '\n'; b = in.read()) {
                if (line.size() < maxBytes) line.write(b);
                else truncated = true;
            }
            byte[] bytes = line.toByteArray();
            int length = bytes.length;
            if (length > 0 && bytes[length - 1] == '\r') length--;
            return length == bytes.length ? bytes : Arrays.copyOf(bytes, length);
        }

        boolean truncated() {
            return truncated;
        }
    }

    /**
     * Which lines of one file are settled (acknowledged, or reported as bad) and which still wait, so the
     * journal only ever records a prefix that is entirely settled. A line whose send failed stays unsettled:
     * the next run tries it again.
     */
    private final class FileProgress {
        private final Path file;
        private final long alreadyAcked;
        private final TreeSet<Long> waiting = new TreeSet<>();
        private long highestRead;
        private boolean allRead;
        private long lastNoteNanos = System.nanoTime();

        FileProgress(Path file, long alreadyAcked) {
            this.file = file;
            this.alreadyAcked = alreadyAcked;
            this.highestRead = alreadyAcked;
        }

        synchronized void sending(long line) {
            waiting.add(line);
            highestRead = Math.max(highestRead, line);
        }

        synchronized void settled(long line) {
            waiting.remove(line);
            highestRead = Math.max(highestRead, line);
            if (System.nanoTime() - lastNoteNanos > JOURNAL_EVERY_NANOS) note();
        }

        synchronized void allRead() {
            allRead = true;
            if (waiting.isEmpty()) note();
        }

        /** Tells the journal the settled prefix; after the last ack, lines still waiting are those whose send
         * failed. */
        synchronized void note() {
            lastNoteNanos = System.nanoTime();
            long settledPrefix = waiting.isEmpty() ? highestRead : waiting.first() - 1;
            if (journal != null && (allRead || settledPrefix > alreadyAcked)) journal.note(file, settledPrefix);
        }
    }

    /** The state of one load: problems so far, and the sends still waiting for their ack. */
    private final class Run {
        private final Queue<LoadReport.Problem> problems = new ConcurrentLinkedQueue<>();
        private final List<FileProgress> files = new ArrayList<>();
        private final Semaphore inFlight = new Semaphore(MAX_IN_FLIGHT);
        private final AtomicLong acknowledged = new AtomicLong();
        private long resumed;

        FileProgress start(Path file, long alreadyAcked) {
            FileProgress progress = new FileProgress(file, alreadyAcked);
            files.add(progress);
            resumed += alreadyAcked;
            return progress;
        }

        void problem(Path file, long line, String reason, String detail) {
            problems.add(new LoadReport.Problem(file, line, reason, detail));
            listener.problem();
        }

        void send(Document doc, FileProgress progress, long line) {
            progress.sending(line);
            if (!inFlight.tryAcquire()) {
                // A batching sink may hold unsent documents that the waited-for acks depend on.
                sink.flush();
                inFlight.acquireUninterruptibly();
            }
            CompletableFuture<?> ack;
            try {
                ack = sink.send(doc);
            } catch (RuntimeException e) {
                ack = CompletableFuture.failedFuture(e);
            }
            ack.whenComplete((ok, error) -> {
                if (error == null) {
                    acknowledged.incrementAndGet();
                    listener.acknowledged();
                    progress.settled(line);
                } else {
                    Throwable cause =
                            error instanceof CompletionException && error.getCause() != null ? error.getCause() : error;
                    if (cause instanceof DocumentSink.SinkRejection rejection) {
                        problem(progress.file, line, rejection.reason(), rejection.getMessage());
                        progress.settled(line);
                    } else {
                        problem(progress.file, line, "publish-failed", String.valueOf(cause));
                    }
                }
                inFlight.release();
            });
        }

        LoadReport awaitAcks() {
            inFlight.acquireUninterruptibly(MAX_IN_FLIGHT);
            inFlight.release(MAX_IN_FLIGHT);
            files.forEach(FileProgress::note);
            List<LoadReport.Problem> sorted = new ArrayList<>(problems);
            sorted.sort(Comparator.comparing((LoadReport.Problem p) -> p.path().toString())
                    .thenComparingLong(LoadReport.Problem::line));
            return new LoadReport(acknowledged.get(), resumed, sorted);
        }
    }
}
