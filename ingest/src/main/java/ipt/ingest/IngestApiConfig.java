package ipt.ingest;

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

  /**
   * From {@code IPT_INGEST_HOST} (default 0.0.0.0), {@code IPT_INGEST_PORT} (8081), the token from
   * {@code IPT_INGEST_TOKEN_FILE} (a mounted secret) or {@code IPT_INGEST_TOKEN}, and
   * {@code IPT_INGEST_MAX_BODY_BYTES}, {@code IPT_INGEST_MAX_DOCUMENT_BYTES}, {@code IPT_INGEST_MAX_BATCH_DOCUMENTS}.
   */
  public static IngestApiConfig fromEnv(Map<String, String> env) {
    String file = env.get("IPT_INGEST_TOKEN_FILE");
    String token = env.get("IPT_INGEST_TOKEN");
    if (file != null && token != null) throw new IllegalArgumentException("set IPT_INGEST_TOKEN_FILE or IPT_INGEST_TOKEN, not both");
    if (file != null) {
      try {
        token = Files.readString(Path.of(file)).strip();
      } catch (IOException e) {
        throw new UncheckedIOException("cannot read IPT_INGEST_TOKEN_FILE " + file, e);
      }
    }
    if (token == null || token.isBlank()) {
      throw new IllegalArgumentException("the ingest API needs a bearer token: set IPT_INGEST_TOKEN_FILE or IPT_INGEST_TOKEN");
    }
    IngestApiConfig defaults = of("0.0.0.0", 8081, token);
    return new IngestApiConfig(env.getOrDefault("IPT_INGEST_HOST", defaults.host()),
        intOf(env, "IPT_INGEST_PORT", defaults.port()), token,
        intOf(env, "IPT_INGEST_MAX_BODY_BYTES", defaults.maxBodyBytes()),
        intOf(env, "IPT_INGEST_MAX_DOCUMENT_BYTES", defaults.maxDocumentBytes()),
        intOf(env, "IPT_INGEST_MAX_BATCH_DOCUMENTS", defaults.maxBatchDocuments()));
  }

  private static int intOf(Map<String, String> env, String name, int fallback) {
    String value = env.get(name);
    if (value == null) return fallback;
    try {
      return Integer.parseInt(value.strip());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(name + " must be an integer, not '" + value + "'");
    }
  }
}
