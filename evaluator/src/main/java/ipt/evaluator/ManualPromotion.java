package ipt.evaluator;

import ipt.checkpoints.CheckpointStore;
import ipt.schemas.CheckpointPublished;
import ipt.schemas.Decision;
import ipt.schemas.EvaluationReport;
import ipt.schemas.Promotion;
import ipt.schemas.TaskResult;
import ipt.schemas.Topics;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * {@code ipt promote}: makes an earlier checkpoint of a lineage its champion again (a rollback), by hand. The
 * checkpoint must be one the lineage published, inside the checkpoint store, and intact (sha256 of every file).
 * The new champion pointer and an audit record (decision PROMOTE, rule manual, the reason and who asked) go out
 * in one Kafka transaction, so the history never shows one without the other. A version retention deleted is
 * refused with that reason; one it has not deleted yet is held until the promotion committed (see
 * {@link RetentionMarks}).
 */
public final class ManualPromotion {

    private ManualPromotion() {}

    /** Promotes {@code lineage} v{@code version}; an {@link IllegalArgumentException} says why it may not be. */
    public static Promotion promote(
            Map<String, Object> kafka,
            CheckpointStore store,
            String lineage,
            long version,
            String reason,
            String requestedBy) {
        if (reason == null || reason.isBlank())
            throw new IllegalArgumentException("a manual promotion needs a reason (--reason)");
        CheckpointPublished published = PublishedCheckpoints.published(kafka, lineage, version);
        // Held while it runs, so retention cannot delete it between the check and the new pointer.
        RetentionMarks.hold(kafka, lineage, version, RetentionMarks.PROMOTE, requestedBy, reason);
        try {
            return promote(kafka, store, published, reason, requestedBy);
        } finally {
            RetentionMarks.release(kafka, lineage, version, RetentionMarks.PROMOTE, requestedBy);
        }
    }

    private static Promotion promote(
            Map<String, Object> kafka,
            CheckpointStore store,
            CheckpointPublished published,
            String reason,
            String requestedBy) {
        String lineage = published.getLineage();
        long version = published.getVersion();
        String refused = CheckpointAccess.open(store, published.getLocation(), published.getSha256())
                .refusal();
        if (refused != null)
            throw new IllegalArgumentException(lineage + " v" + version + " cannot be promoted: " + refused);
        Long previous;
        List<TaskResult> tasks;
        long snapshot;
        try (ModelRegistry registry = ModelRegistry.read(kafka)) {
            previous = registry.champion(lineage).map(Promotion::getVersion).orElse(null);
            if (previous != null && previous == version)
                throw new IllegalArgumentException(lineage + " v" + version + " is the champion already");
            List<EvaluationReport> reports = registry.reports(lineage, version);
            EvaluationReport gate = reports.stream()
                    .filter(r -> !"manual".equals(r.getDecidingRule()))
                    .reduce((a, b) -> b)
                    .orElse(null);
            tasks = gate == null ? List.of() : gate.getTasks();
            snapshot = gate == null ? 0 : gate.getSnapshotVersion();
        }
        Instant now = Instant.now();
        Promotion promotion = Promotion.newBuilder()
                .setLineage(lineage)
                .setVersion(version)
                .setPreviousVersion(previous)
                .setLocation(published.getLocation())
                .setSha256(published.getSha256())
                .setDecidingRule("manual")
                .setPromotedAt(now)
                .build();
        EvaluationReport audit = EvaluationReport.newBuilder()
                .setLineage(lineage)
                .setCandidateVersion(version)
                .setChampionVersion(previous)
                .setCandidateStep(published.getStep())
                .setTasks(tasks)
                .setDecision(Decision.PROMOTE)
                .setDecidingRule("manual")
                .setReason(reason)
                .setEvaluatedAt(now)
                .setSnapshotVersion(snapshot)
                .setRules(List.of())
                .setForgetting(List.of())
                .setRequestedBy(requestedBy)
                .build();
        Map<String, Object> props = new HashMap<>(kafka);
        props.put("transactional.id", "ipt-promote-" + lineage);
        props.put("acks", "all");
        try (KafkaProducer<String, byte[]> producer =
                new KafkaProducer<>(props, new StringSerializer(), new ByteArraySerializer())) {
            producer.initTransactions();
            producer.beginTransaction();
            producer.send(Topics.PROMOTIONS.record(lineage, promotion));
            producer.send(Topics.EVALUATIONS.record(lineage, audit));
            producer.commitTransaction();
        }
        return promotion;
    }
}
