package ipt.evaluator;

import ipt.model.Checkpoint;
import ipt.model.CheckpointException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A published checkpoint, opened only if it is inside the checkpoint store, intact (the sha256 of the manifest
 * and of every file it lists) and the one that was published (the manifest's sha256): else why not.
 */
record CheckpointAccess(Checkpoint checkpoint, String refusal) {

  static CheckpointAccess open(Path root, String location, String sha256) {
    return open(root, Path.of(location).toAbsolutePath().normalize(), sha256);
  }

  private static CheckpointAccess open(Path root, Path location, String sha256) {
    Path store = root.toAbsolutePath().normalize();
    if (!location.startsWith(store)) return refused("location " + location + " is outside the checkpoint store " + store);
    try {
      // A link inside the store must not lead out of it.
      if (Files.exists(location) && Files.exists(store) && !location.toRealPath().startsWith(store.toRealPath())) {
        return refused("location " + location + " leads outside the checkpoint store " + store);
      }
      Checkpoint checkpoint = Checkpoint.open(location);
      if (!checkpoint.sha256().equals(sha256)) {
        return refused("manifest sha256 " + checkpoint.sha256() + " differs from the published " + sha256);
      }
      return new CheckpointAccess(checkpoint, null);
    } catch (CheckpointException e) {
      return refused(e.getMessage());
    } catch (IOException e) {
      return refused("cannot read " + location + ": " + e.getMessage());
    }
  }

  private static CheckpointAccess refused(String why) {
    return new CheckpointAccess(null, why);
  }
}
