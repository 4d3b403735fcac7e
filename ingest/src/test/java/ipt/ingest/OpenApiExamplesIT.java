package ipt.ingest;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import ipt.runtime.KafkaSettings;
import ipt.schemas.Topics;
import ipt.testsupport.EmbeddedKafka;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.Map;
import org.apache.kafka.clients.admin.Admin;
import org.junit.jupiter.api.Test;

/** Every request example in ingest/openapi.yaml, sent to the real API on a real broker, is accepted whole. */
class OpenApiExamplesIT {
    @Test
    void theDocumentedExamplesAreAccepted() throws Exception {
        ObjectMapper json = new ObjectMapper();
        JsonNode content = new ObjectMapper(new YAMLFactory())
                .readTree(Path.of("..", "ingest", "openapi.yaml").toFile())
                .at("/paths/~1v1~1documents/post/requestBody/content");
        try (EmbeddedKafka broker = EmbeddedKafka.start()) {
            Map<String, Object> kafka = KafkaSettings.of(broker.bootstrapServers());
            try (Admin admin = Admin.create(kafka)) {
                Topics.ensure(admin, Topics.specs(1), (short) 1);
            }
            try (IngestApi api = IngestApi.start(
                    IngestApiConfig.of("127.0.0.1", 0, "t"),
                    kafka,
                    CurationConfig.defaults(),
                    new PrometheusRegistry())) {
                HttpClient http = HttpClient.newHttpClient();
                int examples = 0;
                for (var media : content.properties()) {
                    for (var example : media.getValue().path("examples").properties()) {
                        JsonNode value = example.getValue().get("value");
                        String body = value.isTextual() ? value.textValue() : json.writeValueAsString(value);
                        int documents = value.isArray()
                                ? value.size()
                                : value.isTextual()
                                        ? (int) body.lines()
                                                .filter(l -> !l.isBlank())
                                                .count()
                                        : 1;
                        HttpResponse<String> response = http.send(
                                HttpRequest.newBuilder(api.url().resolve("/v1/documents"))
                                        .header("Authorization", "Bearer t")
                                        .header("Content-Type", media.getKey())
                                        .POST(HttpRequest.BodyPublishers.ofString(body))
                                        .build(),
                                HttpResponse.BodyHandlers.ofString());
                        assertEquals(202, response.statusCode(), example.getKey() + ": " + response.body());
                        assertEquals(
                                documents,
                                json.readTree(response.body()).path("accepted").size(),
                                example.getKey());
                        examples++;
                    }
                }
                assertEquals(3, examples);
            }
        }
    }
}
