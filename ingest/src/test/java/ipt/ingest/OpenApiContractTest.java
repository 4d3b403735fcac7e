package ipt.ingest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** ingest/openapi.yaml against the code: every status and error code the API can answer is documented, and no more. */
class OpenApiContractTest {
    private static final Pattern ERROR_CALL = Pattern.compile(
            "error\\(\\s*response,\\s*callback,\\s*\"[a-z]+\",\\s*[a-z]+,\\s*start,\\s*(\\d{3}),\\s*\"([a-z-]+)\"");

    private static JsonNode openApi() throws IOException {
        return new ObjectMapper(new YAMLFactory())
                .readTree(Path.of("openapi.yaml").toFile());
    }

    private static Set<String> strings(JsonNode array) {
        Set<String> out = new TreeSet<>();
        array.forEach(n -> out.add(n.asText()));
        return out;
    }

    @Test
    void everyErrorTheHandlerWritesIsDocumentedWithItsStatus() throws IOException {
        JsonNode doc = openApi();
        JsonNode responses = doc.at("/paths/~1v1~1documents/post/responses");
        Set<String> documentedCodes = strings(doc.at("/components/schemas/Error/properties/error/enum"));
        String source = Files.readString(Path.of("src/main/java/ipt/ingest/IngestApi.java"));
        Matcher m = ERROR_CALL.matcher(source);
        Set<String> written = new TreeSet<>();
        while (m.find()) {
            assertTrue(responses.has(m.group(1)), "status " + m.group(1) + " is documented");
            written.add(m.group(2));
        }
        // malformed-json and invalid-utf8 reach the error call through the parser's reason codes.
        written.add(Reason.MALFORMED_JSON.code());
        written.add(Reason.INVALID_UTF8.code());
        assertEquals(documentedCodes, written);
        Set<String> statuses = new TreeSet<>();
        responses.fieldNames().forEachRemaining(statuses::add);
        assertEquals(Set.of("202", "207", "400", "401", "404", "405", "413", "415", "500", "503"), statuses);
    }

    @Test
    void everyPerDocumentReasonIsDocumented() throws IOException {
        Set<String> documented =
                strings(openApi().at("/components/schemas/Outcome/properties/failed/items/properties/reason/enum"));
        Set<String> possible = new HashSet<>();
        for (Reason r : Reason.values()) {
            if (r.stage().equals(Reason.Stage.PARSE) || r.stage().equals(Reason.Stage.VALIDATE)) possible.add(r.code());
        }
        // Kafka-record-only reasons: an HTTP body is never an empty record, Avro, or past an unexpected error per
        // document.
        possible.removeAll(Arrays.asList("empty-record", "unknown-schema", "bad-avro", "unexpected-error"));
        possible.add("publish-failed");
        assertEquals(new TreeSet<>(possible), documented);
    }
}
