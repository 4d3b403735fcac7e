package ipt.checkpoints;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;

/**
 * Where a deployment keeps its checkpoints: a directory (local, or a volume every service mounts) or a bucket of
 * S3 or any S3-compatible store. A trainer writes each checkpoint to its local directory first, then keeps it in
 * the store and publishes the location the store gives; readers open a location through the store, which
 * fetches it if it is remote and verifies every file's sha256 either way.
 */
public interface CheckpointStore {

    /** Keeps a checkpoint just written under the local directory; returns the location to publish. */
    String keep(Checkpoint written) throws IOException;

    /** The checkpoint at a location this store gave out, every file verified against the manifest. */
    Checkpoint open(String location) throws CheckpointException;

    /** Whether the location lies inside this store (a directory under its root, an object under its bucket prefix). */
    boolean holds(String location);

    /**
     * Removes what the store holds of the lineage's checkpoints newer than {@code version} (kept, then never
     * committed); returns their names. A directory store holds only the trainer's own directory, which the
     * trainer cleans itself.
     */
    List<String> removeAfter(String lineage, long version) throws IOException;

    /**
     * The lineage's checkpoints the store holds (complete or not), version to bytes. Only {@code <lineage>/vNNNNNN}
     * counts: the serving copy under {@code _serving/} and temporary directories are never listed.
     */
    SortedMap<Long, Long> held(String lineage) throws IOException;

    /** Deletes a version of the lineage from the store, and its copy in the cache of fetched checkpoints. */
    void remove(String lineage, long version) throws IOException;

    /**
     * Drops from the local cache of fetched checkpoints every version of the lineage except {@code keep} and the
     * {@code newest} newest. A directory store fetches nothing: nothing to drop.
     */
    void trimCache(String lineage, Set<Long> keep, int newest) throws IOException;

    /**
     * {@code s3://bucket/prefix}: S3, or an S3-compatible store at {@code IPT_S3_ENDPOINT} or the URI's
     * {@code ?endpoint=http://host:port} (path-style requests),
     * region {@code AWS_REGION} (default us-east-1), credentials as the AWS SDK finds them (AWS_ACCESS_KEY_ID and
     * AWS_SECRET_ACCESS_KEY, a profile, a pod role); fetched checkpoints are cached under {@code cache}.
     * Anything else is a directory.
     */
    static CheckpointStore of(String location, Path cache, Map<String, String> env) {
        if (location.startsWith("s3://")) return S3Store.of(URI.create(location), cache, env);
        return new DirectoryStore(Path.of(location));
    }
}
