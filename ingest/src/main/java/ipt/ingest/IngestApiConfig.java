package ipt.ingest;

import ipt.runtime.Setting;
import ipt.runtime.Setting.Change;
import ipt.runtime.Setting.Rule;
import ipt.runtime.Setting.Type;
import ipt.runtime.Settings;
import java.io.IOException;
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
 * @param minRequestBytesPerSecond a body arriving slower than this, averaged from the request's start, ends in 408
 * @param headerTimeoutMs a connection that has not sent a whole request head within this is closed
 * @param idleTimeoutMs a connection silent this long (in a body or between requests) is closed
 * @param maxConcurrentRequests requests whose body is in and which are being parsed and published at once; more get
 *     503 with {@code Retry-After}
 */
public record IngestApiConfig(
        String host,
        int port,
        String token,
        int maxBodyBytes,
        int maxDocumentBytes,
        int maxBatchDocuments,
        int minRequestBytesPerSecond,
        int headerTimeoutMs,
        int idleTimeoutMs,
        int maxConcurrentRequests) {
    public IngestApiConfig {
        if (token == null || token.isBlank()) throw new IllegalArgumentException("the ingest API needs a bearer token");
        if (maxBodyBytes < 1 || maxDocumentBytes < 1 || maxBatchDocuments < 1)
            throw new IllegalArgumentException("limits must be positive");
        if (minRequestBytesPerSecond < 0)
            throw new IllegalArgumentException("minRequestBytesPerSecond must be 0 (off) or positive");
        if (headerTimeoutMs < 1 || idleTimeoutMs < 1) throw new IllegalArgumentException("timeouts must be positive");
        if (maxConcurrentRequests < 1) throw new IllegalArgumentException("maxConcurrentRequests must be positive");
    }

    /** 16 MiB bodies, 4 MiB documents, 1000 per batch; 4 KiB/s at least, 10 s for a request head, 30 s idle, 64 at
     * once. */
    public static IngestApiConfig of(String host, int port, String token) {
        return new IngestApiConfig(host, port, token, 16 << 20, 4 << 20, 1000, 4096, 10_000, 30_000, 64);
    }

    public IngestApiConfig withConnectionLimits(
            int minRequestBytesPerSecond, int headerTimeoutMs, int idleTimeoutMs, int maxConcurrentRequests) {
        return new IngestApiConfig(
                host,
                port,
                token,
                maxBodyBytes,
                maxDocumentBytes,
                maxBatchDocuments,
                minRequestBytesPerSecond,
                headerTimeoutMs,
                idleTimeoutMs,
                maxConcurrentRequests);
    }

    /** The ingest API's settings, each declared once: README "HTTP ingest API" is this table ({@code ipt config
     * --markdown}). */
    public static final Settings SETTINGS = new Settings(
            "ingest-api", Settings.KAFKA, Settings.STATUS_PORT, Settings.STATUS_BIND, Settings.STOP_SECONDS);

    static final Setting<String> HOST = SETTINGS.add(
            Setting.of("IPT_INGEST_HOST", Type.STRING, "0.0.0.0", Rule.ANY, Change.RESTART, "address the API binds"));
    static final Setting<Integer> PORT = SETTINGS.add(Setting.of(
            "IPT_INGEST_PORT", Type.INT, 8081, Rule.between(1, 65535), Change.RESTART, "port of `POST /v1/documents`"));
    static final Setting<Path> TOKEN_FILE = SETTINGS.add(Setting.optional(
            "IPT_INGEST_TOKEN_FILE",
            Type.PATH,
            "",
            Rule.exists(),
            Change.RESTART,
            "file holding the bearer token every request must carry (a mounted secret)"));
    public static final Setting<String> TOKEN = SETTINGS.add(Setting.optional(
            "IPT_INGEST_TOKEN",
            Type.SECRET,
            "",
            Rule.ANY,
            Change.RESTART,
            "the bearer token itself, instead of `IPT_INGEST_TOKEN_FILE` (one of the two is required)"));
    static final Setting<Integer> MAX_BODY_BYTES = SETTINGS.add(Setting.of(
            "IPT_INGEST_MAX_BODY_BYTES",
            Type.INT,
            16 << 20,
            Rule.atLeast(1),
            Change.RESTART,
            "larger request bodies get 413"));
    static final Setting<Integer> MAX_DOCUMENT_BYTES = SETTINGS.add(Setting.of(
            "IPT_INGEST_MAX_DOCUMENT_BYTES",
            Type.INT,
            4 << 20,
            Rule.atLeast(1),
            Change.RESTART,
            "a larger document (its JSON) fails alone, as `document-too-large`"));
    static final Setting<Integer> MAX_BATCH_DOCUMENTS = SETTINGS.add(Setting.of(
            "IPT_INGEST_MAX_BATCH_DOCUMENTS",
            Type.INT,
            1000,
            Rule.atLeast(1),
            Change.RESTART,
            "more documents in one request get 400 `batch-too-long`"));
    static final Setting<Integer> MIN_REQUEST_BYTES_PER_SECOND = SETTINGS.add(Setting.of(
            "IPT_INGEST_MIN_REQUEST_BYTES_PER_SECOND",
            Type.INT,
            4096,
            Rule.atLeast(0),
            Change.RESTART,
            "a request body arriving slower than this is cut off (408); 0 turns the check off"));
    static final Setting<Integer> HEADER_TIMEOUT_MS = SETTINGS.add(Setting.of(
            "IPT_INGEST_HEADER_TIMEOUT_MS",
            Type.INT,
            10_000,
            Rule.atLeast(1),
            Change.RESTART,
            "time a client has to send a request's head"));
    static final Setting<Integer> IDLE_TIMEOUT_MS = SETTINGS.add(Setting.of(
            "IPT_INGEST_IDLE_TIMEOUT_MS",
            Type.INT,
            30_000,
            Rule.atLeast(1),
            Change.RESTART,
            "a connection that sends nothing for this long is closed"));
    static final Setting<Integer> MAX_CONCURRENT_REQUESTS = SETTINGS.add(Setting.of(
            "IPT_INGEST_MAX_CONCURRENT_REQUESTS",
            Type.INT,
            64,
            Rule.atLeast(1),
            Change.RESTART,
            "requests handled at once; more get 503 `overloaded` with `Retry-After`"));

    /** From the environment ({@link #SETTINGS}). */
    public static IngestApiConfig fromEnv(Map<String, String> env) {
        return from(SETTINGS.parse(env));
    }

    static IngestApiConfig from(Settings.Values v) {
        Path file = v.get(TOKEN_FILE);
        String token = v.get(TOKEN);
        if (file != null && token != null)
            throw new IllegalArgumentException("set IPT_INGEST_TOKEN_FILE or IPT_INGEST_TOKEN, not both");
        if (file != null) {
            try {
                token = Files.readString(file).strip();
            } catch (IOException e) {
                throw new IllegalArgumentException("cannot read IPT_INGEST_TOKEN_FILE " + file + ": " + e.getMessage());
            }
        }
        if (token == null || token.isBlank()) {
            throw new IllegalArgumentException(
                    "the ingest API needs a bearer token: set IPT_INGEST_TOKEN_FILE or IPT_INGEST_TOKEN");
        }
        return new IngestApiConfig(
                v.get(HOST),
                v.get(PORT),
                token,
                v.get(MAX_BODY_BYTES),
                v.get(MAX_DOCUMENT_BYTES),
                v.get(MAX_BATCH_DOCUMENTS),
                v.get(MIN_REQUEST_BYTES_PER_SECOND),
                v.get(HEADER_TIMEOUT_MS),
                v.get(IDLE_TIMEOUT_MS),
                v.get(MAX_CONCURRENT_REQUESTS));
    }
}
