package ipt.ingest;

import java.text.Normalizer;

/**
 * The canonical form of a document's text, so that the same text dedupes and trains the same however
 * it was typed: Unicode NFC, LF line ends, no control characters but newline and tab, no trailing
 * blanks on a line, no blank lines before the first line of text, nothing blank after the last (a first
 * line's indentation is kept: in code it means something).
 */
final class TextNormaliser {
    private TextNormaliser() {}

    static String normalise(String text) {
        StringBuilder out = new StringBuilder(text.length());
        int lineStart = 0;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c == '\r') {
                if (i + 1 < text.length() && text.charAt(i + 1) == '\n') i++;
                c = '\n';
            }
            if (c == '\n') {
                stripTrailingBlanks(out, lineStart);
                out.append('\n');
                lineStart = out.length();
            } else if (c == '\t' || !Character.isISOControl(c)) {
                out.append(c);
            }
        }
        stripTrailingBlanks(out, lineStart);
        // NFC last: removing a control character can bring a base letter and its combining mark together.
        int start = 0;
        while (start < out.length() && out.charAt(start) == '\n') start++;
        return Normalizer.normalize(out.substring(start), Normalizer.Form.NFC).stripTrailing();
    }

    private static void stripTrailingBlanks(StringBuilder out, int lineStart) {
        int end = out.length();
        while (end > lineStart && isBlank(out.charAt(end - 1))) end--;
        out.setLength(end);
    }

    /** Horizontal white space, including no-break and other Unicode spaces. */
    static boolean isBlank(char c) {
        return c != '\n' && (Character.isWhitespace(c) || Character.isSpaceChar(c));
    }

    /**
     * True when the text has nothing visible: only white space and format characters (zero-width space and joiners,
     * word joiner, BOM, soft hyphen), which are kept inside text (a joiner means something in Persian or an emoji).
     */
    static boolean isEmpty(String text) {
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c != '\n' && !isBlank(c) && Character.getType(c) != Character.FORMAT) return false;
        }
        return true;
    }
}
