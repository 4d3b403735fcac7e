package ipt.runtime;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.errors.TopicExistsException;

/** The topics ipt talks through, with the partitions and configs each one is created with. */
public final class Topics {
  public static final String RAW = "ipt.documents.raw";
  public static final String CURATED = "ipt.documents.curated";
  public static final String HELDOUT = "ipt.documents.heldout";
  public static final String REJECTED = "ipt.documents.rejected";
  public static final String CHECKPOINTS = "ipt.checkpoints";
  public static final String EVALUATIONS = "ipt.evaluations";
  public static final String PROMOTIONS = "ipt.promotions";

  private static final String FOREVER = "-1";
  private static final String WEEK = String.valueOf(7L * 24 * 3600 * 1000);
  /** Largest record on the document topics: a document at the longest text curation accepts, with room to spare. */
  public static final int MAX_DOCUMENT_RECORD_BYTES = 16 << 20;
  private static final String DOCUMENT_BYTES = String.valueOf(MAX_DOCUMENT_RECORD_BYTES);

  private Topics() {}

  public record Spec(String name, int partitions, Map<String, String> configs) {}

  /**
   * Curated, held-out, checkpoint and evaluation history is kept forever: it is the record of what
   * every model was trained and judged on. The champion pointer is compacted, keyed by lineage.
   */
  public static List<Spec> specs(int documentPartitions) {
    return List.of(
        new Spec(RAW, documentPartitions, Map.of("retention.ms", WEEK, "compression.type", "lz4", "max.message.bytes", DOCUMENT_BYTES)),
        new Spec(CURATED, documentPartitions, Map.of("retention.ms", FOREVER, "compression.type", "lz4", "max.message.bytes", DOCUMENT_BYTES)),
        new Spec(HELDOUT, 1, Map.of("retention.ms", FOREVER, "compression.type", "lz4", "max.message.bytes", DOCUMENT_BYTES)),
        // A rejection carries the original bytes plus why: room for a raw record at the size limit.
        new Spec(REJECTED, 1, Map.of("retention.ms", String.valueOf(30L * 24 * 3600 * 1000), "max.message.bytes", DOCUMENT_BYTES)),
        new Spec(CHECKPOINTS, 1, Map.of("retention.ms", FOREVER)),
        new Spec(EVALUATIONS, 1, Map.of("retention.ms", FOREVER)),
        new Spec(PROMOTIONS, 1, Map.of("cleanup.policy", "compact", "min.compaction.lag.ms", "0")));
  }

  /** Creates the topics that do not exist yet; existing ones are left as they are. */
  public static void ensure(Admin admin, List<Spec> specs, short replicationFactor)
      throws InterruptedException, ExecutionException {
    Set<String> existing = admin.listTopics().names().get();
    List<NewTopic> missing =
        specs.stream()
            .filter(s -> !existing.contains(s.name()))
            .map(s -> new NewTopic(s.name(), Optional.of(s.partitions()), Optional.of(replicationFactor)).configs(s.configs()))
            .collect(Collectors.toList());
    if (missing.isEmpty()) return;
    try {
      admin.createTopics(missing).all().get();
    } catch (ExecutionException e) {
      if (!(e.getCause() instanceof TopicExistsException)) throw e;
    }
  }
}
