package ipt.checkpoints;

import ipt.runtime.DirectoryTree;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Set;
import java.util.SortedMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Checkpoints in a directory tree (a local disk or a shared volume): the location is the checkpoint's directory. A
 * lineage's champion is served at {@code <root>/_serving/<lineage>}, a symbolic link to a copy
 * {@code _serving/.<lineage>/v<version>-<manifest sha256>-<nonce>}; a new copy is written whole, then a new link
 * renamed over the old one, which POSIX makes atomic.
 */
final class DirectoryStore implements CheckpointStore {
    private static final Pattern COPY = Pattern.compile("v(\\d{6,})-([0-9a-f]{64})-\\d+");

    private final Path root;

    DirectoryStore(Path root) {
        this.root = root.toAbsolutePath().normalize();
    }

    @Override
    public String keep(Checkpoint written) throws IOException {
        String location = written.dir().toAbsolutePath().normalize().toString();
        if (!holds(location)) throw new IOException(location + " is not under the checkpoint store " + root);
        return location;
    }

    @Override
    public Checkpoint open(String location) throws CheckpointException {
        if (!holds(location)) throw new CheckpointException(location, "outside the checkpoint store " + root);
        return Checkpoint.open(Path.of(location));
    }

    @Override
    public Path localDirectory(String location) throws IOException {
        if (!holds(location)) throw new IOException(location + " is outside the checkpoint store " + root);
        return Path.of(location);
    }

    /** Inside the root, also after following links: a link in the store that leads out of it does not count. */
    @Override
    public boolean holds(String location) {
        Path path = Path.of(location).toAbsolutePath().normalize();
        if (!path.startsWith(root)) return false;
        try {
            return !Files.exists(path)
                    || !Files.exists(root)
                    || path.toRealPath().startsWith(root.toRealPath());
        } catch (IOException e) {
            return false;
        }
    }

    @Override
    public List<String> removeAfter(String lineage, long version) {
        return List.of();
    }

    @Override
    public Served serve(Checkpoint champion) throws IOException {
        String lineage = CheckpointStore.requireLineage(champion.manifest().lineage());
        Path serving = root.resolve(SERVING);
        Path copies = Files.createDirectories(serving.resolve("." + lineage));
        Path link = serving.resolve(lineage);
        Path previous = Files.isSymbolicLink(link)
                ? serving.resolve(Files.readSymbolicLink(link)).normalize()
                : null;
        Served next = new Served(champion.manifest().version(), champion.sha256());
        Path copy =
                Files.createTempDirectory(copies, String.format("v%06d-%s-", next.version(), next.checkpointSha256()));
        try {
            champion.writeHuggingFace(copy);
            Path newLink = copies.resolve(".link-" + copy.getFileName());
            Files.createSymbolicLink(newLink, serving.relativize(copy)); // relative: the store may be mounted anywhere
            Files.move(newLink, link, StandardCopyOption.ATOMIC_MOVE); // rename(2) over the old link
        } catch (IOException | RuntimeException e) {
            try {
                DirectoryTree.delete(copy);
            } catch (IOException cleanup) {
                e.addSuppressed(cleanup);
            }
            throw e;
        }
        fsync(serving);
        try (Stream<Path> entries = Files.list(copies)) { // older copies, copies and links a crash left
            for (Path old : entries.toList()) {
                if (old.equals(copy) || old.equals(previous)) continue;
                if (Files.isSymbolicLink(old)) Files.delete(old);
                else DirectoryTree.delete(old);
            }
        }
        return next;
    }

    @Override
    public Served served(String lineage) throws IOException {
        Path link = root.resolve(SERVING).resolve(CheckpointStore.requireLineage(lineage));
        if (!Files.isSymbolicLink(link)) return null;
        Matcher m = COPY.matcher(Files.readSymbolicLink(link).getFileName().toString());
        return m.matches() ? new Served(Long.parseLong(m.group(1)), m.group(2)) : null;
    }

    @Override
    public String servingLocation(String lineage) {
        return root.resolve(SERVING)
                .resolve(CheckpointStore.requireLineage(lineage))
                .toString();
    }

    private static void fsync(Path directory) throws IOException {
        try (FileChannel channel = FileChannel.open(directory, StandardOpenOption.READ)) {
            channel.force(true);
        }
    }

    @Override
    public SortedMap<Long, Long> held(String lineage) throws IOException {
        return CheckpointDirectories.sizes(lineageDir(lineage));
    }

    @Override
    public void remove(String lineage, long version) throws IOException {
        DirectoryTree.delete(lineageDir(lineage).resolve(CheckpointDirectories.name(version)));
    }

    @Override
    public void trimCache(String lineage, Set<Long> keep, int newest) {}

    private Path lineageDir(String lineage) {
        return CheckpointDirectories.lineageDir(root, lineage);
    }

    @Override
    public String toString() {
        return root.toString();
    }
}
