package ipt.checkpoints;

import ipt.runtime.DirectoryTree;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.SortedMap;

/** Checkpoints in a directory tree (a local disk or a shared volume): the location is the checkpoint's directory. */
final class DirectoryStore implements CheckpointStore {
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
