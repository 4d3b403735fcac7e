package ipt.ingest;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import ipt.schemas.AvroSerde;
import ipt.schemas.Document;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import org.apache.avro.message.MissingSchemaException;
import org.apache.kafka.common.errors.SerializationException;

/**
 * Turns the bytes a producer sent into a {@link Document}: Avro single-object encoding, or a JSON
 * object {@code {"id", "domain", "text", "source", "metadata"}} in strict UTF-8. Every way the bytes
 * can be wrong ends in an {@link InvalidDocumentException} with its reason, never another exception.
 */
final class DocumentParser {
  private static final ObjectMapper JSON =
      JsonMapper.builder()
          .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
          .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
          .build();
  private static final AvroSerde<Document> AVRO = AvroSerde.of(Document.class);
  private static final int MAX_DETAIL_CHARS = 300;

  private DocumentParser() {}

  /** Avro or JSON; a JSON document must name its domain. */
  static Document parse(byte[] bytes, Instant ingestTime, String defaultSource) throws InvalidDocumentException {
    if (bytes == null || bytes.length == 0) throw new InvalidDocumentException(Reason.EMPTY_RECORD, "record has no value");
    if (AvroSerde.isSingleObject(bytes)) return parseAvro(bytes);
    return parseJson(bytes, null, ingestTime, defaultSource);
  }

  static Document parseAvro(byte[] bytes) throws InvalidDocumentException {
    try {
      return AVRO.decode(bytes);
    } catch (SerializationException e) {
      Reason reason = e.getCause() instanceof MissingSchemaException ? Reason.UNKNOWN_SCHEMA : Reason.BAD_AVRO;
      throw new InvalidDocumentException(reason, shorten(e.getMessage()));
    }
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
      String where = e.getLocation() == null ? "" : " at line " + e.getLocation().getLineNr() + " column " + e.getLocation().getColumnNr();
      throw new InvalidDocumentException(Reason.MALFORMED_JSON, shorten(e.getOriginalMessage()) + where);
    }
  }

  /** One document from a parsed JSON value; see {@link #parseJson}. */
  static Document fromJson(JsonNode root, String defaultDomain, Instant ingestTime, String defaultSource)
      throws InvalidDocumentException {
    if (!root.isObject()) {
      throw new InvalidDocumentException(Reason.NOT_AN_OBJECT, "JSON value is " + root.getNodeType().name().toLowerCase() + ", expected an object");
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
      throw new InvalidDocumentException(Reason.WRONG_TYPE, "field '" + field + "' must be a string, not " + node.getNodeType().name().toLowerCase());
    }
    return wellFormed(field, node.textValue());
  }

  private static Map<String, String> metadata(JsonNode root) throws InvalidDocumentException {
    JsonNode node = root.get("metadata");
    Map<String, String> out = new HashMap<>();
    if (node == null || node.isNull()) return out;
    if (!node.isObject()) {
      throw new InvalidDocumentException(Reason.WRONG_TYPE, "field 'metadata' must be an object of strings, not " + node.getNodeType().name().toLowerCase());
    }
    for (Map.Entry<String, JsonNode> entry : node.properties()) {
      if (!entry.getValue().isTextual()) {
        throw new InvalidDocumentException(Reason.WRONG_TYPE, "metadata '" + shorten(entry.getKey()) + "' must be a string");
      }
      out.put(wellFormed("metadata key", entry.getKey()), wellFormed("metadata value", entry.getValue().textValue()));
    }
    return out;
  }

  /** JSON escapes can spell lone surrogates ("\ud800"), which no UTF-8 encoder can write back. */
  private static String wellFormed(String field, String value) throws InvalidDocumentException {
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      if (Character.isHighSurrogate(c) && i + 1 < value.length() && Character.isLowSurrogate(value.charAt(i + 1))) {
        i++;
      } else if (Character.isSurrogate(c)) {
        throw new InvalidDocumentException(Reason.INVALID_UTF8, field + " has an unpaired surrogate at char " + i);
      }
    }
    return value;
  }

  static String shorten(String detail) {
    if (detail == null) return "";
    return detail.length() <= MAX_DETAIL_CHARS ? detail : detail.substring(0, MAX_DETAIL_CHARS) + "…";
  }
}
