package ipt.ingest;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import ipt.schemas.Document;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * Sends documents to the HTTP ingest API ({@code POST /v1/documents}, NDJSON batches). A document's future
 * completes when the API answered that Kafka acknowledged it. Outages (connection errors, 5xx, 429, a
 * per-document {@code publish-failed}) are retried with the same ids until {@code retryFor} runs out, so a
 * retry never adds a duplicate downstream; a 413 splits the batch.
 */
public final class HttpDocumentSink implements DocumentSink {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int MAX_REQUESTS_IN_FLIGHT = 4;
    private static final Duration FIRST_BACKOFF = Duration.ofMillis(200);
    private static final Duration MAX_BACKOFF = Duration.ofSeconds(5);

    private record Pending(Document document, byte[] line, CompletableFuture<Void> acked) {}

    private final HttpClient client =
            HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
    private final URI endpoint;
    private final String token;
    private final int batchDocuments;
    private final int batchBytes;
    private final Duration retryFor;
    private final Semaphore requests = new Semaphore(MAX_REQUESTS_IN_FLIGHT);
    private List<Pending> batch = new ArrayList<>();
    private int bytesInBatch;

    /**
     * @param baseUrl the API's base URL, e.g. {@code http://localhost:8080}
     * @param batchDocuments documents per request (the server's batch limit bounds it)
     * @param batchBytes body bytes per request before the batch is sent early (below the server's body limit)
     */
    public HttpDocumentSink(URI baseUrl, String token, int batchDocuments, int batchBytes, Duration retryFor) {
        if (batchDocuments < 1 || batchBytes < 1) throw new IllegalArgumentException("batch limits must be positive");
        this.endpoint = baseUrl.resolve("/v1/documents");
        this.token = token;
        this.batchDocuments = batchDocuments;
        this.batchBytes = batchBytes;
        this.retryFor = retryFor;
    }

    @Override
    public synchronized CompletableFuture<Void> send(Document document) {
        Pending pending = new Pending(document, ndjsonLine(document), new CompletableFuture<>());
        if (!batch.isEmpty() && bytesInBatch + pending.line().length > batchBytes) flush();
        batch.add(pending);
        bytesInBatch += pending.line().length;
        if (batch.size() >= batchDocuments) flush();
        return pending.acked();
    }

    @Override
    public synchronized void flush() {
        if (batch.isEmpty()) return;
        List<Pending> full = batch;
        batch = new ArrayList<>();
        bytesInBatch = 0;
        // Blocks the caller while MAX_REQUESTS_IN_FLIGHT are out: back-pressure instead of unbounded buffering.
        requests.acquireUninterruptibly();
        post(full, System.nanoTime() + retryFor.toNanos(), FIRST_BACKOFF).whenComplete((ok, e) -> requests.release());
    }

    /** Sends what is buffered and waits until every request finished. */
    @Override
    public void close() {
        flush();
        requests.acquireUninterruptibly(MAX_REQUESTS_IN_FLIGHT);
        requests.release(MAX_REQUESTS_IN_FLIGHT);
    }

    private CompletableFuture<Void> post(List<Pending> docs, long deadlineNanos, Duration backoff) {
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        docs.forEach(d -> body.writeBytes(d.line()));
        HttpRequest request = HttpRequest.newBuilder(endpoint)
                .timeout(Duration.ofMinutes(2))
                .header("Authorization", "Bearer " + token)
                .header("Content-Type", "application/x-ndjson")
                .POST(HttpRequest.BodyPublishers.ofByteArray(body.toByteArray()))
                .build();
        return client.sendAsync(request, HttpResponse.BodyHandlers.ofByteArray())
                .handle((response, error) -> {
                    if (error != null)
                        return retry(docs, deadlineNanos, backoff, "API unreachable: " + error.getCause(), null);
                    return answered(docs, response, deadlineNanos, backoff);
                })
                .thenCompose(next -> next);
    }

    private CompletableFuture<Void> answered(
            List<Pending> docs, HttpResponse<byte[]> response, long deadlineNanos, Duration backoff) {
        int status = response.statusCode();
        JsonNode body = parse(response.body());
        if (status == 413 && docs.size() > 1) {
            int half = docs.size() / 2;
            return CompletableFuture.allOf(
                    post(docs.subList(0, half), deadlineNanos, backoff),
                    post(docs.subList(half, docs.size()), deadlineNanos, backoff));
        }
        if (body != null && body.has("failed") && (status == 202 || status == 207 || status == 400 || status == 503)) {
            List<Pending> again = new ArrayList<>();
            Set<Integer> failedIndexes = new HashSet<>();
            for (JsonNode failure : body.get("failed")) {
                int index = failure.path("index").asInt(-1);
                if (index < 0 || index >= docs.size()) continue;
                failedIndexes.add(index);
                String reason = failure.path("reason").asText("unknown");
                if (reason.equals("publish-failed")) again.add(docs.get(index));
                else
                    docs.get(index)
                            .acked()
                            .completeExceptionally(new SinkRejection(
                                    reason, failure.path("detail").asText("")));
            }
            for (int i = 0; i < docs.size(); i++) {
                if (!failedIndexes.contains(i)) docs.get(i).acked().complete(null);
            }
            return again.isEmpty()
                    ? CompletableFuture.completedFuture(null)
                    : retry(again, deadlineNanos, backoff, "Kafka did not acknowledge", retryAfter(response));
        }
        if (status == 429 || status >= 500) {
            return retry(
                    docs, deadlineNanos, backoff, "HTTP " + status + " " + errorDetail(body), retryAfter(response));
        }
        String reason =
                body != null && body.hasNonNull("error") ? body.get("error").asText() : "http-" + status;
        SinkRejection rejection = new SinkRejection(reason, "HTTP " + status + ": " + errorDetail(body));
        docs.forEach(d -> d.acked().completeExceptionally(rejection));
        return CompletableFuture.completedFuture(null);
    }

    private CompletableFuture<Void> retry(
            List<Pending> docs, long deadlineNanos, Duration backoff, String why, Duration retryAfter) {
        Duration wait = retryAfter != null ? retryAfter : backoff;
        if (System.nanoTime() + wait.toNanos() > deadlineNanos) {
            IOException gaveUp = new IOException(why + " (gave up after " + retryFor.toSeconds() + " s of retries)");
            docs.forEach(d -> d.acked().completeExceptionally(gaveUp));
            return CompletableFuture.completedFuture(null);
        }
        Duration next = backoff.multipliedBy(2).compareTo(MAX_BACKOFF) > 0 ? MAX_BACKOFF : backoff.multipliedBy(2);
        return CompletableFuture.supplyAsync(
                        () -> null, CompletableFuture.delayedExecutor(wait.toMillis(), TimeUnit.MILLISECONDS))
                .thenCompose(ignored -> post(docs, deadlineNanos, next));
    }

    private static Duration retryAfter(HttpResponse<?> response) {
        return response.headers()
                .firstValue("Retry-After")
                .flatMap(v -> {
                    try {
                        return Optional.of(Duration.ofSeconds(Math.min(30, Long.parseLong(v.trim()))));
                    } catch (NumberFormatException e) {
                        return Optional.empty();
                    }
                })
                .orElse(null);
    }

    private static JsonNode parse(byte[] body) {
        try {
            return body.length == 0 ? null : JSON.readTree(body);
        } catch (IOException e) {
            return null;
        }
    }

    private static String errorDetail(JsonNode body) {
        return body != null && body.hasNonNull("detail") ? body.get("detail").asText() : "";
    }

    private static byte[] ndjsonLine(Document document) {
        ObjectNode node = JSON.createObjectNode()
                .put("id", document.getId())
                .put("domain", document.getDomain())
                .put("text", document.getText())
                .put("source", document.getSource());
        ObjectNode metadata = node.putObject("metadata");
        document.getMetadata().forEach((k, v) -> metadata.put(k.toString(), v.toString()));
        try {
            byte[] json = JSON.writeValueAsBytes(node);
            byte[] line = Arrays.copyOf(json, json.length + 1);
            line[json.length] = '\n';
            return line;
        } catch (IOException e) {
            throw new IllegalStateException("a document always serialises", e);
        }
    }
}
