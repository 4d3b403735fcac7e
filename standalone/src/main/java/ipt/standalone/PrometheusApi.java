package ipt.standalone;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;

/** Queries of a running Prometheus's HTTP API (/api/v1/query and query_range). */
record PrometheusApi(String base) {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient HTTP = HttpClient.newHttpClient();

    /** The instant vector's result array at {@code time} (epoch seconds). */
    JsonNode query(String promql, long time) throws IOException, InterruptedException {
        return get("query?query=" + encode(promql) + "&time=" + time).get("result");
    }

    /** The range query's result array: one element per series, each with "metric" and "values". */
    JsonNode range(String promql, long start, long end, long step) throws IOException, InterruptedException {
        return get("query_range?query=" + encode(promql) + "&start=" + start + "&end=" + end + "&step=" + step)
                .get("result");
    }

    /** GET /api/v1/{@code path}'s data; a Prometheus that refuses the query is an error. */
    JsonNode get(String path) throws IOException, InterruptedException {
        HttpResponse<String> r = HTTP.send(
                HttpRequest.newBuilder(URI.create(base + "/api/v1/" + path)).build(),
                HttpResponse.BodyHandlers.ofString());
        JsonNode body = JSON.readTree(r.body());
        if (!"success".equals(body.path("status").asText())) throw new IOException(path + ": " + r.body());
        return body.get("data");
    }

    private static String encode(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8);
    }
}
