package ipt.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Disk space the files under a directory take, as `du -sB1` counts it: blocks allocated, not apparent sizes (the
 * broker preallocates 10 MB index files that hold next to nothing).
 */
final class DiskUse {
    private DiskUse() {}

    static long bytes(Path root) {
        if (!Files.exists(root)) return 0;
        try {
            Process du = new ProcessBuilder("du", "-sB1", root.toString())
                    .redirectError(ProcessBuilder.Redirect.DISCARD)
                    .start();
            String out = new String(du.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            du.waitFor();
            // du complains (and exits 1) about files deleted while it walks; its total still stands.
            return out.isBlank() ? 0 : Long.parseLong(out.strip().split("\\s+")[0]);
        } catch (IOException | NumberFormatException e) {
            return 0;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 0;
        }
    }
}
