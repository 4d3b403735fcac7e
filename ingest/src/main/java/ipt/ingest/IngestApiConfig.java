package ipt.ingest;

import ipt.runtime.Setting;
import ipt.runtime.Setting.Change;
import ipt.runtime.Setting.Rule;
import ipt.runtime.Setting.Type;
import ipt.runtime.Settings;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * The HTTP ingest API's settings.
 *
 * @param host address to bind
 * @param port 0 picks a free one
 * @param token the bearer token every request must carry
 * @param maxBodyBytes larger request bodies get 413
 * @param maxDocumentBytes a larger document (its JSON) fails alone, as {@code document-too-large}
 * @param maxBatchDocuments more documents in one request get 400 {@code batch-too-long}
 */
public record IngestApiConfig(String host, int port, String token, int maxBodyBytes, int maxDocumentBytes, int maxBatchDocuments) {
  public IngestApiConfig {
    if (token == null || token.isBlank()) throw new IllegalArgumentException("the ingest API needs a bearer token");
    if (maxBodyBytes < 1 || maxDocumentBytes < 1 || maxBatchDocuments < 1) throw new IllegalArgumentException("limits must be positive");
  }

  public static IngestApiConfig of(String host, int port, String token) {
    return new IngestApiConfig(host, port, token, 16 << 20, 4 << 20, 1000);
  }

  /** The ingest API's settings, each declared once: README "HTTP ingest API" is this table ({@code ipt config --markdown}). */
  public static final Settings SETTINGS = new Settings("ingest-api", Settings.KAFKA, Settings.STATUS_PORT);
  static final Setting<String> HOST = SETTINGS.add(Setting.of("IPT_INGEST_HOST", Type.STRING, "0.0.0.0", Rule.ANY,
      Change.RESTART, "address the API binds"));
  static final Setting<Integer> PORT = SETTINGS.add(Setting.of("IPT_INGEST_PORT", Type.INT, 8081, Rule.between(1, 65535),
      Change.RESTART, "port of `POST /v1/documents`"));
  static final Setting<Path> TOKEN_FILE = SETTINGS.add(Setting.optional("IPT_INGEST_TOKEN_FILE", Type.PATH, "",
      Rule.exists(), Change.RESTART, "file holding the bearer token every request must carry (a mounted secret)"));
  public static final Setting<String> TOKEN = SETTINGS.add(Setting.optional("IPT_INGEST_TOKEN", Type.SECRET, "",
      Rule.ANY, Change.RESTART, "the bearer token itself, instead of `IPT_INGEST_TOKEN_FILE` (one of the two is required)"));
  static final Setting<Integer> MAX_BODY_BYTES = SETTINGS.add(Setting.of("IPT_INGEST_MAX_BODY_BYTES", Type.INT, 16 << 20,
      Rule.atLeast(1), Change.RESTART, "larger request bodies get 413"));
  static final Setting<Integer> MAX_DOCUMENT_BYTES = SETTINGS.add(Setting.of("IPT_INGEST_MAX_DOCUMENT_BYTES", Type.INT,
      4 << 20, Rule.atLeast(1), Change.RESTART, "a larger document (its JSON) fails alone, as `document-too-large`"));
  static final Setting<Integer> MAX_BATCH_DOCUMENTS = SETTINGS.add(Setting.of("IPT_INGEST_MAX_BATCH_DOCUMENTS", Type.INT,
      1000, Rule.atLeast(1), Change.RESTART, "more documents in one request get 400 `batch-too-long`"));

  /** From the environment ({@link #SETTINGS}). */
  public static IngestApiConfig fromEnv(Map<String, String> env) {
    return from(SETTINGS.parse(env));
  }

  static IngestApiConfig from(Settings.Values v) {
    Path file = v.get(TOKEN_FILE);
    String token = v.get(TOKEN);
    if (file != null && token != null) throw new IllegalArgumentException("set IPT_INGEST_TOKEN_FILE or IPT_INGEST_TOKEN, not both");
    if (file != null) {
      try {
        token = Files.readString(file).strip();
      } catch (IOException e) {
        throw new UncheckedIOException("cannot read IPT_INGEST_TOKEN_FILE " + file, e);
      }
    }
    if (token == null || token.isBlank()) {
      throw new IllegalArgumentException("the ingest API needs a bearer token: set IPT_INGEST_TOKEN_FILE or IPT_INGEST_TOKEN");
    }
    return new IngestApiConfig(v.get(HOST), v.get(PORT), token, v.get(MAX_BODY_BYTES), v.get(MAX_DOCUMENT_BYTES),
        v.get(MAX_BATCH_DOCUMENTS));
  }
}
