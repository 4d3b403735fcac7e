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
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.stream.Stream;
import java.util.zip.GZIPInputStream;
import org.apache.kafka.clients.producer.RecordMetadata;

/**
 * Loads documents from files and publishes them: {@code .jsonl} (one JSON document per line) and
 * {@code .txt}/{@code .md} (one document per file, id from its content hash), each plain or {@code .gz}.
 * A bad line is reported with its line number and skipped; the rest goes through. A directory is
 * walked in name order, hidden entries skipped.
 */
public final class FileLoader {
  private final DocumentPublisher publisher;
  private final String defaultDomain;
  private final CurationConfig config;

  /** Documents without a domain get {@code defaultDomain}; they are checked against the default curation rules. */
  public FileLoader(DocumentPublisher publisher, String defaultDomain) {
    this(publisher, defaultDomain, CurationConfig.defaults());
  }

  /** Checks documents against {@code config} before publishing, so bad lines are reported here, by line. */
  public FileLoader(DocumentPublisher publisher, String defaultDomain, CurationConfig config) {
    if (!DocumentValidator.DOMAIN.matcher(defaultDomain).matches()) {
      throw new IllegalArgumentException("bad default domain '" + defaultDomain + "': must match " + DocumentValidator.DOMAIN.pattern());
    }
    this.publisher = publisher;
    this.defaultDomain = defaultDomain;
    this.config = config;
  }

  /** Loads one file or every file under a directory; returns once every published document is acknowledged. */
  public LoadReport load(Path path) {
    Run run = new Run();
    if (Files.isDirectory(path)) {
      try (Stream<Path> files = Files.walk(path)) {
        files.filter(Files::isRegularFile).filter(f -> !isHidden(path.relativize(f))).sorted().forEach(f -> loadFile(f, run));
      } catch (IOException | UncheckedIOException e) {
        run.problem(path, 0, "unreadable-file", e.toString());
      }
    } else {
      loadFile(path, run);
    }
    publisher.flush();
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
    try (InputStream raw = Files.newInputStream(file);
        InputStream in = new BufferedInputStream(gzip ? new GZIPInputStream(raw, 1 << 16) : raw, 1 << 16)) {
      if (jsonLines) loadJsonLines(file, in, run);
      else loadText(file, in, run);
    } catch (IOException e) {
      run.problem(file, 0, "unreadable-file", e.toString());
    }
  }

  private void loadJsonLines(Path file, InputStream in, Run run) throws IOException {
    LineReader lines = new LineReader(in, maxBytes());
    long lineNumber = 0;
    for (byte[] line = lines.next(); line != null; line = lines.next()) {
      lineNumber++;
      if (lines.truncated()) {
        run.problem(file, lineNumber, Reason.TEXT_TOO_LONG.code(), "line is longer than " + maxBytes() + " bytes");
        continue;
      }
      if (isBlankLine(line)) continue;
      try {
        Document doc = DocumentParser.parseJson(line, defaultDomain, Instant.now(), "file:" + file + ":" + lineNumber);
        DocumentValidator.validate(doc, config);
        run.publish(publisher.publish(doc), file, lineNumber);
      } catch (InvalidDocumentException e) {
        run.problem(file, lineNumber, e.reason().code(), e.getMessage());
      }
    }
  }

  private void loadText(Path file, InputStream in, Run run) throws IOException {
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
      run.publish(publisher.publish(doc), file, 0);
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

  /** The state of one load: problems so far, and the sends still waiting for their ack. */
  private static final class Run {
    private record Pending(CompletableFuture<RecordMetadata> ack, Path file, long line) {}

    private final List<LoadReport.Problem> problems = new ArrayList<>();
    private final List<Pending> pending = new ArrayList<>();

    void problem(Path file, long line, String reason, String detail) {
      problems.add(new LoadReport.Problem(file, line, reason, detail));
    }

    void publish(CompletableFuture<RecordMetadata> ack, Path file, long line) {
      pending.add(new Pending(ack, file, line));
    }

    LoadReport awaitAcks() {
      long published = 0;
      for (Pending p : pending) {
        try {
          p.ack().join();
          published++;
        } catch (CompletionException e) {
          problem(p.file(), p.line(), "publish-failed", String.valueOf(e.getCause()));
        }
      }
      return new LoadReport(published, problems);
    }
  }
}
