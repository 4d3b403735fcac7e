package ipt.evaluator;

import ipt.checkpoints.Checkpoint;
import ipt.checkpoints.CheckpointStore;
import ipt.runtime.TopicReader;
import ipt.schemas.CheckpointPublished;
import ipt.schemas.Promotion;
import ipt.schemas.Topics;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import org.apache.kafka.common.errors.SerializationException;

/**
 * A lineage's checkpoints as committed on Kafka: its champion (ipt.promotions) or any version it published
 * (ipt.checkpoints), opened from the checkpoint store only if the evaluator would open it (inside the store,
 * intact, the manifest that was published). What {@code ipt promote} and {@code ipt generate} read; an
 * {@link IllegalArgumentException} says why a lineage or version cannot be had.
 */
public final class PublishedCheckpoints {

    private PublishedCheckpoints() {}

    /** The lineage's champion, opened and verified. */
    public static Checkpoint champion(Map<String, Object> kafka, CheckpointStore store, String lineage) {
        Promotion champion;
        try (ModelRegistry registry = ModelRegistry.read(kafka)) {
            champion = registry.champion(lineage).orElse(null);
            if (champion == null) {
                Map<String, TreeMap<Long, CheckpointPublished>> published = byLineage(kafka);
                TreeMap<Long, CheckpointPublished> versions = published.get(lineage);
                if (versions == null) throw unknown(lineage, published, registry);
                throw new IllegalArgumentException("lineage " + lineage + " has no champion yet; it published "
                        + range(versions) + " (choose one with --version)");
            }
        }
        return open(store, lineage, champion.getVersion(), champion.getLocation(), champion.getSha256());
    }

    /** Version {@code version} of the lineage, opened and verified. */
    public static Checkpoint version(Map<String, Object> kafka, CheckpointStore store, String lineage, long version) {
        CheckpointPublished published = published(kafka, lineage, version);
        return open(store, lineage, version, published.getLocation(), published.getSha256());
    }

    /** The event that published version {@code version} of the lineage. */
    public static CheckpointPublished published(Map<String, Object> kafka, String lineage, long version) {
        Map<String, TreeMap<Long, CheckpointPublished>> published = byLineage(kafka);
        TreeMap<Long, CheckpointPublished> versions = published.get(lineage);
        if (versions == null)
            throw new IllegalArgumentException("lineage " + lineage + " published no checkpoint"
                    + (published.isEmpty() ? "; no lineage did" : " (lineages that did: " + published.keySet() + ")"));
        if (!versions.containsKey(version))
            throw new IllegalArgumentException("lineage " + lineage + " published no checkpoint v" + version
                    + "; it published " + range(versions));
        return versions.get(version);
    }

    private static Checkpoint open(
            CheckpointStore store, String lineage, long version, String location, String sha256) {
        CheckpointAccess access = CheckpointAccess.open(store, location, sha256);
        if (access.refusal() != null)
            throw new IllegalArgumentException(lineage + " v" + version + " cannot be opened: " + access.refusal());
        return access.checkpoint();
    }

    /** Every lineage's published checkpoints by version: the last event for a version counts. */
    private static Map<String, TreeMap<Long, CheckpointPublished>> byLineage(Map<String, Object> kafka) {
        Map<String, TreeMap<Long, CheckpointPublished>> out = new TreeMap<>();
        for (var r : TopicReader.readAll(kafka, Topics.CHECKPOINTS.name())) {
            try {
                CheckpointPublished c = Topics.CHECKPOINTS.value(r);
                out.computeIfAbsent(c.getLineage(), k -> new TreeMap<>()).put(c.getVersion(), c);
            } catch (SerializationException e) {
                // not a checkpoint this version of ipt can read: none that can be asked for
            }
        }
        return out;
    }

    private static IllegalArgumentException unknown(
            String lineage, Map<String, TreeMap<Long, CheckpointPublished>> published, ModelRegistry registry) {
        TreeSet<String> known = new TreeSet<>(published.keySet());
        known.addAll(registry.lineages());
        return new IllegalArgumentException("unknown lineage " + lineage
                + (known.isEmpty() ? "; there is none yet" : " (lineages: " + known + ")"));
    }

    /** "v1 to v42", or "v7" for one. */
    private static String range(TreeMap<Long, CheckpointPublished> versions) {
        return versions.size() == 1
                ? "v" + versions.firstKey()
                : versions.size() + " checkpoints, v" + versions.firstKey() + " to v" + versions.lastKey();
    }
}
