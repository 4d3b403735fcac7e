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
import ipt.schemas.Topics;
import ipt.testsupport.EmbeddedKafka;
import ipt.testsupport.SyntheticProse;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.clients.admin.Admin;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Clients POST batches to the real ingest API without pause while the broker is stopped and started again on
 * the same data and port: every document the API answered as accepted is afterwards in curated or held-out
 * output, none twice. Clients retry what was not accepted with the same ids, as the contract says they may.
 */
class BrokerRestartIngestIT {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String TOKEN = "restart-token";
    private static final int CLIENTS = 3;
    private static final int BATCH = 10;
    /** Between a client's requests: a steady stream of about 1,500 documents/s, not a flood for the machine to wade
     * through. */
    private static final long PAUSE_MILLIS = 20;

    @TempDir
    Path work;

    @Test
    void everyAcceptedDocumentSurvivesABrokerRestartExactlyOnce() throws Exception {
        Path logDir = work.resolve("kafka");
        int port = EmbeddedKafka.freePort();
        EmbeddedKafka broker = EmbeddedKafka.start(logDir, port, false);
        Map<String, Object> kafka = KafkaSettings.of(broker.bootstrapServers());
        try (Admin admin = Admin.create(kafka)) {
            Topics.ensure(admin, Topics.specs(3), (short) 1);
        }
        SyntheticProse prose = SyntheticProse.load();
        Set<String> accepted = ConcurrentHashMap.newKeySet();
        AtomicInteger next = new AtomicInteger();
        AtomicInteger refusedRequests = new AtomicInteger();
        AtomicInteger requests = new AtomicInteger();
        AtomicBoolean sending = new AtomicBoolean(true);
        long outageMillis;
        try (CurationService curation = CurationService.start(
                        kafka, CurationConfig.defaults(), work.resolve("streams"), new PrometheusRegistry());
                IngestApi api = IngestApi.start(
                        IngestApiConfig.of("127.0.0.1", 0, TOKEN),
                        shortDeliveryTimeout(kafka),
                        CurationConfig.defaults(),
                        new PrometheusRegistry())) {
            HttpClient http = HttpClient.newHttpClient();
            ExecutorService clients = Executors.newFixedThreadPool(CLIENTS);
            List<Future<?>> running = new ArrayList<>();
            for (int c = 0; c < CLIENTS; c++) {
                running.add(clients.submit(() -> {
                    while (sending.get()) {
                        int n = next.getAndIncrement();
                        List<SyntheticProse.Doc> batch =
                                new ArrayList<>(prose.documents("restart-" + n, BATCH, 800, n));
                        // Until every document of the batch is accepted: the ones not accepted are sent again, same
                        // ids.
                        while (!batch.isEmpty()) {
                            requests.incrementAndGet();
                            JsonNode answer = post(http, api, batch);
                            if (answer == null) {
                                refusedRequests.incrementAndGet();
                                Thread.sleep(200);
                                continue;
                            }
                            Set<String> ok = new HashSet<>();
                            answer.path("accepted").forEach(id -> ok.add(id.asText()));
                            accepted.addAll(ok);
                            if (!answer.path("failed").isEmpty()) refusedRequests.incrementAndGet();
                            batch.removeIf(d -> ok.contains(d.id()));
                        }
                        Thread.sleep(PAUSE_MILLIS);
                    }
                    return null;
                }));
            }
            Thread.sleep(4000);
            int beforeOutage = accepted.size();
            long down = System.nanoTime();
            broker.close();
            Thread.sleep(8000);
            broker = EmbeddedKafka.start(logDir, port, false);
            outageMillis = (System.nanoTime() - down) / 1_000_000;
            int duringOutage = accepted.size() - beforeOutage;
            Thread.sleep(6000);
            sending.set(false);
            for (Future<?> f : running) f.get();
            clients.shutdown();
            CurationOutput output = CurationOutput.read(kafka, Duration.ofMinutes(3));
            List<String> wrong = output.notExactlyOnce(new ArrayList<>(accepted));
            System.out.printf(
                    "broker restart: %d documents accepted (%d before the outage, %d while the broker was down %d ms), "
                            + "%d requests, %d answered with failures or not at all and retried; %d in "
                            + "curated/held-out, %d not exactly once %s;"
                            + " rejections %s%n",
                    accepted.size(),
                    beforeOutage,
                    duringOutage,
                    outageMillis,
                    requests.get(),
                    refusedRequests.get(),
                    output.kept().size(),
                    wrong.size(),
                    wrong.subList(0, Math.min(10, wrong.size())),
                    output.rejectionsByReason());
            assertEquals(
                    List.of(), wrong.subList(0, Math.min(10, wrong.size())), "accepted documents lost or out twice");
            assertTrue(
                    beforeOutage > 0 && accepted.size() > beforeOutage + duringOutage,
                    "ingest ran before and after the outage");
            assertTrue(
                    refusedRequests.get() > 0,
                    "the outage was felt by clients (503 or no answer), not only absorbed by producer retries");
            assertTrue(curation.health().ok() && api.health().ok());
        } finally {
            broker.close();
        }
    }

    /** Kafka gives up on a record after 5 s (default 30 s), so an 8 s outage reaches clients as 503s they retry. */
    private static Map<String, Object> shortDeliveryTimeout(Map<String, Object> kafka) {
        Map<String, Object> props = new HashMap<>(kafka);
        props.put("request.timeout.ms", 2000);
        props.put("delivery.timeout.ms", 5000);
        props.put("max.block.ms", 2000);
        return props;
    }

    /** The API's answer, or null when the request got no answer (connection refused, reset). */
    private static JsonNode post(HttpClient http, IngestApi api, List<SyntheticProse.Doc> batch)
            throws InterruptedException {
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        for (SyntheticProse.Doc d : batch) {
            body.writeBytes(d.json());
            body.write('\n');
        }
        HttpRequest request = HttpRequest.newBuilder(api.url().resolve("/v1/documents"))
                .header("Authorization", "Bearer " + TOKEN)
                .header("Content-Type", "application/x-ndjson")
                .timeout(Duration.ofSeconds(90))
                .POST(HttpRequest.BodyPublishers.ofByteArray(body.toByteArray()))
                .build();
        try {
            HttpResponse<byte[]> response = http.send(request, HttpResponse.BodyHandlers.ofByteArray());
            return JSON.readTree(response.body());
        } catch (IOException e) {
            return null;
        }
    }
}
