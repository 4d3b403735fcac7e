package ipt.ingest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import ipt.schemas.Document;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The client's side of the API contract (retries, splits, per-document results), against a scripted server. */
class HttpDocumentSinkTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** Each request gets the next answer; the answer sees the request's documents' ids. */
    private record Answer(int status, Function<List<String>, String> body) {}

    private final Queue<Answer> script = new ConcurrentLinkedQueue<>();
    private final List<List<String>> requests = new ArrayList<>();
    private final List<String> authorizations = new ArrayList<>();
    private final HttpServer server;

    HttpDocumentSinkTest() throws IOException {
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.createContext("/v1/documents", this::answer);
        server.start();
    }

    @AfterEach
    void stop() {
        server.stop(0);
    }

    private synchronized void answer(HttpExchange exchange) throws IOException {
        List<String> ids = new ArrayList<>();
        for (String line : new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
            ids.add(JSON.readTree(line).get("id").asText());
        }
        requests.add(ids);
        authorizations.add(exchange.getRequestHeaders().getFirst("Authorization") + " "
                + exchange.getRequestHeaders().getFirst("Content-Type"));
        Answer answer = script.remove();
        byte[] body = answer.body().apply(ids).getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().add("Content-Type", "application/json");
        if (answer.status() == 503) exchange.getResponseHeaders().add("Retry-After", "0");
        exchange.sendResponseHeaders(answer.status(), body.length);
        exchange.getResponseBody().write(body);
        exchange.close();
    }

    private static String accepted(List<String> ids) {
        return JSON.createObjectNode()
                .<ObjectNode>set("accepted", JSON.valueToTree(ids))
                .set("failed", JSON.createArrayNode())
                .toString();
    }

    private HttpDocumentSink sink(int batch, Duration retryFor) {
        return new HttpDocumentSink(
                URI.create("http://127.0.0.1:" + server.getAddress().getPort()), "s3cret", batch, 1 << 20, retryFor);
    }

    private static Document doc(String id) {
        return Document.newBuilder()
                .setId(id)
                .setDomain("en")
                .setText("text of " + id)
                .setSource("test")
                .setIngestTime(Instant.EPOCH)
                .setMetadata(Map.of("k", "v"))
                .build();
    }

    @Test
    void batchesAsNdjsonWithTheTokenAndRetriesAnOutageWithTheSameIds() throws Exception {
        script.add(new Answer(503, ids -> "{\"error\":\"kafka-unavailable\",\"detail\":\"no broker\"}"));
        script.add(new Answer(202, HttpDocumentSinkTest::accepted));
        try (HttpDocumentSink sink = sink(3, Duration.ofSeconds(30))) {
            List<CompletableFuture<?>> acks = List.of(sink.send(doc("a")), sink.send(doc("b")), sink.send(doc("c")));
            CompletableFuture.allOf(acks.toArray(CompletableFuture[]::new)).get();
        }
        assertEquals(List.of(List.of("a", "b", "c"), List.of("a", "b", "c")), requests);
        assertEquals("Bearer s3cret application/x-ndjson", authorizations.get(0));
    }

    @Test
    void onlyTheDocumentsKafkaDidNotAckAreSentAgainAndRefusedOnesFailWithTheirReason() throws Exception {
        script.add(new Answer(
                207,
                ids -> "{\"accepted\":[\"a\"],\"failed\":["
                        + "{\"index\":1,\"id\":\"b\",\"reason\":\"publish-failed\",\"detail\":\"timeout\"},"
                        + "{\"index\":2,\"id\":\"c\",\"reason\":\"empty-text\",\"detail\":\"text is blank\"}]}"));
        script.add(new Answer(202, HttpDocumentSinkTest::accepted));
        CompletableFuture<?> a;
        CompletableFuture<?> b;
        CompletableFuture<?> c;
        try (HttpDocumentSink sink = sink(3, Duration.ofSeconds(30))) {
            a = sink.send(doc("a"));
            b = sink.send(doc("b"));
            c = sink.send(doc("c"));
        }
        a.get();
        b.get();
        ExecutionException refused = assertThrows(ExecutionException.class, c::get);
        DocumentSink.SinkRejection rejection = assertInstanceOf(DocumentSink.SinkRejection.class, refused.getCause());
        assertEquals("empty-text", rejection.reason());
        assertEquals(List.of(List.of("a", "b", "c"), List.of("b")), requests);
    }

    @Test
    void aBatchTooLargeIsSplitAndAWrongTokenFailsEveryDocument() throws Exception {
        script.add(new Answer(413, ids -> "{\"error\":\"body-too-large\",\"detail\":\"over 16 MiB\"}"));
        script.add(new Answer(202, HttpDocumentSinkTest::accepted));
        script.add(new Answer(401, ids -> "{\"error\":\"unauthorized\",\"detail\":\"wrong token\"}"));
        CompletableFuture<?> first;
        CompletableFuture<?> second;
        try (HttpDocumentSink sink = sink(2, Duration.ofSeconds(30))) {
            first = sink.send(doc("a"));
            second = sink.send(doc("b"));
        }
        List<Boolean> outcomes = new ArrayList<>();
        for (CompletableFuture<?> f : List.of(first, second)) {
            try {
                f.get();
                outcomes.add(true);
            } catch (ExecutionException e) {
                assertEquals("unauthorized", ((DocumentSink.SinkRejection) e.getCause()).reason());
                outcomes.add(false);
            }
        }
        assertEquals(3, requests.size());
        assertEquals(List.of("a", "b"), requests.get(0));
        assertTrue(outcomes.contains(true) && outcomes.contains(false), outcomes.toString());
    }

    @Test
    void givesUpWhenTheApiStaysDownPastTheRetryWindow() {
        for (int i = 0; i < 50; i++) script.add(new Answer(503, ids -> "{}"));
        CompletableFuture<?> ack;
        try (HttpDocumentSink sink = sink(1, Duration.ofMillis(500))) {
            ack = sink.send(doc("a"));
        }
        ExecutionException failed = assertThrows(ExecutionException.class, ack::get);
        assertInstanceOf(IOException.class, failed.getCause());
        assertTrue(requests.size() > 1, "retried before giving up: " + requests.size());
    }
}
