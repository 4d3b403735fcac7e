package ipt.ingest;

import ipt.schemas.Document;
import java.util.regex.Pattern;

/** The validate and normalise stages: a parsed document becomes a curated one or is refused with a reason. */
final class DocumentValidator {
    static final Pattern DOMAIN = Pattern.compile("[a-z0-9][a-z0-9._-]{0,63}");

    private DocumentValidator() {}

    /** Returns the document with its text normalised, or throws saying which rule it broke. */
    static Document validate(Document doc, CurationConfig config) throws InvalidDocumentException {
        String id = doc.getId();
        if (id.isEmpty() || id.length() > config.maxIdChars()) {
            throw new InvalidDocumentException(
                    Reason.BAD_ID, "id must have 1 to " + config.maxIdChars() + " chars, has " + id.length());
        }
        if (id.chars().anyMatch(Character::isISOControl)) {
            throw new InvalidDocumentException(Reason.BAD_ID, "id contains control characters");
        }
        if (!DOMAIN.matcher(doc.getDomain()).matches()) {
            throw new InvalidDocumentException(
                    Reason.BAD_DOMAIN,
                    "domain '" + DocumentParser.shorten(doc.getDomain()) + "' does not match " + DOMAIN.pattern());
        }
        String text = TextNormaliser.normalise(doc.getText());
        if (TextNormaliser.isEmpty(text))
            throw new InvalidDocumentException(Reason.EMPTY_TEXT, "text is empty after normalisation");
        if (text.length() < config.minTextChars()) {
            throw new InvalidDocumentException(
                    Reason.TEXT_TOO_SHORT, "text has " + text.length() + " chars, fewer than " + config.minTextChars());
        }
        if (text.length() > config.maxTextChars()) {
            throw new InvalidDocumentException(
                    Reason.TEXT_TOO_LONG, "text has " + text.length() + " chars, more than " + config.maxTextChars());
        }
        return Document.newBuilder(doc).setText(text).build();
    }
}
