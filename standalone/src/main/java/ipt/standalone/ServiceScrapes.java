package ipt.standalone;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Reads every service's /metrics itself, once a second, from the targets file the demo writes, keeping each target's
 * last exposition: what the services reported at the end, independent of what Prometheus stored, and the real series
 * (names and label sets) that rule tests are built from.
 */
final class ServiceScrapes implements AutoCloseable {
    /** One service's exposition as it was last read. */
    record Exposition(String job, String instance, String text) {
        List<MetricSample> samples() {
            return MetricSample.parse(text);
        }
    }

    private static final ObjectMapper JSON = new ObjectMapper();
    private final HttpClient http =
            HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    private final Path targets;
    private final Map<String, Exposition> last = new ConcurrentHashMap<>();
    private final Thread poller;
    private volatile boolean running = true;

    ServiceScrapes(Path targets) {
        this.targets = targets;
        poller = new Thread(this::poll, "service-scrapes");
        poller.setDaemon(true);
        poller.start();
    }

    private void poll() {
        while (running) {
            try {
                if (Files.exists(targets))
                    for (JsonNode group : JSON.readTree(targets.toFile()))
                        for (JsonNode target : group.get("targets"))
                            read(group.get("labels").get("job").asText(), target.asText());
                Thread.sleep(1000);
            } catch (InterruptedException e) {
                return;
            } catch (Exception e) {
                // the targets file being rewritten, or a service stopping: the next second reads again
            }
        }
    }

    private void read(String job, String instance) {
        try {
            HttpResponse<String> r = http.send(
                    HttpRequest.newBuilder(URI.create("http://" + instance + "/metrics"))
                            .timeout(Duration.ofSeconds(5))
                            .build(),
                    HttpResponse.BodyHandlers.ofString());
            if (r.statusCode() == 200) last.put(instance, new Exposition(job, instance, r.body()));
        } catch (Exception e) {
            // stopped: its last exposition stays
        }
    }

    /** Each target's last exposition, by instance. */
    Map<String, Exposition> last() {
        return new TreeMap<>(last);
    }

    @Override
    public void close() throws InterruptedException {
        running = false;
        poller.interrupt();
        poller.join(10_000);
    }
}
