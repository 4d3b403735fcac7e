package ipt.checkpoints;

import ipt.runtime.DirectoryTree;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/** A lineage's checkpoint directories {@code <root>/<lineage>/vNNNNNN}, in a directory store or a local cache. */
final class CheckpointDirectories {
    static final Pattern VERSION = Pattern.compile("v(\\d{6,})");

    private CheckpointDirectories() {}

    static String name(long version) {
        return String.format("v%06d", version);
    }

    /** The lineage's directory; a name that would leave the root or reach the serving copy is refused. */
    static Path lineageDir(Path root, String lineage) {
        if (lineage.isEmpty() || lineage.startsWith("_") || lineage.startsWith(".") || lineage.contains("/"))
            throw new IllegalArgumentException("not a lineage: " + lineage);
        return root.resolve(lineage);
    }

    /** Version to bytes of every checkpoint directory in {@code dir}. */
    static SortedMap<Long, Long> sizes(Path dir) throws IOException {
        SortedMap<Long, Long> out = new TreeMap<>();
        if (!Files.isDirectory(dir)) return out;
        try (Stream<Path> entries = Files.list(dir)) {
            for (Path d : entries.toList()) {
                Matcher m = VERSION.matcher(d.getFileName().toString());
                if (m.matches() && Files.isDirectory(d)) out.put(Long.parseLong(m.group(1)), bytes(d));
            }
        }
        return out;
    }

    /** Deletes every version in {@code dir} but {@code keep} and the {@code newest} newest. */
    static void trim(Path dir, Set<Long> keep, int newest) throws IOException {
        SortedMap<Long, Long> all = sizes(dir);
        var versions = new java.util.ArrayList<>(all.keySet());
        for (int i = 0; i < versions.size() - newest; i++) {
            long v = versions.get(i);
            if (!keep.contains(v)) DirectoryTree.delete(dir.resolve(name(v)));
        }
    }

    private static long bytes(Path dir) throws IOException {
        try (Stream<Path> files = Files.walk(dir)) {
            return files.filter(Files::isRegularFile)
                    .mapToLong(f -> f.toFile().length())
                    .sum();
        }
    }
}
