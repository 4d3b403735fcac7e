package ipt.ingest;

import java.nio.file.Path;
import java.util.List;

/**
 * What a {@link FileLoader} run did.
 *
 * @param published documents the destination acknowledged
 * @param resumed lines (or text files) skipped because an earlier run, per the journal, already got them acknowledged
 * @param problems what was skipped, and where
 */
public record LoadReport(long published, long resumed, List<Problem> problems) {
    public LoadReport {
        problems = List.copyOf(problems);
    }

    /**
     * One skipped line or file.
     *
     * @param line 1-based line number; 0 when the problem concerns the whole file
     * @param reason reason code, as in the rejected topic (e.g. {@code malformed-json}, {@code invalid-utf8})
     * @param detail human-readable explanation
     */
    public record Problem(Path path, long line, String reason, String detail) {
        @Override
        public String toString() {
            return path + (line > 0 ? ":" + line : "") + ": " + reason + ": " + detail;
        }
    }
}
