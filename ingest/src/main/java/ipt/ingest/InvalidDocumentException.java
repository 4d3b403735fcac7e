package ipt.ingest;

/** Bad input, with the reason code it is reported under. */
class InvalidDocumentException extends Exception {
    private final Reason reason;

    InvalidDocumentException(Reason reason, String detail) {
        // No stack trace: bad input is expected traffic, and filling traces would cost more than parsing.
        super(detail, null, false, false);
        this.reason = reason;
    }

    Reason reason() {
        return reason;
    }
}
