package ipt.ingest;

import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/** UTF-8 decoding that refuses malformed input instead of replacing it with U+FFFD, and says where. */
final class StrictUtf8 {
    private StrictUtf8() {}

    static String decode(byte[] bytes) throws InvalidDocumentException {
        CharsetDecoder decoder = StandardCharsets.UTF_8
                .newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
        ByteBuffer in = ByteBuffer.wrap(bytes);
        // UTF-8 never yields more chars than bytes, so one pass fills the buffer or stops at the first bad byte.
        CharBuffer out = CharBuffer.allocate(bytes.length);
        CoderResult result = decoder.decode(in, out, true);
        if (!result.isError()) result = decoder.flush(out);
        if (result.isError()) throw new InvalidUtf8Exception(in.position());
        return out.flip().toString();
    }

    /** Invalid UTF-8, with the offset of the first bad byte. */
    static final class InvalidUtf8Exception extends InvalidDocumentException {
        private final int offset;

        InvalidUtf8Exception(int offset) {
            super(Reason.INVALID_UTF8, "invalid UTF-8 at byte " + offset);
            this.offset = offset;
        }

        int offset() {
            return offset;
        }
    }
}
