package ipt.standalone;

import ipt.checkpoints.Checkpoint;
import ipt.checkpoints.CheckpointException;
import ipt.evaluator.EvaluatorConfig;
import ipt.evaluator.PublishedCheckpoints;
import ipt.runtime.KafkaSettings;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * Which checkpoint a command reads (the picocli mixin of {@code ipt generate} and {@code ipt export}): a lineage's
 * champion, one of its versions, or a checkpoint directory. A lineage's checkpoints are found as {@code ipt models}
 * and {@code ipt promote} find them (ipt.promotions and ipt.checkpoints), opened from the checkpoint store and
 * verified.
 */
final class CheckpointChoice {
    @Option(names = "--lineage", paramLabel = "LINEAGE", description = "the lineage whose champion is read")
    String lineage;

    /** No standard --version here: the command's own --version names the checkpoint. */
    @Option(names = "--version", paramLabel = "V", description = "a version of the lineage instead of its champion")
    Long version;

    @Parameters(
            arity = "0..1",
            paramLabel = "CHECKPOINT_DIR",
            description = "a checkpoint directory instead of a lineage (verified as the evaluator verifies it)")
    Path directory;

    /** Whether the champion is meant (a lineage without a version). */
    boolean champion() {
        return lineage != null && version == null;
    }

    /** The checkpoint chosen, opened and verified; an IllegalArgumentException says why it cannot be had. */
    Checkpoint open(Map<String, String> env) throws IOException {
        if ((lineage == null) == (directory == null))
            throw new IllegalArgumentException("name a lineage (--lineage) or a checkpoint directory, not both");
        if (version != null && lineage == null)
            throw new IllegalArgumentException("--version needs the lineage (--lineage)");
        if (directory != null) {
            try {
                return Checkpoint.open(directory);
            } catch (CheckpointException e) {
                throw new IllegalArgumentException(directory + " is not a checkpoint to use: " + e.getMessage(), e);
            }
        }
        Map<String, Object> kafka = KafkaSettings.fromEnv(env);
        var store = EvaluatorConfig.fromEnv(env).store(env);
        return version == null
                ? PublishedCheckpoints.champion(kafka, store, lineage)
                : PublishedCheckpoints.version(kafka, store, lineage, version);
    }
}
