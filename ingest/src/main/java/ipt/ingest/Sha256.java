package ipt.ingest;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/** SHA-256 digests: content hashes for dedup, derived ids, and the held-out split. */
final class Sha256 {
    private Sha256() {}

    static byte[] digest(String text) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JVM ships SHA-256", e);
        }
    }

    static String hex(String text) {
        return HexFormat.of().formatHex(digest(text));
    }

    /** The id of a document sent without one: the same domain and text always get the same id, so re-sends dedupe. */
    static String contentId(String domain, String text) {
        return hex(domain + '\u0000' + text);
    }
}
