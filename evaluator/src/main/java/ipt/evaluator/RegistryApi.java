package ipt.evaluator;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import ipt.schemas.Decision;
import ipt.schemas.EvaluationReport;
import java.io.IOException;
import java.io.OutputStream;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericEnumSymbol;
import org.apache.avro.specific.SpecificRecord;

/**
 * The registry over HTTP, JSON, read only:
 * {@code GET /v1/lineages}, {@code /v1/lineages/{lineage}/champion}, {@code /v1/lineages/{lineage}/history}
 * and {@code /v1/lineages/{lineage}/versions/{version}/report}. Unknown lineages and versions are 404, a
 * version that is not a number 400, any other method 405; each error says why in {@code {"error", "detail"}}.
 */
public final class RegistryApi implements HttpHandler {
    public static final String PATH = "/v1/lineages";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final ModelRegistry registry;

    public RegistryApi(ModelRegistry registry) {
        this.registry = registry;
    }

    @Override
    public void handle(HttpExchange exchange) throws IOException {
        try (exchange) {
            if (!exchange.getRequestMethod().equals("GET")) {
                exchange.getResponseHeaders().set("Allow", "GET");
                send(
                        exchange,
                        405,
                        error(
                                "method-not-allowed",
                                exchange.getRequestMethod() + " is not served; the registry is read only"));
                return;
            }
            String path = exchange.getRequestURI().getPath();
            String[] parts = path.substring(PATH.length()).split("/", -1);
            if (parts.length == 1 && parts[0].isEmpty() || path.equals(PATH + "/")) {
                send(exchange, 200, lineages());
            } else if (parts.length == 3 && parts[2].equals("champion")) {
                String lineage = parts[1];
                var champion = registry.champion(lineage);
                if (champion.isEmpty())
                    send(exchange, 404, error("no-champion", "lineage " + lineage + " has no champion"));
                else send(exchange, 200, json(champion.get()));
            } else if (parts.length == 3 && parts[2].equals("history")) {
                List<EvaluationReport> history = registry.history(parts[1]);
                if (history.isEmpty())
                    send(exchange, 404, error("unknown-lineage", "no decision on lineage " + parts[1]));
                else send(exchange, 200, history.stream().map(RegistryApi::json).toList());
            } else if (parts.length == 5 && parts[2].equals("versions") && parts[4].equals("report")) {
                long version;
                try {
                    version = Long.parseLong(parts[3]);
                } catch (NumberFormatException e) {
                    send(exchange, 400, error("bad-version", "version must be a number, is " + parts[3]));
                    return;
                }
                List<EvaluationReport> reports = registry.reports(parts[1], version);
                if (reports.isEmpty())
                    send(exchange, 404, error("unknown-version", "no decision on " + parts[1] + " v" + version));
                else
                    send(
                            exchange,
                            200,
                            Map.of(
                                    "lineage",
                                    parts[1],
                                    "version",
                                    version,
                                    "reports",
                                    reports.stream().map(RegistryApi::json).toList()));
            } else {
                send(exchange, 404, error("not-found", "no such resource: " + path));
            }
        }
    }

    private List<Object> lineages() {
        List<Object> out = new ArrayList<>();
        for (String lineage : registry.lineages()) {
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("lineage", lineage);
            row.put(
                    "champion",
                    registry.champion(lineage).map(RegistryApi::json).orElse(null));
            List<EvaluationReport> history = registry.history(lineage);
            row.put("lastDecision", history.isEmpty() ? null : json(history.get(history.size() - 1)));
            row.put("promoted", registry.count(lineage, Decision.PROMOTE));
            row.put("rejected", registry.count(lineage, Decision.REJECT));
            out.add(row);
        }
        return out;
    }

    private static Map<String, Object> error(String code, String detail) {
        return Map.of("error", code, "detail", detail);
    }

    private static void send(HttpExchange exchange, int status, Object body) throws IOException {
        byte[] bytes = JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(body);
        exchange.getResponseHeaders().set("Content-Type", "application/json");
        exchange.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(bytes);
        }
    }

    /** An Avro record as JSON-ready maps: field names kept, timestamps as ISO-8601, enums as their names. */
    static Map<String, Object> json(SpecificRecord record) {
        Map<String, Object> out = new LinkedHashMap<>();
        for (Schema.Field field : record.getSchema().getFields()) out.put(field.name(), value(record.get(field.pos())));
        return out;
    }

    private static Object value(Object v) {
        if (v instanceof SpecificRecord r) return json(r);
        if (v instanceof List<?> list)
            return list.stream().map(RegistryApi::value).toList();
        if (v instanceof Instant
                || v instanceof CharSequence
                || v instanceof GenericEnumSymbol<?>
                || v instanceof Enum<?>) return v.toString();
        return v;
    }
}
