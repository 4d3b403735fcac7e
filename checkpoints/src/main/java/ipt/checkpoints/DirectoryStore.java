package ipt.checkpoints;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

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
    public String toString() {
        return root.toString();
    }
}
