package ipt.ingest;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import ipt.runtime.KafkaSettings;
import ipt.runtime.ServiceProcess;
import ipt.runtime.Settings;
import ipt.runtime.StatusServer;
import ipt.schemas.Document;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.zip.GZIPInputStream;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.io.Connection;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.Callback;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The HTTP ingest API (Jetty): {@code POST /v1/documents} with one JSON document, a JSON array or NDJSON,
 * answered only once Kafka acknowledged every accepted document ({@code acks=all}, idempotent producer).
 * Contract: {@code ingest/openapi.yaml}.
 */
public final class IngestApi implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(IngestApi.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    static final String DOCUMENTS_PATH = "/v1/documents";

    private final Server server;
    private final DocumentPublisher publisher;

    private IngestApi(Server server, DocumentPublisher publisher) {
        this.server = server;
        this.publisher = publisher;
    }

    /** Starts the API over its own publisher (closed with the API). */
    public static IngestApi start(
            IngestApiConfig config,
            Map<String, Object> kafkaProps,
            CurationConfig curation,
            PrometheusRegistry registry)
            throws Exception {
        Map<String, Object> props = new HashMap<>(kafkaProps);
        // A broker outage must end in a 503 the client can retry, not in requests hanging for minutes.
        props.putIfAbsent("request.timeout.ms", 10_000);
        props.putIfAbsent("delivery.timeout.ms", 30_000);
        props.putIfAbsent("max.block.ms", 10_000);
        DocumentPublisher publisher = new DocumentPublisher(props);
        HttpConfiguration http = new HttpConfiguration();
        http.setSendServerVersion(false);
        // Slow and stalled clients are cut off rather than left to hold connections (a body is read without a thread).
        http.setMinRequestDataRate(config.minRequestBytesPerSecond());
        Server server = new Server();
        ServerConnector connector = new ServerConnector(server, new HttpConnectionFactory(http));
        connector.setHost(config.host());
        connector.setPort(config.port());
        connector.setIdleTimeout(config.idleTimeoutMs());
        connector.addBean(new HeaderTimeout(connector, config.headerTimeoutMs()));
        server.addConnector(connector);
        server.setHandler(new DocumentsHandler(config, curation, publisher, new IngestApiMetrics(registry)));
        try {
            server.start();
        } catch (Exception e) {
            publisher.close();
            throw e;
        }
        return new IngestApi(server, publisher);
    }

    public int port() {
        return ((ServerConnector) server.getConnectors()[0]).getLocalPort();
    }

    public StatusServer.Health health() {
        return new StatusServer.Health(server.isRunning(), "jetty " + server.getState());
    }

    public URI url() {
        return URI.create("http://127.0.0.1:" + port());
    }

    @Override
    public void close() throws Exception {
        server.stop();
        publisher.close();
    }

    /** Runs the API against the Kafka cluster named by KAFKA_BOOTSTRAP_SERVERS (see README). */
    public static void main(String[] args) throws Exception {
        Settings.Values settings = IngestApiConfig.SETTINGS.parse(Settings.environment());
        // The curation rules too: the API refuses at once what curation would reject.
        CurationConfig curation = CurationConfig.from(CurationConfig.SETTINGS.parse(settings.env()));
        PrometheusRegistry registry = new PrometheusRegistry();
        IngestApi api =
                start(IngestApiConfig.from(settings), KafkaSettings.fromEnv(settings.env()), curation, registry);
        LOG.info("ingest API on port {}", api.port());
        ServiceProcess.runUntilShutdown("ingest-api", settings, registry, api::health, api);
    }

    /**
     * Closes a connection that has not sent a whole request head within the timeout: the idle timeout alone lets a
     * client that sends one header byte every few seconds keep a connection for ever.
     */
    private record HeaderTimeout(ServerConnector connector, long timeoutMs) implements Connection.Listener {
        @Override
        public void onOpened(Connection connection) {
            connector
                    .getScheduler()
                    .schedule(
                            () -> {
                                if (connection.getMessagesIn() == 0
                                        && connection.getEndPoint().isOpen()) connection.close();
                            },
                            timeoutMs,
                            TimeUnit.MILLISECONDS);
        }
    }

    /** One failed document of a batch: where it was, its id if it had one, and why. */
    private record Failure(int index, String id, String reason, String detail) {}

    private static final class DocumentsHandler extends Handler.Abstract {
        private final IngestApiConfig config;
        private final CurationConfig curation;
        private final DocumentPublisher publisher;
        private final IngestApiMetrics metrics;
        private final byte[] token;
        private final Semaphore permits;

        DocumentsHandler(
                IngestApiConfig config,
                CurationConfig curation,
                DocumentPublisher publisher,
                IngestApiMetrics metrics) {
            this.config = config;
            this.curation = curation;
            this.publisher = publisher;
            this.metrics = metrics;
            this.token = config.token().getBytes(StandardCharsets.UTF_8);
            this.permits = new Semaphore(config.maxConcurrentRequests());
        }

        @Override
        public boolean handle(Request request, Response response, Callback callback) {
            long start = System.nanoTime();
            String path = Request.getPathInContext(request);
            String method = request.getMethod();
            if (path.equals("/healthz")) {
                reply(
                        response,
                        callback,
                        "healthz",
                        method,
                        start,
                        200,
                        JSON.createObjectNode().put("status", "ok"));
                return true;
            }
            // Refused before its body is read, a request leaves bytes on the connection: close it rather than let
            // the client send its next request into a connection the server is about to drop.
            response.getHeaders().put(HttpHeader.CONNECTION, "close");
            if (!path.equals(DOCUMENTS_PATH)) {
                error(
                        response,
                        callback,
                        "other",
                        method,
                        start,
                        404,
                        "not-found",
                        "no resource at " + DocumentParser.shorten(path) + "; documents go to POST " + DOCUMENTS_PATH);
                return true;
            }
            if (!method.equals("POST")) {
                response.getHeaders().put(HttpHeader.ALLOW, "POST");
                error(
                        response,
                        callback,
                        "documents",
                        method,
                        start,
                        405,
                        "method-not-allowed",
                        method + " is not allowed; use POST");
                return true;
            }
            String auth = request.getHeaders().get(HttpHeader.AUTHORIZATION);
            if (auth == null || !MessageDigest.isEqual(bearerToken(auth), token)) {
                response.getHeaders().put(HttpHeader.WWW_AUTHENTICATE, "Bearer realm=\"ipt\"");
                error(
                        response,
                        callback,
                        "documents",
                        method,
                        start,
                        401,
                        "unauthorized",
                        auth == null ? "missing Authorization: Bearer <token>" : "wrong bearer token");
                return true;
            }
            try {
                handleDocuments(request, response, callback, start);
            } catch (RuntimeException e) {
                LOG.error("ingest request failed unexpectedly", e);
                error(
                        response,
                        callback,
                        "documents",
                        method,
                        start,
                        500,
                        "internal-error",
                        "unexpected error; nothing from this request was accepted");
            }
            return true;
        }

        private void handleDocuments(Request request, Response response, Callback callback, long start) {
            String method = request.getMethod();
            String contentType = request.getHeaders().get(HttpHeader.CONTENT_TYPE);
            String media = contentType == null
                    ? ""
                    : contentType.split(";", 2)[0].strip().toLowerCase(Locale.ROOT);
            boolean ndjson = media.equals("application/x-ndjson");
            if (!ndjson && !media.equals("application/json")) {
                error(
                        response,
                        callback,
                        "documents",
                        method,
                        start,
                        415,
                        "unsupported-media-type",
                        "Content-Type must be application/json or application/x-ndjson, not '"
                                + DocumentParser.shorten(contentType) + "'");
                return;
            }
            if (!utf8(contentType)) {
                error(
                        response,
                        callback,
                        "documents",
                        method,
                        start,
                        415,
                        "unsupported-media-type",
                        "only charset=utf-8 is accepted");
                return;
            }
            String encoding = request.getHeaders().get(HttpHeader.CONTENT_ENCODING);
            boolean gzip = encoding != null
                    && (encoding.strip().equalsIgnoreCase("gzip")
                            || encoding.strip().equalsIgnoreCase("x-gzip"));
            if (encoding != null && !gzip && !encoding.strip().equalsIgnoreCase("identity")) {
                error(
                        response,
                        callback,
                        "documents",
                        method,
                        start,
                        415,
                        "unsupported-encoding",
                        "Content-Encoding '" + DocumentParser.shorten(encoding)
                                + "' is not supported; send gzip or identity");
                return;
            }
            if (request.getLength() > config.maxBodyBytes()) {
                error(
                        response,
                        callback,
                        "documents",
                        method,
                        start,
                        413,
                        "body-too-large",
                        "body of " + request.getLength() + " bytes is over the limit of " + config.maxBodyBytes());
                return;
            }
            BodyReader.read(request, config.maxBodyBytes()).whenComplete((body, failure) -> {
                if (failure != null) {
                    error(
                            response,
                            callback,
                            "documents",
                            method,
                            start,
                            400,
                            "unreadable-body",
                            "could not read the body: " + DocumentParser.shorten(failure.getMessage()));
                } else if (!permits.tryAcquire()) {
                    response.getHeaders().put(HttpHeader.RETRY_AFTER, "1");
                    error(
                            response,
                            callback,
                            "documents",
                            method,
                            start,
                            503,
                            "overloaded",
                            config.maxConcurrentRequests()
                                    + " requests are being published already; retry after a second");
                } else {
                    handlePermitted(
                            request,
                            response,
                            Callback.from(callback, (Runnable) permits::release),
                            start,
                            ndjson,
                            gzip,
                            body);
                }
            });
        }

        /** Holding one of the {@code maxConcurrentRequests} permits, released with the callback. */
        private void handlePermitted(
                Request request,
                Response response,
                Callback callback,
                long start,
                boolean ndjson,
                boolean gzip,
                byte[] body) {
            String method = request.getMethod();
            try {
                handleBody(request, response, callback, start, ndjson, gzip ? gunzip(body) : body);
            } catch (InvalidDocumentException e) {
                if (e.reason() == Reason.DOCUMENT_TOO_LARGE)
                    error(response, callback, "documents", method, start, 413, "body-too-large", e.getMessage());
                else error(response, callback, "documents", method, start, 400, "bad-encoding", e.getMessage());
            } catch (RuntimeException e) {
                LOG.error("ingest request failed unexpectedly", e);
                error(
                        response,
                        callback,
                        "documents",
                        method,
                        start,
                        500,
                        "internal-error",
                        "unexpected error; nothing from this request was accepted");
            }
        }

        /** A gzip body, inflated up to the body limit (a small gzip can inflate to gigabytes). */
        private byte[] gunzip(byte[] body) throws InvalidDocumentException {
            if (body.length > config.maxBodyBytes()) return body;
            try (InputStream in = new GZIPInputStream(new ByteArrayInputStream(body))) {
                byte[] inflated = in.readNBytes(config.maxBodyBytes() + 1);
                if (inflated.length > config.maxBodyBytes()) {
                    throw new InvalidDocumentException(
                            Reason.DOCUMENT_TOO_LARGE,
                            "gzip body inflates to more than the limit of " + config.maxBodyBytes() + " bytes");
                }
                return inflated;
            } catch (IOException e) {
                throw new InvalidDocumentException(
                        Reason.MALFORMED_JSON, "Content-Encoding is gzip but the body is not valid gzip");
            }
        }

        private void handleBody(
                Request request, Response response, Callback callback, long start, boolean ndjson, byte[] body) {
            String method = request.getMethod();
            metrics.bodyBytes(body.length);
            if (body.length > config.maxBodyBytes()) {
                error(
                        response,
                        callback,
                        "documents",
                        method,
                        start,
                        413,
                        "body-too-large",
                        "body is over the limit of " + config.maxBodyBytes() + " bytes");
                return;
            }
            response.getHeaders().remove(HttpHeader.CONNECTION);
            List<byte[]> parts;
            List<JsonNode> values;
            try {
                if (ndjson) {
                    parts = lines(body);
                    values = null;
                } else {
                    JsonNode root = DocumentParser.readJson(body);
                    values = new ArrayList<>();
                    if (root.isArray()) root.forEach(values::add);
                    else values.add(root);
                    parts = null;
                }
            } catch (InvalidDocumentException e) {
                error(
                        response,
                        callback,
                        "documents",
                        method,
                        start,
                        400,
                        e.reason() == Reason.MALFORMED_JSON && body.length == 0
                                ? "empty-body"
                                : e.reason().code(),
                        e.getMessage());
                return;
            }
            int count = ndjson ? parts.size() : values.size();
            if (count == 0) {
                error(response, callback, "documents", method, start, 400, "empty-body", "no documents in the body");
                return;
            }
            if (count > config.maxBatchDocuments()) {
                error(
                        response,
                        callback,
                        "documents",
                        method,
                        start,
                        400,
                        "batch-too-long",
                        count + " documents in one request, more than the limit of " + config.maxBatchDocuments());
                return;
            }
            Instant now = Instant.now();
            List<Failure> failures = new ArrayList<>();
            List<String> ids = new ArrayList<>();
            List<String> domains = new ArrayList<>();
            List<CompletableFuture<?>> acks = new ArrayList<>();
            List<Integer> indexes = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                String id = null;
                String domain = null;
                try {
                    Document doc;
                    if (ndjson) {
                        if (parts.get(i).length > config.maxDocumentBytes()) throw tooLarge(parts.get(i).length);
                        doc = DocumentParser.parseJson(parts.get(i), null, now, "http");
                    } else {
                        JsonNode value = values.get(i);
                        if (value.isObject() && value.path("id").isTextual())
                            id = value.get("id").textValue();
                        // Serialising an element again just to measure it is only needed when the whole body could hold
                        // one too large.
                        if (body.length > config.maxDocumentBytes()) {
                            int size = value.toString().getBytes(StandardCharsets.UTF_8).length;
                            if (size > config.maxDocumentBytes()) throw tooLarge(size);
                        }
                        doc = DocumentParser.fromJson(value, null, now, "http");
                    }
                    id = doc.getId();
                    domain = doc.getDomain();
                    DocumentValidator.validate(doc, curation);
                    acks.add(publisher.send(doc));
                    ids.add(id);
                    domains.add(domain);
                    indexes.add(i);
                } catch (InvalidDocumentException e) {
                    failures.add(new Failure(i, id, e.reason().code(), e.getMessage()));
                    metrics.document(domain, false);
                }
            }
            CompletableFuture.allOf(
                            acks.stream().map(a -> a.handle((ok, e) -> null)).toArray(CompletableFuture[]::new))
                    .whenComplete((ignored, never) -> {
                        List<String> accepted = new ArrayList<>();
                        boolean publishFailed = false;
                        for (int k = 0; k < acks.size(); k++) {
                            CompletableFuture<?> ack = acks.get(k);
                            if (ack.isCompletedExceptionally()) {
                                publishFailed = true;
                                String why = ack.handle(
                                                (ok, e) -> String.valueOf(e.getCause() != null ? e.getCause() : e))
                                        .join();
                                failures.add(new Failure(
                                        indexes.get(k), ids.get(k), "publish-failed", DocumentParser.shorten(why)));
                                metrics.document(domains.get(k), false);
                            } else {
                                accepted.add(ids.get(k));
                                metrics.document(domains.get(k), true);
                            }
                        }
                        failures.sort((a, b) -> Integer.compare(a.index(), b.index()));
                        int status = failures.isEmpty() ? 202 : !accepted.isEmpty() ? 207 : publishFailed ? 503 : 400;
                        if (status == 503) response.getHeaders().put(HttpHeader.RETRY_AFTER, "5");
                        reply(response, callback, "documents", method, start, status, outcome(accepted, failures));
                    });
        }

        /** The credentials of a Bearer authorization; the scheme name is case-insensitive (RFC 7235 section 2.1). */
        private static byte[] bearerToken(String authorization) {
            String[] parts = authorization.strip().split(" +", 2);
            if (parts.length != 2 || !parts[0].equalsIgnoreCase("Bearer")) return new byte[0];
            return parts[1].strip().getBytes(StandardCharsets.UTF_8);
        }

        /** No charset parameter means UTF-8 (RFC 8259); any other than UTF-8 is refused rather than guessed at. */
        private static boolean utf8(String contentType) {
            for (String parameter : contentType.split(";")) {
                String[] kv = parameter.strip().split("=", 2);
                if (kv.length == 2 && kv[0].strip().equalsIgnoreCase("charset")) {
                    return kv[1].strip().replace("\"", "").equalsIgnoreCase("utf-8");
                }
            }
            return true;
        }

        private InvalidDocumentException tooLarge(int bytes) {
            return new InvalidDocumentException(
                    Reason.DOCUMENT_TOO_LARGE,
                    "document of " + bytes + " bytes is over the limit of " + config.maxDocumentBytes());
        }

        private static List<byte[]> lines(byte[] body) {
            List<byte[]> lines = new ArrayList<>();
            int from = 0;
            for (int i = 0; i <= body.length; i++) {
                if (i == body.length || body[i] == '\n') {
                    int end = i > from && body[i - 1] == '\r' ? i - 1 : i;
                    byte[] line = Arrays.copyOfRange(body, from, end);
                    if (!new String(line, StandardCharsets.ISO_8859_1).isBlank()) lines.add(line);
                    from = i + 1;
                }
            }
            return lines;
        }

        private static ObjectNode outcome(List<String> accepted, List<Failure> failures) {
            ObjectNode body = JSON.createObjectNode();
            ArrayNode a = body.putArray("accepted");
            accepted.forEach(a::add);
            ArrayNode f = body.putArray("failed");
            for (Failure failure : failures) {
                f.addObject()
                        .put("index", failure.index())
                        .put("id", failure.id())
                        .put("reason", failure.reason())
                        .put("detail", failure.detail());
            }
            return body;
        }

        private void error(
                Response response,
                Callback callback,
                String route,
                String method,
                long start,
                int status,
                String code,
                String detail) {
            reply(
                    response,
                    callback,
                    route,
                    method,
                    start,
                    status,
                    JSON.createObjectNode().put("error", code).put("detail", detail));
        }

        private void reply(
                Response response,
                Callback callback,
                String route,
                String method,
                long start,
                int status,
                ObjectNode body) {
            response.setStatus(status);
            response.getHeaders().put(HttpHeader.CONTENT_TYPE, "application/json");
            metrics.request(route, method, status, start);
            Content.Sink.write(response, true, body.toString(), callback);
        }
    }
}
