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

    /**
     * The store's folder (or key prefix) of served models: no lineage is named so (lineage names start with a letter
     * or digit), so nothing that lists a lineage's checkpoints meets it.
     */
    String SERVING = "_serving";

    /** What a lineage's fixed serving location holds: the checkpoint's version and its manifest's sha256. */
    record Served(long version, String checkpointSha256) {}

    /** Keeps a checkpoint just written under the local directory; returns the location to publish. */
    String keep(Checkpoint written) throws IOException;

    /** The checkpoint at a location this store gave out, every file verified against the manifest. */
    Checkpoint open(String location) throws CheckpointException;

    /**
     * A directory the store holds (a model a lineage starts from), as a local directory: the directory itself in a
     * directory store; in S3, the objects under the location fetched once into the local cache.
     */
    Path localDirectory(String location) throws IOException;

    /** Whether the location lies inside this store (a directory under its root, an object under its bucket prefix). */
    boolean holds(String location);

    /**
     * Removes what the store holds of the lineage's checkpoints newer than {@code version} (kept, then never
     * committed); returns their names. A directory store holds only the trainer's own directory, which the
     * trainer cleans itself.
     */
    List<String> removeAfter(String lineage, long version) throws IOException;

    /**
     * Makes {@code champion} the model served for its lineage: a plain Hugging Face directory (as {@link
     * Checkpoint#writeHuggingFace} writes it) at {@link #servingLocation}, switched in one atomic step, so a reader
     * sees the previous champion or this one, each complete. The previous one stays until the next switch, for readers
     * that are still loading it; older ones are removed. A failure leaves what was served.
     */
    Served serve(Checkpoint champion) throws IOException;

    /** What the lineage's serving location holds now, or null if nothing. */
    Served served(String lineage) throws IOException;

    /**
     * Where a serving system finds the lineage's champion: a directory (a link switched on every promotion) or, in a
     * bucket, a pointer object naming the champion's prefix and files.
     */
    String servingLocation(String lineage);

    /** Refuses a lineage name that could lead out of the serving folder. */
    static String requireLineage(String lineage) {
        if (!lineage.matches("[a-z0-9][a-z0-9._-]{0,63}"))
            throw new IllegalArgumentException("bad lineage name: " + lineage);
        return lineage;
    }

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
