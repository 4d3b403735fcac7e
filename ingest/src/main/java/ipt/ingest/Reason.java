package ipt.ingest;

/** Why a record was dropped: the code written to the DLQ and the curation stage that decided it. */
enum Reason {
    EMPTY_RECORD("empty-record", Stage.PARSE),
    INVALID_UTF8("invalid-utf8", Stage.PARSE),
    MALFORMED_JSON("malformed-json", Stage.PARSE),
    NOT_AN_OBJECT("not-an-object", Stage.PARSE),
    MISSING_FIELD("missing-field", Stage.PARSE),
    WRONG_TYPE("wrong-type", Stage.PARSE),
    UNKNOWN_SCHEMA("unknown-schema", Stage.PARSE),
    BAD_AVRO("bad-avro", Stage.PARSE),
    /** A bug, not bad input: still routed to the DLQ so one record can never stop the stream. */
    UNEXPECTED_ERROR("unexpected-error", Stage.PARSE),
    BAD_ID("bad-id", Stage.VALIDATE),
    BAD_DOMAIN("bad-domain", Stage.VALIDATE),
    EMPTY_TEXT("empty-text", Stage.VALIDATE),
    TEXT_TOO_SHORT("text-too-short", Stage.VALIDATE),
    TEXT_TOO_LONG("text-too-long", Stage.VALIDATE),
    /** The ingest API's per-document size limit (its JSON, before parsing). */
    DOCUMENT_TOO_LARGE("document-too-large", Stage.VALIDATE),
    TOO_FEW_WORDS("too-few-words", Stage.QUALITY),
    TOO_MANY_WORDS("too-many-words", Stage.QUALITY),
    MEAN_WORD_LENGTH("mean-word-length", Stage.QUALITY),
    SYMBOL_RATIO("symbol-ratio", Stage.QUALITY),
    BULLET_LINES("bullet-lines", Stage.QUALITY),
    ELLIPSIS_LINES("ellipsis-lines", Stage.QUALITY),
    FEW_ALPHA_WORDS("few-alpha-words", Stage.QUALITY),
    FEW_STOP_WORDS("few-stop-words", Stage.QUALITY),
    DUPLICATE_LINES("duplicate-lines", Stage.QUALITY),
    TOP_NGRAM_REPETITION("top-ngram-repetition", Stage.QUALITY),
    DUPLICATE_NGRAMS("duplicate-ngrams", Stage.QUALITY),
    LONG_LINES("long-lines", Stage.QUALITY),
    LOW_ALPHANUMERIC("low-alphanumeric", Stage.QUALITY),
    DUPLICATE("duplicate", Stage.DEDUP),
    NEAR_DUPLICATE("near-duplicate", Stage.NEAR_DUP);

    /** Curation stages, as named in metrics and in {@code RejectedDocument.stage}. */
    static final class Stage {
        static final String PARSE = "parse";
        static final String VALIDATE = "validate";
        static final String QUALITY = "quality";
        static final String DEDUP = "dedup";
        static final String NEAR_DUP = "near-dup";

        private Stage() {}
    }

    private final String code;
    private final String stage;

    Reason(String code, String stage) {
        this.code = code;
        this.stage = stage;
    }

    String code() {
        return code;
    }

    String stage() {
        return stage;
    }
}
