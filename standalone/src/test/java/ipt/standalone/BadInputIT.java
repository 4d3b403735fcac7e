package ipt.standalone;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import ipt.ingest.CurationConfig;
import ipt.ingest.CurationService;
import ipt.ingest.IngestApi;
import ipt.ingest.IngestApiConfig;
import ipt.runtime.KafkaSettings;
import ipt.schemas.AvroSerde;
import ipt.schemas.Document;
import ipt.schemas.RejectedDocument;
import ipt.schemas.Topics;
import ipt.testsupport.EmbeddedKafka;
import ipt.testsupport.SyntheticProse;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.zip.GZIPOutputStream;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Over a hundred distinct malformed inputs, HTTP requests and raw Kafka records, against the real ingest API
 * and curation service on a real broker, each mixed with valid documents: every bad one gets its 4xx or its
 * DLQ record with the expected reason and original bytes, neither service restarts, and every valid document
 * comes out of curation exactly once. The table of inputs and outcomes goes to target/bad-inputs.md.
 */
class BadInputIT {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final AvroSerde<Document> DOCUMENTS = AvroSerde.of(Document.class);
    private static final String TOKEN = "bad-input-token";
    private static final java.util.regex.Pattern JACKSON_WORDS = java.util.regex.Pattern.compile(
            "(?i)jackson|FAIL_ON|DeserializationFeature|JsonNode|`|StreamReadConstraints|START_OBJECT");

    @TempDir
    Path work;

    private final List<SyntheticProse.Doc> prose = SyntheticProse.load().documents("valid", 400, 600, 11);
    private int nextValid;
    private final List<String> validIds = new ArrayList<>();
    private final List<String> table = new ArrayList<>();
    private URI api;

    /** A valid document's JSON, counted as expected exactly once in the output. */
    private String valid() {
        SyntheticProse.Doc d = prose.get(nextValid++);
        validIds.add(d.id());
        return new String(d.json(), StandardCharsets.UTF_8);
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) out.writeBytes(p);
        return out.toByteArray();
    }

    private record Reply(int status, JsonNode body) {}

    private final HttpClient http =
            HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    private Reply post(String method, String path, Map<String, String> headers, byte[] body, boolean chunked)
            throws IOException, InterruptedException {
        HttpRequest.BodyPublisher publisher = body == null
                ? HttpRequest.BodyPublishers.noBody()
                : chunked
                        ? HttpRequest.BodyPublishers.ofInputStream(() -> new ByteArrayInputStream(body))
                        : HttpRequest.BodyPublishers.ofByteArray(body);
        HttpRequest.Builder request = HttpRequest.newBuilder(api.resolve(path)).method(method, publisher);
        headers.forEach(request::header);
        HttpResponse<byte[]> response;
        try {
            response = http.send(request.build(), HttpResponse.BodyHandlers.ofByteArray());
        } catch (IOException e) {
            // The server may answer 413 and close before the whole body is sent: retry with a body-less probe is not
            // the same request, so surface it.
            throw new IOException(method + " " + path + " failed: " + e, e);
        }
        byte[] bytes = response.body();
        return new Reply(response.statusCode(), bytes.length == 0 ? null : JSON.readTree(bytes));
    }

    private static Map<String, String> auth(String contentType) {
        Map<String, String> h = new LinkedHashMap<>();
        h.put("Authorization", "Bearer " + TOKEN);
        if (contentType != null) h.put("Content-Type", contentType);
        return h;
    }

    /** A request that must fail as a whole: its status and error code. */
    private void whole(
            String name,
            String method,
            String path,
            Map<String, String> headers,
            byte[] body,
            boolean chunked,
            int status,
            String code)
            throws IOException, InterruptedException {
        Reply r = post(method, path, headers, body, chunked);
        String got =
                r.body() == null ? "" : r.body().path("error").asText(r.body().toString());
        table.add("| http | " + name + " | " + r.status() + " " + got + " |");
        assertEquals(status, r.status(), name + ": " + r.body());
        if (code != null) assertEquals(code, r.body().path("error").asText(), name + ": " + r.body());
        if (r.body() != null) assertInOwnWords(name, r.body().path("detail").asText());
    }

    /** Error details speak of the request, not of the JSON library's classes and settings. */
    private static void assertInOwnWords(String name, String detail) {
        assertTrue(!JACKSON_WORDS.matcher(detail).find(), name + ": detail names library internals: " + detail);
    }

    /** A JSON-array batch of a valid document, the bad one, and another valid one: 207 naming the bad one's reason. */
    private void inBatch(String name, String badJson, String reason) throws IOException, InterruptedException {
        String body = "[" + valid() + "," + badJson + "," + valid() + "]";
        checkPartial(name, post("POST", "/v1/documents", auth("application/json"), utf8(body), false), reason, 1);
    }

    private void inNdjson(String name, byte[] badLine, String reason) throws IOException, InterruptedException {
        byte[] body = concat(utf8(valid() + "\n"), badLine, utf8("\n" + valid() + "\n"));
        checkPartial(name, post("POST", "/v1/documents", auth("application/x-ndjson"), body, false), reason, 1);
    }

    private void checkPartial(String name, Reply r, String reason, int index) {
        JsonNode failed = r.body().path("failed");
        table.add("| http | " + name + " | " + r.status() + " "
                + failed.path(0).path("reason").asText() + " |");
        assertEquals(207, r.status(), name + ": " + r.body());
        assertEquals(2, r.body().path("accepted").size(), name + ": " + r.body());
        assertEquals(1, failed.size(), name + ": " + r.body());
        assertEquals(index, failed.get(0).path("index").asInt(), name);
        assertEquals(reason, failed.get(0).path("reason").asText(), name + ": " + r.body());
        assertInOwnWords(name, failed.get(0).path("detail").asText());
    }

    @Test
    void everyBadInputGetsAClearAnswerAndEveryValidDocumentArrivesExactlyOnce() throws Exception {
        try (EmbeddedKafka broker = EmbeddedKafka.start()) {
            Map<String, Object> kafka = KafkaSettings.of(broker.bootstrapServers());
            try (Admin admin = Admin.create(kafka)) {
                Topics.ensure(admin, Topics.specs(3), (short) 1);
            }
            CurationConfig config = CurationConfig.defaults();
            try (CurationService curation =
                            CurationService.start(kafka, config, work.resolve("streams"), new PrometheusRegistry());
                    IngestApi ingest = IngestApi.start(
                            IngestApiConfig.of("127.0.0.1", 0, TOKEN), kafka, config, new PrometheusRegistry())) {
                api = ingest.url();
                int httpCases = httpCases();
                Map<String, List<String>> expectedByBytes = new HashMap<>();
                int kafkaCases = kafkaCases(kafka, expectedByBytes);

                assertTrue(curation.health().ok() && ingest.health().ok(), "both services still up");
                CurationOutput output = CurationOutput.read(kafka, Duration.ofMinutes(2));
                for (String id : validIds)
                    assertEquals(1, output.kept().getOrDefault(id, 0), "valid document " + id + " exactly once");
                Map<String, List<String>> rejectedByBytes = new HashMap<>();
                for (RejectedDocument d : output.rejected()) {
                    ByteBuffer original = d.getOriginalBytes();
                    byte[] bytes = new byte[original.remaining()];
                    original.get(bytes);
                    rejectedByBytes
                            .computeIfAbsent(HexFormat.of().formatHex(bytes), k -> new ArrayList<>())
                            .add(d.getReason() + "@" + d.getStage());
                }
                List<String> mismatches = new ArrayList<>();
                for (var e : expectedByBytes.entrySet()) {
                    List<String> got = rejectedByBytes.getOrDefault(e.getKey(), List.of()).stream()
                            .map(r -> r.substring(0, r.indexOf('@')))
                            .sorted()
                            .toList();
                    if (!got.equals(e.getValue().stream().sorted().toList()))
                        mismatches.add(abbreviate(e.getKey()) + ": expected " + e.getValue() + ", got " + got);
                }
                assertEquals(List.of(), mismatches, "DLQ records by original bytes");
                assertTrue(curation.health().ok() && ingest.health().ok(), "both services still up");
                assertEquals("RUNNING", curation.state().name());
                assertTrue(httpCases + kafkaCases >= 100, httpCases + " + " + kafkaCases + " cases");
                Path report = Path.of("target", "bad-inputs.md");
                Files.writeString(
                        report,
                        "# Bad inputs (" + httpCases + " HTTP, " + kafkaCases + " Kafka; " + validIds.size()
                                + " valid documents mixed in, each curated exactly once)\n\n| path | input "
                                + "| outcome |\n|---|---|---|\n"
                                + String.join("\n", table) + "\n");
                System.out.println(httpCases + " HTTP + " + kafkaCases + " Kafka bad inputs; " + validIds.size()
                        + " valid documents exactly once; table in " + report);
            }
        }
    }

    /**
     * The 15-byte record that declares a 2 GiB string, at the chart's curation heap (limit 2 GiB, MaxRAMPercentage 75:
     * 1.5 GiB), curation run as its own process as the chart runs it: the record is dead-lettered as bad-avro, the
     * valid documents queued behind it on the same partition are curated, no stream thread is replaced and /healthz
     * stays ok. Before bounded decoding the thread died on an OutOfMemoryError, was replaced and read it again.
     */
    @Test
    void aLengthBombAtTheChartsHeapIsDeadLetteredAndThePartitionMovesOn() throws Exception {
        try (EmbeddedKafka broker = EmbeddedKafka.start()) {
            Map<String, Object> kafka = KafkaSettings.of(broker.bootstrapServers());
            try (Admin admin = Admin.create(kafka)) {
                Topics.ensure(admin, Topics.specs(3), (short) 1);
            }
            int statusPort;
            try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
                statusPort = s.getLocalPort();
            }
            ProcessBuilder pb = new ProcessBuilder(
                    Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "-Xmx1536m",
                    "-cp",
                    System.getProperty("java.class.path"),
                    "ipt.ingest.CurationService");
            pb.environment().put("KAFKA_BOOTSTRAP_SERVERS", broker.bootstrapServers());
            pb.environment().put("IPT_STATE_DIR", work.resolve("curation-state").toString());
            pb.environment().put("IPT_STATUS_PORT", String.valueOf(statusPort));
            pb.environment().put("IPT_STATUS_BIND", "127.0.0.1");
            Process curation = pb.redirectErrorStream(true)
                    .redirectOutput(work.resolve("curation.log").toFile())
                    .start();
            try {
                Document template = Document.newBuilder()
                        .setId("bomb")
                        .setDomain("en")
                        .setText("x")
                        .setSource("t")
                        .setIngestTime(Instant.EPOCH)
                        .setMetadata(Map.of())
                        .build();
                byte[] bomb = lengthBomb(DOCUMENTS.encode(template));
                assertEquals(15, bomb.length);
                Map<String, Object> props = new HashMap<>(kafka);
                props.put(ProducerConfig.ACKS_CONFIG, "all");
                try (KafkaProducer<byte[], byte[]> producer =
                        new KafkaProducer<>(props, new ByteArraySerializer(), new ByteArraySerializer())) {
                    producer.send(new ProducerRecord<>(Topics.RAW.name(), 0, null, bomb))
                            .get();
                    for (int i = 0; i < 20; i++)
                        producer.send(new ProducerRecord<>(Topics.RAW.name(), 0, null, utf8(valid())))
                                .get();
                }
                // Curation is its own JVM: until its group has committed anything, a read finds nothing behind and
                // returns early.
                CurationOutput output = CurationOutput.read(kafka, Duration.ofMinutes(3));
                long deadline = System.nanoTime() + Duration.ofMinutes(3).toNanos();
                while (!output.kept().keySet().containsAll(validIds) && System.nanoTime() < deadline) {
                    Thread.sleep(500);
                    output = CurationOutput.read(kafka, Duration.ofMinutes(3));
                }
                for (String id : validIds)
                    assertEquals(
                            1, output.kept().getOrDefault(id, 0), "document " + id + " behind the bomb, curated once");
                List<RejectedDocument> bombs = output.rejected().stream()
                        .filter(r -> r.getOriginalBytes().remaining() == bomb.length)
                        .toList();
                assertEquals(1, bombs.size(), "the bomb dead-lettered once");
                assertEquals("bad-avro", bombs.get(0).getReason());
                assertEquals(0, bombs.get(0).getSourcePartition());
                HttpResponse<String> metrics = http.send(
                        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + statusPort + "/metrics"))
                                .build(),
                        HttpResponse.BodyHandlers.ofString());
                assertTrue(
                        metrics.body().contains("ipt_curation_stream_thread_replacements_total 0.0"),
                        "no stream thread replaced");
                HttpResponse<String> health = http.send(
                        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + statusPort + "/healthz"))
                                .build(),
                        HttpResponse.BodyHandlers.ofString());
                assertEquals(200, health.statusCode(), health.body());
                assertTrue(
                        !Files.readString(work.resolve("curation.log")).contains("OutOfMemoryError"),
                        "no OutOfMemoryError in the curation log");
                System.out.println("length bomb at -Xmx1536m: bad-avro, " + validIds.size()
                        + " documents behind it curated, 0 thread replacements, "
                        + health.body().strip());
            } finally {
                curation.destroy();
                if (!curation.waitFor(60, java.util.concurrent.TimeUnit.SECONDS)) curation.destroyForcibly();
            }
        }
    }

    /**
     * Hundreds of clients at once that send a body one byte a second, or their headers one byte a second, against the
     * API with its default settings: an ordinary request is still accepted and the status port's /healthz answers ok;
     * the slow clients are cut off by the minimum data rate and the header timeout. Before, a blocking body read gave
     * every slow client a server thread and ordinary requests timed out. The latencies are printed, not asserted.
     */
    @Test
    void slowClientsDoNotStarveTheApi() throws Exception {
        try (EmbeddedKafka broker = EmbeddedKafka.start()) {
            Map<String, Object> kafka = KafkaSettings.of(broker.bootstrapServers());
            try (Admin admin = Admin.create(kafka)) {
                Topics.ensure(admin, Topics.specs(3), (short) 1);
            }
            CurationConfig config = CurationConfig.defaults();
            try (IngestApi ingest = IngestApi.start(
                            IngestApiConfig.of("127.0.0.1", 0, TOKEN), kafka, config, new PrometheusRegistry());
                    ipt.runtime.StatusServer status =
                            ipt.runtime.StatusServer.start("127.0.0.1", 0, new PrometheusRegistry(), ingest::health)) {
                api = ingest.url();
                // One request first: the producer's first send waits for metadata, which is not what is measured here.
                accepted("warm-up", auth("application/json"), utf8(valid()));
                List<java.net.Socket> slowBodies = new ArrayList<>();
                List<java.net.Socket> slowHeads = new ArrayList<>();
                String head = "POST /v1/documents HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + TOKEN
                        + "\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n";
                for (int i = 0; i < 300; i++) {
                    java.net.Socket s = new java.net.Socket("127.0.0.1", api.getPort());
                    s.getOutputStream().write(utf8(head));
                    slowBodies.add(s);
                }
                for (int i = 0; i < 100; i++) slowHeads.add(new java.net.Socket("127.0.0.1", api.getPort()));
                long until = System.nanoTime() + Duration.ofSeconds(20).toNanos();
                List<Long> latencies = new ArrayList<>();
                int second = 0;
                while (System.nanoTime() < until) {
                    for (java.net.Socket s : slowBodies) trickle(s, (byte) ' ');
                    for (java.net.Socket s : slowHeads) trickle(s, (byte) head.charAt(second % head.length()));
                    second++;
                    if (second % 3 == 0) {
                        long start = System.nanoTime();
                        HttpResponse<String> ok = http.send(
                                HttpRequest.newBuilder(api.resolve("/v1/documents"))
                                        .timeout(Duration.ofSeconds(5))
                                        .header("Authorization", "Bearer " + TOKEN)
                                        .header("Content-Type", "application/json")
                                        .POST(HttpRequest.BodyPublishers.ofString(valid()))
                                        .build(),
                                HttpResponse.BodyHandlers.ofString());
                        latencies.add((System.nanoTime() - start) / 1_000_000);
                        assertEquals(202, ok.statusCode(), ok.body());
                        HttpResponse<String> health = http.send(
                                HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + status.port() + "/healthz"))
                                        .timeout(Duration.ofSeconds(5))
                                        .build(),
                                HttpResponse.BodyHandlers.ofString());
                        assertEquals(200, health.statusCode(), health.body());
                    }
                    Thread.sleep(1000);
                }
                long cutBodies =
                        slowBodies.stream().filter(s -> closedByServer(s, 100)).count();
                long cutHeads =
                        slowHeads.stream().filter(s -> closedByServer(s, 100)).count();
                System.out.println("300 slow bodies + 100 slow heads: ordinary POSTs answered 202 in " + latencies
                        + " ms; " + cutBodies + " slow bodies and " + cutHeads
                        + " slow heads cut off by the server within 20 s");
                assertEquals(100, cutHeads, "every slow head cut off by the header timeout");
                // A body read that waits for data is cut by the idle timeout (30 s) rather than the data rate.
                long cutLater = slowBodies.stream()
                        .filter(s -> closedByServer(s, 40_000))
                        .count();
                assertEquals(300, cutLater, "every slow body cut off by the minimum data rate or the idle timeout");
                for (java.net.Socket s : slowBodies) s.close();
                for (java.net.Socket s : slowHeads) s.close();
            }
        }
    }

    /** One more byte from a slow client; a connection the server closed stays closed. */
    private static void trickle(java.net.Socket s, byte b) {
        try {
            s.getOutputStream().write(b);
        } catch (IOException closed) {
            // cut off by the server
        }
    }

    /** The server closed it: reading sees the end of the stream (after any response) or a reset. */
    private static boolean closedByServer(java.net.Socket s, int waitMs) {
        try {
            s.setSoTimeout(waitMs);
            java.io.InputStream in = s.getInputStream();
            byte[] buffer = new byte[4096];
            while (true) {
                if (in.read(buffer) < 0) return true;
            }
        } catch (java.net.SocketTimeoutException open) {
            return false;
        } catch (IOException reset) {
            return true;
        }
    }

    private int httpCases() throws IOException, InterruptedException {
        int before = table.size();
        String v = "/v1/documents";
        whole(
                "no Authorization header",
                "POST",
                v,
                Map.of("Content-Type", "application/json"),
                utf8(valid0()),
                false,
                401,
                "unauthorized");
        whole(
                "wrong token",
                "POST",
                v,
                Map.of("Authorization", "Bearer nope", "Content-Type", "application/json"),
                utf8(valid0()),
                false,
                401,
                "unauthorized");
        whole(
                "Basic scheme",
                "POST",
                v,
                Map.of("Authorization", "Basic dXNlcjpwYXNz", "Content-Type", "application/json"),
                utf8(valid0()),
                false,
                401,
                "unauthorized");
        whole(
                "Bearer without token",
                "POST",
                v,
                Map.of("Authorization", "Bearer ", "Content-Type", "application/json"),
                utf8(valid0()),
                false,
                401,
                "unauthorized");
        whole(
                "token with a suffix",
                "POST",
                v,
                Map.of("Authorization", "Bearer " + TOKEN + "x", "Content-Type", "application/json"),
                utf8(valid0()),
                false,
                401,
                "unauthorized");
        whole("GET on documents", "GET", v, auth(null), null, false, 405, "method-not-allowed");
        whole("PUT on documents", "PUT", v, auth("application/json"), utf8(valid0()), false, 405, "method-not-allowed");
        whole("DELETE on documents", "DELETE", v, auth(null), null, false, 405, "method-not-allowed");
        whole(
                "unknown path",
                "POST",
                "/v1/document",
                auth("application/json"),
                utf8(valid0()),
                false,
                404,
                "not-found");
        whole("root path", "POST", "/", auth("application/json"), utf8(valid0()), false, 404, "not-found");
        whole(
                "path below documents",
                "POST",
                "/v1/documents/x",
                auth("application/json"),
                utf8(valid0()),
                false,
                404,
                "not-found");
        whole("text/plain body", "POST", v, auth("text/plain"), utf8(valid0()), false, 415, "unsupported-media-type");
        whole("no Content-Type", "POST", v, auth(null), utf8(valid0()), false, 415, "unsupported-media-type");
        whole(
                "application/xml",
                "POST",
                v,
                auth("application/xml"),
                utf8("<doc/>"),
                false,
                415,
                "unsupported-media-type");
        whole(
                "charset latin-1",
                "POST",
                v,
                auth("application/json; charset=iso-8859-1"),
                utf8(valid0()),
                false,
                415,
                "unsupported-media-type");
        whole(
                "multipart form",
                "POST",
                v,
                auth("multipart/form-data; boundary=x"),
                utf8("--x--"),
                false,
                415,
                "unsupported-media-type");
        whole("empty JSON body", "POST", v, auth("application/json"), new byte[0], false, 400, "empty-body");
        whole("empty NDJSON body", "POST", v, auth("application/x-ndjson"), new byte[0], false, 400, "empty-body");
        whole(
                "blank lines only (NDJSON)",
                "POST",
                v,
                auth("application/x-ndjson"),
                utf8("\n  \n\r\n"),
                false,
                400,
                "empty-body");
        whole(
                "whitespace-only JSON body",
                "POST",
                v,
                auth("application/json"),
                utf8("   \n "),
                false,
                400,
                "malformed-json");
        whole(
                "truncated object",
                "POST",
                v,
                auth("application/json"),
                utf8("{\"domain\":\"en\",\"text\":\"abc"),
                false,
                400,
                "malformed-json");
        whole(
                "truncated array",
                "POST",
                v,
                auth("application/json"),
                utf8("[" + valid0() + ","),
                false,
                400,
                "malformed-json");
        whole(
                "trailing garbage",
                "POST",
                v,
                auth("application/json"),
                utf8(valid0() + " xyz"),
                false,
                400,
                "malformed-json");
        whole(
                "duplicate keys",
                "POST",
                v,
                auth("application/json"),
                utf8("{\"domain\":\"en\",\"text\":\"a b\",\"text\":\"c d\"}"),
                false,
                400,
                "malformed-json");
        whole(
                "single quotes",
                "POST",
                v,
                auth("application/json"),
                utf8("{'domain':'en','text':'x'}"),
                false,
                400,
                "malformed-json");
        whole(
                "nesting 5000 deep",
                "POST",
                v,
                auth("application/json"),
                utf8("[".repeat(5000) + "]".repeat(5000)),
                false,
                400,
                "malformed-json");
        whole(
                "invalid byte 0xFF",
                "POST",
                v,
                auth("application/json"),
                concat(utf8("{\"domain\":\"en\",\"text\":\"a"), new byte[] {(byte) 0xFF}, utf8("\"}")),
                false,
                400,
                "invalid-utf8");
        whole(
                "overlong encoding C0 AF",
                "POST",
                v,
                auth("application/json"),
                concat(utf8("{\"domain\":\"en\",\"text\":\"a"), new byte[] {(byte) 0xC0, (byte) 0xAF}, utf8("\"}")),
                false,
                400,
                "invalid-utf8");
        whole(
                "UTF-8 encoded surrogate",
                "POST",
                v,
                auth("application/json"),
                concat(
                        utf8("{\"domain\":\"en\",\"text\":\"a"),
                        new byte[] {(byte) 0xED, (byte) 0xA0, (byte) 0x80},
                        utf8("\"}")),
                false,
                400,
                "invalid-utf8");
        whole(
                "truncated multibyte at end",
                "POST",
                v,
                auth("application/json"),
                concat(utf8("{\"domain\":\"en\",\"text\":\"a\"}"), new byte[] {(byte) 0xE2, (byte) 0x82}),
                false,
                400,
                "invalid-utf8");
        whole(
                "UTF-16 body",
                "POST",
                v,
                auth("application/json"),
                valid0().getBytes(StandardCharsets.UTF_16),
                false,
                400,
                "invalid-utf8");
        whole(
                "gzip bytes as JSON",
                "POST",
                v,
                auth("application/json"),
                gzip(utf8(valid0())),
                false,
                400,
                "invalid-utf8");
        Map<String, String> brotli = auth("application/json");
        brotli.put("Content-Encoding", "br");
        whole("Content-Encoding br", "POST", v, brotli, utf8(valid0()), false, 415, "unsupported-encoding");
        Map<String, String> gzipped = auth("application/json");
        gzipped.put("Content-Encoding", "gzip");
        whole("Content-Encoding gzip, not gzip", "POST", v, gzipped, utf8(valid0()), false, 400, "bad-encoding");
        whole(
                "gzip bomb over the body limit",
                "POST",
                v,
                gzipped,
                gzip(utf8("[" + " ".repeat(17 << 20) + "]")),
                false,
                413,
                "body-too-large");
        accepted("Content-Encoding gzip", gzipped, gzip(utf8(valid())));
        Map<String, String> lowerCase = auth("application/json");
        lowerCase.put("Authorization", "bearer " + TOKEN);
        accepted("auth scheme in lower case", lowerCase, utf8(valid()));
        byte[] junk = new byte[512];
        new Random(3).nextBytes(junk);
        whole("random binary junk", "POST", v, auth("application/json"), junk, false, 400, "invalid-utf8");
        whole("JSON number", "POST", v, auth("application/json"), utf8("42"), false, 400, null);
        whole("JSON string", "POST", v, auth("application/json"), utf8("\"text\""), false, 400, null);
        whole("JSON null", "POST", v, auth("application/json"), utf8("null"), false, 400, null);
        whole("array of numbers", "POST", v, auth("application/json"), utf8("[1,2,3]"), false, 400, null);
        whole("empty array", "POST", v, auth("application/json"), utf8("[]"), false, 400, "empty-body");
        whole(
                "1001 documents",
                "POST",
                v,
                auth("application/x-ndjson"),
                utf8("{\"domain\":\"en\",\"text\":\"x y\"}\n".repeat(1001)),
                false,
                400,
                "batch-too-long");
        byte[] huge = utf8("{\"domain\":\"en\",\"text\":\"" + "a ".repeat(9 << 20) + "\"}");
        whole(
                "18 MiB body with Content-Length",
                "POST",
                v,
                auth("application/json"),
                huge,
                false,
                413,
                "body-too-large");
        whole("18 MiB body chunked", "POST", v, auth("application/json"), huge, true, 413, "body-too-large");

        inBatch("missing text", "{\"domain\":\"en\"}", "missing-field");
        inBatch("missing domain", "{\"text\":\"some words here\"}", "missing-field");
        inBatch("empty object", "{}", "missing-field");
        inBatch("text is a number", "{\"domain\":\"en\",\"text\":7}", "wrong-type");
        inBatch("text is an array", "{\"domain\":\"en\",\"text\":[\"a\"]}", "wrong-type");
        inBatch("domain is a number", "{\"domain\":1,\"text\":\"a b\"}", "wrong-type");
        inBatch("id is a number", "{\"id\":5,\"domain\":\"en\",\"text\":\"a b\"}", "wrong-type");
        inBatch("id is an object", "{\"id\":{},\"domain\":\"en\",\"text\":\"a b\"}", "wrong-type");
        inBatch("metadata is an array", "{\"domain\":\"en\",\"text\":\"a b\",\"metadata\":[1]}", "wrong-type");
        inBatch(
                "metadata value is a number",
                "{\"domain\":\"en\",\"text\":\"a b\",\"metadata\":{\"k\":1}}",
                "wrong-type");
        inBatch("source is an object", "{\"domain\":\"en\",\"text\":\"a b\",\"source\":{}}", "wrong-type");
        inBatch("text is a boolean", "{\"domain\":\"en\",\"text\":true}", "wrong-type");
        inBatch("empty text", "{\"domain\":\"en\",\"text\":\"\"}", "empty-text");
        inBatch("whitespace-only text", "{\"domain\":\"en\",\"text\":\"  \\n\\t \"}", "empty-text");
        inBatch("control characters only", "{\"domain\":\"en\",\"text\":\"\\u0000\\u0001\\u0002\"}", "empty-text");
        inBatch(
                "zero-width characters only",
                "{\"domain\":\"en\",\"text\":\"\\u200b\\u200c\\u200d\\u2060\\ufeff\"}",
                "empty-text");
        inBatch("upper-case domain", "{\"domain\":\"EN\",\"text\":\"a b\"}", "bad-domain");
        inBatch("domain with a space", "{\"domain\":\"en us\",\"text\":\"a b\"}", "bad-domain");
        inBatch("empty domain", "{\"domain\":\"\",\"text\":\"a b\"}", "bad-domain");
        inBatch("65-char domain", "{\"domain\":\"" + "d".repeat(65) + "\",\"text\":\"a b\"}", "bad-domain");
        inBatch("empty id", "{\"id\":\"\",\"domain\":\"en\",\"text\":\"a b\"}", "bad-id");
        inBatch("300-char id", "{\"id\":\"" + "i".repeat(300) + "\",\"domain\":\"en\",\"text\":\"a b\"}", "bad-id");
        inBatch("id with a control character", "{\"id\":\"a\\u0007b\",\"domain\":\"en\",\"text\":\"a b\"}", "bad-id");
        inBatch("lone surrogate in text", "{\"domain\":\"en\",\"text\":\"a \\ud800 b\"}", "invalid-utf8");
        inBatch(
                "lone surrogate in a metadata key",
                "{\"domain\":\"en\",\"text\":\"a b\",\"metadata\":{\"\\udc00\":\"v\"}}",
                "invalid-utf8");
        inBatch("nested array element", "[{\"domain\":\"en\",\"text\":\"a b\"}]", "not-an-object");
        inBatch("null element", "null", "not-an-object");
        inBatch("string element", "\"just text\"", "not-an-object");
        inBatch(
                "5 MiB document",
                "{\"domain\":\"en\",\"text\":\"" + "b ".repeat(5 << 19) + "\"}",
                "document-too-large");
        inBatch("text over 1M chars", "{\"domain\":\"en\",\"text\":\"" + "c ".repeat(600_000) + "\"}", "text-too-long");
        inNdjson("NDJSON truncated line", utf8("{\"domain\":\"en\",\"text\":\"cut"), "malformed-json");
        inNdjson(
                "NDJSON invalid UTF-8 line",
                concat(utf8("{\"domain\":\"en\",\"text\":\"x"), new byte[] {(byte) 0xFE}, utf8("\"}")),
                "invalid-utf8");
        inNdjson("NDJSON null line", utf8("null"), "not-an-object");
        inNdjson(
                "NDJSON two objects on one line",
                utf8("{\"domain\":\"en\",\"text\":\"a\"} {\"domain\":\"en\",\"text\":\"b\"}"),
                "malformed-json");
        inNdjson("NDJSON array line", utf8("[1]"), "not-an-object");
        inNdjson("NDJSON missing text", utf8("{\"domain\":\"en\"}"), "missing-field");
        return table.size() - before;
    }

    /** A request every document of which must be accepted (202). */
    private void accepted(String name, Map<String, String> headers, byte[] body)
            throws IOException, InterruptedException {
        Reply r = post("POST", "/v1/documents", headers, body, false);
        table.add("| http | " + name + " | " + r.status() + " accepted |");
        assertEquals(202, r.status(), name + ": " + r.body());
    }

    /** A valid document for requests refused as a whole (so it is never expected downstream). */
    private String valid0() {
        return "{\"domain\":\"en\",\"text\":\"A refused request carries this document, which must never arrive.\"}";
    }

    private int kafkaCases(Map<String, Object> kafka, Map<String, List<String>> expected) throws Exception {
        int before = table.size();
        Map<String, Object> props = new HashMap<>(kafka);
        props.put(ProducerConfig.ACKS_CONFIG, "all");
        props.put(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, Topics.MAX_DOCUMENT_RECORD_BYTES);
        Document avroValid = Document.newBuilder()
                .setId("avro-base")
                .setDomain("en")
                .setText("x")
                .setSource("t")
                .setIngestTime(Instant.EPOCH)
                .setMetadata(Map.of())
                .build();
        byte[] goodAvro = DOCUMENTS.encode(avroValid);
        byte[] unknownFingerprint = goodAvro.clone();
        for (int i = 2; i < 10; i++) unknownFingerprint[i] ^= (byte) 0x5A;
        byte[] junk = new byte[300];
        new Random(5).nextBytes(junk);
        junk[0] = '#';
        String dupText = prose.get(prose.size() - 1).text();
        Map<String, byte[]> cases = new LinkedHashMap<>();
        Map<String, String> reasons = new LinkedHashMap<>();
        java.util.function.BiConsumer<String, Object[]> add = (name, v) -> {
            cases.put(name, (byte[]) v[0]);
            reasons.put(name, (String) v[1]);
        };
        add.accept("empty value", new Object[] {new byte[0], "empty-record"});
        add.accept("truncated JSON", new Object[] {utf8("{\"domain\":\"en\",\"te"), "malformed-json"});
        add.accept("JSON array", new Object[] {utf8("[{\"domain\":\"en\",\"text\":\"a\"}]"), "not-an-object"});
        add.accept("JSON number", new Object[] {utf8("3.14"), "not-an-object"});
        add.accept("JSON string", new Object[] {utf8("\"hello\""), "not-an-object"});
        add.accept("JSON null", new Object[] {utf8("null"), "not-an-object"});
        add.accept("JSON true", new Object[] {utf8("true"), "not-an-object"});
        add.accept("empty object", new Object[] {utf8("{}"), "missing-field"});
        add.accept("missing text", new Object[] {utf8("{\"domain\":\"en\"}"), "missing-field"});
        add.accept("missing domain", new Object[] {utf8("{\"text\":\"a b c\"}"), "missing-field"});
        add.accept("text is a number", new Object[] {utf8("{\"domain\":\"en\",\"text\":1}"), "wrong-type"});
        add.accept("text is an object", new Object[] {utf8("{\"domain\":\"en\",\"text\":{\"a\":1}}"), "wrong-type"});
        add.accept("domain is an array", new Object[] {utf8("{\"domain\":[\"en\"],\"text\":\"a\"}"), "wrong-type"});
        add.accept("id is a number", new Object[] {utf8("{\"id\":1,\"domain\":\"en\",\"text\":\"a\"}"), "wrong-type"});
        add.accept(
                "metadata is a string",
                new Object[] {utf8("{\"domain\":\"en\",\"text\":\"a\",\"metadata\":\"k=v\"}"), "wrong-type"});
        add.accept(
                "metadata value is null-object",
                new Object[] {utf8("{\"domain\":\"en\",\"text\":\"a\",\"metadata\":{\"k\":{}}}"), "wrong-type"});
        add.accept(
                "source is a number",
                new Object[] {utf8("{\"domain\":\"en\",\"text\":\"a\",\"source\":9}"), "wrong-type"});
        add.accept("invalid byte 0xFF", new Object[] {
            concat(utf8("{\"domain\":\"en\",\"text\":\"a"), new byte[] {(byte) 0xFF}, utf8("\"}")), "invalid-utf8"
        });
        add.accept("overlong encoding", new Object[] {
            concat(utf8("{\"domain\":\"en\",\"text\":\"a"), new byte[] {(byte) 0xC1, (byte) 0xBF}, utf8("\"}")),
            "invalid-utf8"
        });
        add.accept("encoded surrogate", new Object[] {
            concat(
                    utf8("{\"domain\":\"en\",\"text\":\"a"),
                    new byte[] {(byte) 0xED, (byte) 0xB0, (byte) 0x80},
                    utf8("\"}")),
            "invalid-utf8"
        });
        add.accept("truncated multibyte", new Object[] {
            concat(utf8("{\"domain\":\"en\",\"text\":\"a"), new byte[] {(byte) 0xF0, (byte) 0x9F}), "invalid-utf8"
        });
        add.accept("code point above U+10FFFF", new Object[] {
            concat(
                    utf8("{\"domain\":\"en\",\"text\":\"a"),
                    new byte[] {(byte) 0xF4, (byte) 0x90, (byte) 0x80, (byte) 0x80},
                    utf8("\"}")),
            "invalid-utf8"
        });
        add.accept("binary junk", new Object[] {junk, "invalid-utf8"});
        add.accept("UTF-16 JSON", new Object[] {
            "{\"domain\":\"en\",\"text\":\"a\"}".getBytes(StandardCharsets.UTF_16LE), "malformed-json"
        });
        add.accept(
                "gzip of a document", new Object[] {gzip(utf8("{\"domain\":\"en\",\"text\":\"a\"}")), "invalid-utf8"});
        add.accept("Avro, unknown fingerprint", new Object[] {unknownFingerprint, "unknown-schema"});
        add.accept("Avro, truncated body", new Object[] {Arrays.copyOf(goodAvro, goodAvro.length - 5), "bad-avro"});
        add.accept("Avro marker only", new Object[] {new byte[] {(byte) 0xC3, 0x01}, "invalid-utf8"});
        add.accept("Avro header, garbage body", new Object[] {concat(Arrays.copyOf(goodAvro, 10), junk), "bad-avro"});
        add.accept("Avro, junk after a valid record", new Object[] {
            concat(
                    DOCUMENTS.encode(
                            Document.newBuilder(avroValid).setId("avro-tail").build()),
                    utf8("junk")),
            "bad-avro"
        });
        add.accept("Avro, a 2 GiB string length in 15 bytes", new Object[] {lengthBomb(goodAvro), "bad-avro"});
        add.accept("Avro, a map of 2^30 entries", new Object[] {mapBomb(), "bad-avro"});
        add.accept("Avro, empty text", new Object[] {
            DOCUMENTS.encode(Document.newBuilder(avroValid)
                    .setId("avro-empty")
                    .setText("")
                    .build()),
            "empty-text"
        });
        add.accept("Avro, bad domain", new Object[] {
            DOCUMENTS.encode(Document.newBuilder(avroValid)
                    .setId("avro-domain")
                    .setDomain("Not A Domain")
                    .setText("a b")
                    .build()),
            "bad-domain"
        });
        add.accept("Avro, control char in id", new Object[] {
            DOCUMENTS.encode(Document.newBuilder(avroValid)
                    .setId("a\u0001b")
                    .setText("a b")
                    .build()),
            "bad-id"
        });
        add.accept("empty text", new Object[] {utf8("{\"domain\":\"en\",\"text\":\"\"}"), "empty-text"});
        add.accept("whitespace text", new Object[] {utf8("{\"domain\":\"en\",\"text\":\" \\r\\n \"}"), "empty-text"});
        add.accept(
                "control characters only",
                new Object[] {utf8("{\"domain\":\"en\",\"text\":\"\\u0003\\u0004\"}"), "empty-text"});
        add.accept(
                "zero-width characters only",
                new Object[] {utf8("{\"domain\":\"en\",\"text\":\"\\u200b\\u200b\\u2060\"}"), "empty-text"});
        add.accept("upper-case domain", new Object[] {utf8("{\"domain\":\"DE\",\"text\":\"a b\"}"), "bad-domain"});
        add.accept("domain with a slash", new Object[] {utf8("{\"domain\":\"en/us\",\"text\":\"a b\"}"), "bad-domain"});
        add.accept("empty domain", new Object[] {utf8("{\"domain\":\"\",\"text\":\"a b\"}"), "bad-domain"});
        add.accept("empty id", new Object[] {utf8("{\"id\":\"\",\"domain\":\"en\",\"text\":\"a b\"}"), "bad-id"});
        add.accept("300-char id", new Object[] {
            utf8("{\"id\":\"" + "q".repeat(300) + "\",\"domain\":\"en\",\"text\":\"a b\"}"), "bad-id"
        });
        add.accept(
                "newline in id",
                new Object[] {utf8("{\"id\":\"a\\nb\",\"domain\":\"en\",\"text\":\"a b\"}"), "bad-id"});
        add.accept(
                "lone surrogate escape",
                new Object[] {utf8("{\"domain\":\"en\",\"text\":\"\\udfff\"}"), "invalid-utf8"});
        add.accept(
                "duplicate keys",
                new Object[] {utf8("{\"domain\":\"en\",\"domain\":\"de\",\"text\":\"a\"}"), "malformed-json"});
        add.accept("trailing garbage", new Object[] {utf8("{\"domain\":\"en\",\"text\":\"a\"}}"), "malformed-json"});
        add.accept(
                "raw control char in string",
                new Object[] {utf8("{\"domain\":\"en\",\"text\":\"a\u0001b\"}"), "malformed-json"});
        add.accept("nesting 5000 deep", new Object[] {
            utf8("{\"a\":" + "[".repeat(5000) + "]".repeat(5000) + "}"), "malformed-json"
        });
        add.accept("single quotes", new Object[] {utf8("{'domain':'en','text':'a'}"), "malformed-json"});
        add.accept("BOM then garbage", new Object[] {
            concat(new byte[] {(byte) 0xEF, (byte) 0xBB, (byte) 0xBF}, utf8("garbage")), "malformed-json"
        });
        add.accept("text over 1M chars", new Object[] {
            utf8("{\"domain\":\"en\",\"text\":\"" + "z ".repeat(600_000) + "\"}"), "text-too-long"
        });
        add.accept("exact duplicate, other id", new Object[] {
            utf8(JSON.createObjectNode()
                    .put("id", "dup-other")
                    .put("domain", "en")
                    .put("text", dupText)
                    .toString()),
            "duplicate"
        });
        add.accept("exact duplicate after normalisation", new Object[] {
            utf8(JSON.createObjectNode()
                    .put("id", "dup-spaces")
                    .put("domain", "en")
                    .put("text", "\n \r\n" + dupText + " \n\t\n")
                    .toString()),
            "duplicate"
        });

        try (KafkaProducer<byte[], byte[]> producer =
                new KafkaProducer<>(props, new ByteArraySerializer(), new ByteArraySerializer())) {
            // The original of the duplicates goes first, so the two copies are the ones dropped.
            SyntheticProse.Doc original = prose.get(prose.size() - 1);
            validIds.add(original.id());
            producer.send(new ProducerRecord<>(Topics.RAW.name(), original.json()))
                    .get();
            producer.send(new ProducerRecord<>(Topics.RAW.name(), utf8("tombstone"), null))
                    .get();
            expected.computeIfAbsent("", k -> new ArrayList<>()).add("empty-record");
            table.add("| kafka | null value (tombstone) | DLQ empty-record |");
            int n = 0;
            for (var c : cases.entrySet()) {
                producer.send(new ProducerRecord<>(Topics.RAW.name(), c.getValue()))
                        .get();
                byte[] good = utf8(valid());
                producer.send(new ProducerRecord<>(Topics.RAW.name(), n++ % 2 == 0 ? good : avro(good)))
                        .get();
                expected.computeIfAbsent(HexFormat.of().formatHex(c.getValue()), k -> new ArrayList<>())
                        .add(reasons.get(c.getKey()));
                table.add("| kafka | " + c.getKey() + " | DLQ " + reasons.get(c.getKey()) + " |");
            }
        }
        return table.size() - before;
    }

    /** A single-object header and an id whose length field declares 2^31 - 16 bytes: 15 bytes that asked for 2 GiB. */
    static byte[] lengthBomb(byte[] goodAvro) {
        return concat(Arrays.copyOf(goodAvro, 10), zigZagVarint((1L << 31) - 16));
    }

    /** A Document whose strings are empty and whose metadata map declares 2^30 entries. */
    private static byte[] mapBomb() {
        byte[] header = Arrays.copyOf(
                DOCUMENTS.encode(Document.newBuilder()
                        .setId("x")
                        .setDomain("en")
                        .setText("x")
                        .setSource("t")
                        .setIngestTime(Instant.EPOCH)
                        .setMetadata(Map.of())
                        .build()),
                10);
        // id, domain, text, source: empty strings; ingestTime 0; then the map's block count.
        return concat(header, new byte[] {0, 0, 0, 0, 0}, zigZagVarint(1L << 30));
    }

    private static byte[] zigZagVarint(long value) {
        long n = (value << 1) ^ (value >> 63);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        while ((n & ~0x7FL) != 0) {
            out.write((int) ((n & 0x7F) | 0x80));
            n >>>= 7;
        }
        out.write((int) n);
        return out.toByteArray();
    }

    /** The same valid document as Avro, so both encodings are mixed in. */
    private static byte[] avro(byte[] json) {
        try {
            JsonNode n = JSON.readTree(json);
            return DOCUMENTS.encode(Document.newBuilder()
                    .setId(n.get("id").asText())
                    .setDomain(n.get("domain").asText())
                    .setText(n.get("text").asText())
                    .setSource("avro-producer")
                    .setIngestTime(Instant.now())
                    .setMetadata(Map.of())
                    .build());
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static byte[] gzip(byte[] bytes) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (OutputStream gz = new GZIPOutputStream(out)) {
            new ByteArrayInputStream(bytes).transferTo(gz);
        }
        return out.toByteArray();
    }

    private static String abbreviate(String hex) {
        return hex.length() <= 80 ? hex : hex.substring(0, 80) + "…";
    }
}
