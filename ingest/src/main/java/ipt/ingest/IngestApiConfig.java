package ipt.ingest;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
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
 * @param minRequestBytesPerSecond a body arriving slower than this, averaged from the request's start, ends in 408
 * @param headerTimeoutMs a connection that has not sent a whole request head within this is closed
 * @param idleTimeoutMs a connection silent this long (in a body or between requests) is closed
 * @param maxConcurrentRequests requests whose body is in and which are being parsed and published at once; more get
 *     503 with {@code Retry-After}
 */
public record IngestApiConfig(
    String host, int port, String token, int maxBodyBytes, int maxDocumentBytes, int maxBatchDocuments,
    int minRequestBytesPerSecond, int headerTimeoutMs, int idleTimeoutMs, int maxConcurrentRequests) {
  public IngestApiConfig {
    if (token == null || token.isBlank()) throw new IllegalArgumentException("the ingest API needs a bearer token");
    if (maxBodyBytes < 1 || maxDocumentBytes < 1 || maxBatchDocuments < 1) throw new IllegalArgumentException("limits must be positive");
    if (minRequestBytesPerSecond < 0) throw new IllegalArgumentException("minRequestBytesPerSecond must be 0 (off) or positive");
    if (headerTimeoutMs < 1 || idleTimeoutMs < 1) throw new IllegalArgumentException("timeouts must be positive");
    if (maxConcurrentRequests < 1) throw new IllegalArgumentException("maxConcurrentRequests must be positive");
  }

  /** 16 MiB bodies, 4 MiB documents, 1000 per batch; 4 KiB/s at least, 10 s for a request head, 30 s idle, 64 at once. */
  public static IngestApiConfig of(String host, int port, String token) {
    return new IngestApiConfig(host, port, token, 16 << 20, 4 << 20, 1000, 4096, 10_000, 30_000, 64);
  }

  public IngestApiConfig withConnectionLimits(int minRequestBytesPerSecond, int headerTimeoutMs, int idleTimeoutMs, int maxConcurrentRequests) {
    return new IngestApiConfig(host, port, token, maxBodyBytes, maxDocumentBytes, maxBatchDocuments, minRequestBytesPerSecond,
        headerTimeoutMs, idleTimeoutMs, maxConcurrentRequests);
  }

  /**
   * From {@code IPT_INGEST_HOST} (default 0.0.0.0), {@code IPT_INGEST_PORT} (8081), the token from
   * {@code IPT_INGEST_TOKEN_FILE} (a mounted secret) or {@code IPT_INGEST_TOKEN}, and
   * {@code IPT_INGEST_MAX_BODY_BYTES}, {@code IPT_INGEST_MAX_DOCUMENT_BYTES}, {@code IPT_INGEST_MAX_BATCH_DOCUMENTS},
   * {@code IPT_INGEST_MIN_REQUEST_BYTES_PER_SECOND}, {@code IPT_INGEST_HEADER_TIMEOUT_MS},
   * {@code IPT_INGEST_IDLE_TIMEOUT_MS}, {@code IPT_INGEST_MAX_CONCURRENT_REQUESTS} (defaults as in {@link #of}).
   */
  public static IngestApiConfig fromEnv(Map<String, String> env) {
    String file = env.get("IPT_INGEST_TOKEN_FILE");
    String token = env.get("IPT_INGEST_TOKEN");
    if (file != null && token != null) throw new IllegalArgumentException("set IPT_INGEST_TOKEN_FILE or IPT_INGEST_TOKEN, not both");
    if (file != null) {
      try {
        token = Files.readString(Path.of(file)).strip();
      } catch (NoSuchFileException e) {
        throw new IllegalArgumentException("IPT_INGEST_TOKEN_FILE names " + file + ", which does not exist");
      } catch (IOException e) {
        throw new IllegalArgumentException("cannot read IPT_INGEST_TOKEN_FILE " + file + ": " + e.getMessage());
      }
    }
    if (token == null || token.isBlank()) {
      throw new IllegalArgumentException("the ingest API needs a bearer token: set IPT_INGEST_TOKEN_FILE or IPT_INGEST_TOKEN");
    }
    IngestApiConfig d = of("0.0.0.0", 8081, token);
    return new IngestApiConfig(env.getOrDefault("IPT_INGEST_HOST", d.host()),
        intOf(env, "IPT_INGEST_PORT", d.port()), token,
        intOf(env, "IPT_INGEST_MAX_BODY_BYTES", d.maxBodyBytes()),
        intOf(env, "IPT_INGEST_MAX_DOCUMENT_BYTES", d.maxDocumentBytes()),
        intOf(env, "IPT_INGEST_MAX_BATCH_DOCUMENTS", d.maxBatchDocuments()),
        intOf(env, "IPT_INGEST_MIN_REQUEST_BYTES_PER_SECOND", d.minRequestBytesPerSecond()),
        intOf(env, "IPT_INGEST_HEADER_TIMEOUT_MS", d.headerTimeoutMs()),
        intOf(env, "IPT_INGEST_IDLE_TIMEOUT_MS", d.idleTimeoutMs()),
        intOf(env, "IPT_INGEST_MAX_CONCURRENT_REQUESTS", d.maxConcurrentRequests()));
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
