package ipt.evaluator;

import ipt.checkpoints.Checkpoint;
import ipt.checkpoints.CheckpointException;
import ipt.checkpoints.CheckpointStore;

/**
 * A published checkpoint, opened only if it is inside the checkpoint store (a link that leads out counts as
 * outside), intact (the sha256 of the manifest and of every file it lists, fetched first from a remote store) and
 * the one that was published (the manifest's sha256): else why not.
 */
record CheckpointAccess(Checkpoint checkpoint, String refusal) {

    static CheckpointAccess open(CheckpointStore store, String location, String sha256) {
        if (!store.holds(location))
            return refused("location " + location + " is outside the checkpoint store " + store);
        try {
            Checkpoint checkpoint = store.open(location);
            if (!checkpoint.sha256().equals(sha256)) {
                return refused("manifest sha256 " + checkpoint.sha256() + " differs from the published " + sha256);
            }
            return new CheckpointAccess(checkpoint, null);
        } catch (CheckpointException e) {
            return refused(e.getMessage());
        }
    }

    private static CheckpointAccess refused(String why) {
        return new CheckpointAccess(null, why);
    }
}
