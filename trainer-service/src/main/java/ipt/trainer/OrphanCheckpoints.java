package ipt.trainer;

import ipt.runtime.DirectoryTree;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Checkpoint directories no committed transaction points to: versions after the lineage's last committed
 * one (written, then the process died before or during the commit) and half-written temporary directories
 * (died mid-write). Only the trainer of the lineage may remove them, and only after it fenced any older
 * instance (initTransactions) and read the last committed checkpoint, so nothing it deletes can still commit.
 */
final class OrphanCheckpoints {
    private static final Pattern VERSION = Pattern.compile("v(\\d{6,})");
    private static final Pattern TEMPORARY = Pattern.compile("\\.v\\d{6,}\\.tmp-.*");

    private OrphanCheckpoints() {}

    /** Removes the orphans under {@code root}; returns the names removed. */
    static List<String> remove(Path root, long lastCommittedVersion) throws IOException {
        List<String> removed = new ArrayList<>();
        if (!Files.isDirectory(root)) return removed;
        try (Stream<Path> entries = Files.list(root)) {
            for (Path dir : entries.sorted().toList()) {
                String name = dir.getFileName().toString();
                Matcher version = VERSION.matcher(name);
                boolean orphan = TEMPORARY.matcher(name).matches()
                        || (version.matches() && Long.parseLong(version.group(1)) > lastCommittedVersion);
                if (orphan && Files.isDirectory(dir)) {
                    DirectoryTree.delete(dir);
                    removed.add(name);
                }
            }
        }
        return removed;
    }
}
