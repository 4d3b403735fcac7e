package ipt.ingest;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.core.exc.StreamConstraintsException;
import com.fasterxml.jackson.core.io.JsonEOFException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import ipt.schemas.AvroSerde;
import ipt.schemas.Document;
import ipt.schemas.SchemaHistory;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Instant;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;
import org.apache.avro.AvroRuntimeException;
import org.apache.avro.Schema;
import org.apache.avro.SchemaNormalization;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.io.BinaryDecoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.message.MissingSchemaException;
import org.apache.kafka.common.errors.SerializationException;

/**
 * Turns the bytes a producer sent into a {@link Document}: Avro single-object encoding, or a JSON
 * object {@code {"id", "domain", "text", "source", "metadata"}} in strict UTF-8. Every way the bytes
 * can be wrong ends in an {@link InvalidDocumentException} with its reason, never another exception.
 */
final class DocumentParser {
    private static final ObjectMapper JSON = JsonMapper.builder()
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .build();
    private static final AvroSerde<Document> AVRO = AvroSerde.of(Document.class);
    /** Every Document schema a producer may write with, by its fingerprint (CRC-64-AVRO of the Parsing Canonical
     * Form). */
    private static final Map<Long, Schema> DOCUMENT_SCHEMAS = documentSchemas();

    private static final String EXPECTED_FINGERPRINTS = DOCUMENT_SCHEMAS.keySet().stream()
            .map(DocumentParser::fingerprintHex)
            .collect(Collectors.joining(", "));
    private static final int HEADER_BYTES = 10;
    private static final int MAX_DETAIL_CHARS = 300;

    private DocumentParser() {}

    /** Avro or JSON; a JSON document must name its domain. */
    static Document parse(byte[] bytes, Instant ingestTime, String defaultSource) throws InvalidDocumentException {
        if (bytes == null || bytes.length == 0)
            throw new InvalidDocumentException(Reason.EMPTY_RECORD, "record has no value");
        if (AvroSerde.isSingleObject(bytes)) return parseAvro(bytes);
        return parseJson(bytes, null, ingestTime, defaultSource);
    }

    /**
     * A single-object encoded Document. Before anything is allocated the body is walked against its writer schema
     * (skipping, which allocates nothing), so a length that claims more bytes than the record has, a bad union
     * index or bytes after the record end as {@code bad-avro} whatever the heap.
     */
    static Document parseAvro(byte[] bytes) throws InvalidDocumentException {
        long fingerprint =
                ByteBuffer.wrap(bytes, 2, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        Schema writer = DOCUMENT_SCHEMAS.get(fingerprint);
        if (writer == null) {
            throw new InvalidDocumentException(
                    Reason.UNKNOWN_SCHEMA,
                    "schema fingerprint " + fingerprintHex(fingerprint) + " is not a Document schema; expected one of "
                            + EXPECTED_FINGERPRINTS + " (CRC-64-AVRO of the Parsing Canonical Form, see README)");
        }
        BinaryDecoder body = DecoderFactory.get().binaryDecoder(bytes, HEADER_BYTES, bytes.length - HEADER_BYTES, null);
        try {
            GenericDatumReader.skip(writer, body);
            if (!body.isEnd()) {
                throw new InvalidDocumentException(
                        Reason.BAD_AVRO, body.inputStream().available() + " bytes after the end of the record");
            }
        } catch (IOException e) {
            throw new InvalidDocumentException(
                    Reason.BAD_AVRO,
                    "the record declares more bytes than its " + (bytes.length - HEADER_BYTES) + "-byte body holds");
        } catch (AvroRuntimeException e) {
            throw new InvalidDocumentException(Reason.BAD_AVRO, shorten(e.getMessage()));
        }
        try {
            return AVRO.decode(bytes);
        } catch (SerializationException e) {
            Reason reason = e.getCause() instanceof MissingSchemaException ? Reason.UNKNOWN_SCHEMA : Reason.BAD_AVRO;
            throw new InvalidDocumentException(reason, shorten(e.getMessage()));
        }
    }

    /** The fingerprint as the 8 header bytes read it, little-endian, in hex (as the README lists them). */
    static String fingerprintHex(long fingerprint) {
        return String.format(Locale.ROOT, "%016x", Long.reverseBytes(fingerprint));
    }

    private static Map<Long, Schema> documentSchemas() {
        Map<Long, Schema> out = new LinkedHashMap<>();
        Schema current = Document.getClassSchema();
        out.put(SchemaNormalization.parsingFingerprint64(current), current);
        for (Schema s : SchemaHistory.schemas()) {
            if (s.getFullName().equals(current.getFullName())) out.put(SchemaNormalization.parsingFingerprint64(s), s);
        }
        return Collections.unmodifiableMap(out);
    }

    /**
     * One JSON document. {@code defaultDomain} (nullable) stands in for a missing domain; an absent id is
     * derived from the domain and text, so sending the same document twice gives the same id.
     */
    static Document parseJson(byte[] bytes, String defaultDomain, Instant ingestTime, String defaultSource)
            throws InvalidDocumentException {
        return fromJson(readJson(bytes), defaultDomain, ingestTime, defaultSource);
    }

    /** Strict UTF-8, one JSON value (a BOM allowed), no duplicate keys, nothing after it. */
    static JsonNode readJson(byte[] bytes) throws InvalidDocumentException {
        String json = StrictUtf8.decode(bytes);
        if (!json.isEmpty() && json.charAt(0) == '\uFEFF') json = json.substring(1);
        if (json.isBlank()) throw new InvalidDocumentException(Reason.MALFORMED_JSON, "no JSON value");
        try {
            return JSON.readTree(json);
        } catch (JsonProcessingException e) {
            String where = e.getLocation() == null
                    ? ""
                    : " at line " + e.getLocation().getLineNr() + " column "
                            + e.getLocation().getColumnNr();
            throw new InvalidDocumentException(Reason.MALFORMED_JSON, jsonProblem(e) + where);
        }
    }

    /** What is wrong with the JSON, in the API's words: Jackson's own messages name its classes and settings. */
    private static String jsonProblem(JsonProcessingException e) {
        String m = String.valueOf(e.getOriginalMessage());
        if (e instanceof JsonEOFException) return "the JSON ends before its value is complete";
        if (e instanceof StreamConstraintsException) return "the JSON nests too deeply or has a value that is too long";
        if (m.startsWith("Trailing token"))
            return "there is more after the JSON value (one value per body, or per line in NDJSON)";
        if (m.startsWith("Duplicate field "))
            return "duplicate key " + shorten(m.substring("Duplicate field ".length()));
        if (m.startsWith("Illegal unquoted character")) return "a control character inside a string must be escaped";
        int quote = m.indexOf("('");
        int end = m.indexOf("' (code");
        if (m.startsWith("Unexpected character") && quote >= 0 && end > quote)
            return "unexpected character '" + m.substring(quote + 2, end) + "'";
        int token = m.indexOf('\'');
        int tokenEnd = m.indexOf("':");
        if (m.startsWith("Unrecognized token") && token >= 0 && tokenEnd > token)
            return "unexpected word '" + shorten(m.substring(token + 1, tokenEnd)) + "'";
        return "not valid JSON";
    }

    /** One document from a parsed JSON value; see {@link #parseJson}. */
    static Document fromJson(JsonNode root, String defaultDomain, Instant ingestTime, String defaultSource)
            throws InvalidDocumentException {
        if (!root.isObject()) {
            throw new InvalidDocumentException(
                    Reason.NOT_AN_OBJECT,
                    "JSON value is " + root.getNodeType().name().toLowerCase() + ", expected an object");
        }
        String domain = optionalString(root, "domain");
        if (domain == null) domain = defaultDomain;
        if (domain == null) throw new InvalidDocumentException(Reason.MISSING_FIELD, "field 'domain' is missing");
        String text = optionalString(root, "text");
        if (text == null) throw new InvalidDocumentException(Reason.MISSING_FIELD, "field 'text' is missing");
        String id = optionalString(root, "id");
        String source = optionalString(root, "source");
        return Document.newBuilder()
                .setId(id != null ? id : Sha256.contentId(domain, text))
                .setDomain(domain)
                .setText(text)
                .setSource(source != null ? source : defaultSource)
                .setIngestTime(ingestTime)
                .setMetadata(metadata(root))
                .build();
    }

    /** A string field; absent and JSON null both read as null. */
    private static String optionalString(JsonNode root, String field) throws InvalidDocumentException {
        JsonNode node = root.get(field);
        if (node == null || node.isNull()) return null;
        if (!node.isTextual()) {
            throw new InvalidDocumentException(
                    Reason.WRONG_TYPE,
                    "field '" + field + "' must be a string, not "
                            + node.getNodeType().name().toLowerCase());
        }
        return wellFormed(field, node.textValue());
    }

    private static Map<String, String> metadata(JsonNode root) throws InvalidDocumentException {
        JsonNode node = root.get("metadata");
        Map<String, String> out = new HashMap<>();
        if (node == null || node.isNull()) return out;
        if (!node.isObject()) {
            throw new InvalidDocumentException(
                    Reason.WRONG_TYPE,
                    "field 'metadata' must be an object of strings, not "
                            + node.getNodeType().name().toLowerCase());
        }
        for (Map.Entry<String, JsonNode> entry : node.properties()) {
            if (!entry.getValue().isTextual()) {
                throw new InvalidDocumentException(
                        Reason.WRONG_TYPE, "metadata '" + shorten(entry.getKey()) + "' must be a string");
            }
            out.put(
                    wellFormed("metadata key", entry.getKey()),
                    wellFormed("metadata value", entry.getValue().textValue()));
        }
        return out;
    }

    /** JSON escapes can spell lone surrogates ("\ud800"), which no UTF-8 encoder can write back. */
    private static String wellFormed(String field, String value) throws InvalidDocumentException {
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            if (Character.isHighSurrogate(c)
                    && i + 1 < value.length()
                    && Character.isLowSurrogate(value.charAt(i + 1))) {
                i++;
            } else if (Character.isSurrogate(c)) {
                throw new InvalidDocumentException(
                        Reason.INVALID_UTF8, field + " has an unpaired surrogate at char " + i);
            }
        }
        return value;
    }

    static String shorten(String detail) {
        if (detail == null) return "";
        return detail.length() <= MAX_DETAIL_CHARS ? detail : detail.substring(0, MAX_DETAIL_CHARS) + "…";
    }
}
