package ipt.trainer;

import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.Gauge;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.util.List;

/** What a trainer exports to Prometheus, labelled by lineage. */
final class TrainerMetrics {
    private final Counter documents;
    private final Counter tokens;
    private final Counter steps;
    private final Counter rounds;
    private final Counter orphans;
    private final Counter guardEvents;
    private final Counter replayRebuilds;
    private final Gauge replayRebuildSeconds;
    private final Gauge loss;
    private final Gauge learningRate;
    private final Gauge replaySequences;
    private final Gauge pendingTokens;
    private final Gauge checkpointVersion;
    private final Histogram stepSeconds;
    private final Histogram roundSeconds;
    private final Histogram checkpointSeconds;
    private final Gauge checkpointBytes;
    private final Gauge consumerLag;
    private final Counter tokensTrained;
    private final Gauge tokensPerSecond;
    private final Gauge roundLoss;
    private final Gauge replayEntries;
    private final Gauge replayBytes;
    private final Counter resets;
    private final Gauge replayFraction;

    TrainerMetrics(PrometheusRegistry registry) {
        checkpointSeconds = Histogram.builder()
                .name("ipt_trainer_checkpoint_write_seconds")
                .help("Writing a checkpoint: files, fsync, rename")
                .labelNames("lineage")
                .classicOnly()
                .classicUpperBounds(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
                .register(registry);
        checkpointBytes = Gauge.builder()
                .name("ipt_trainer_checkpoint_bytes")
                .help("Size of the last checkpoint written")
                .labelNames("lineage")
                .register(registry);
        consumerLag = Gauge.builder()
                .name("ipt_trainer_consumer_lag_records")
                .help("Curated records not yet read by this trainer (read_committed), summed over its partitions")
                .labelNames("lineage")
                .register(registry);
        tokensTrained = Counter.builder()
                .name("ipt_trainer_tokens_trained_total")
                .help("Tokens through optimizer steps, new and replayed (rate() is the trainer's tokens/s)")
                .labelNames("lineage")
                .register(registry);
        tokensPerSecond = Gauge.builder()
                .name("ipt_trainer_tokens_per_second")
                .help("Tokens per second of the last optimizer step")
                .labelNames("lineage")
                .register(registry);
        roundLoss = Gauge.builder()
                .name("ipt_trainer_round_loss")
                .help("Mean training loss of the last round, nats/token, by source (new or replay) and domain")
                .labelNames("lineage", "source", "domain")
                .register(registry);
        replayEntries = Gauge.builder()
                .name("ipt_trainer_replay_entries")
                .help("Sequences in the replay store by domain")
                .labelNames("lineage", "domain")
                .register(registry);
        replayBytes = Gauge.builder()
                .name("ipt_trainer_replay_bytes")
                .help("Bytes of sequences in the replay store by domain")
                .labelNames("lineage", "domain")
                .register(registry);
        resets = Counter.builder()
                .name("ipt_trainer_champion_resets_total")
                .help("Resets of the working weights to the champion after repeated rejections")
                .labelNames("lineage")
                .register(registry);
        replayFraction = Gauge.builder()
                .name("ipt_trainer_replay_fraction")
                .help("Share of each batch replayed: configured (IPT_REPLAY_FRACTION) and effective (raised by resets)")
                .labelNames("lineage", "kind")
                .register(registry);
        documents = Counter.builder()
                .name("ipt_trainer_documents_consumed_total")
                .help("Curated documents consumed as new data")
                .labelNames("lineage", "domain")
                .register(registry);
        tokens = Counter.builder()
                .name("ipt_trainer_new_tokens_trained_total")
                .help("New tokens trained on")
                .labelNames("lineage")
                .register(registry);
        steps = Counter.builder()
                .name("ipt_trainer_steps_total")
                .help("Optimizer steps")
                .labelNames("lineage")
                .register(registry);
        rounds = Counter.builder()
                .name("ipt_trainer_rounds_total")
                .help("Training rounds by outcome (committed, failed; divergences are in "
                        + "ipt_trainer_guard_events_total)")
                .labelNames("lineage", "outcome")
                .register(registry);
        orphans = Counter.builder()
                .name("ipt_trainer_orphan_checkpoints_removed_total")
                .help("Checkpoint directories of uncommitted rounds removed at recovery")
                .labelNames("lineage")
                .register(registry);
        replayRebuilds = Counter.builder()
                .name("ipt_trainer_replay_rebuilds_total")
                .help("Replay stores found missing or damaged at recovery and rebuilt from ipt.documents.curated, by "
                        + "outcome: exact (as the lost one), inexact (a round's order unknown or the packer tail "
                        + "differs), empty (the topic lacks a round's records)")
                .labelNames("lineage", "outcome")
                .register(registry);
        replayRebuildSeconds = Gauge.builder()
                .name("ipt_trainer_replay_rebuild_seconds")
                .help("Duration of the last replay store rebuild: reading the curated topic, packing, storing")
                .labelNames("lineage")
                .register(registry);
        guardEvents = Counter.builder()
                .name("ipt_trainer_guard_events_total")
                .help("Divergence guard firings: kind non-finite or spike, action down-weight or skip of "
                        + "the offending batch")
                .labelNames("lineage", "kind", "action")
                .register(registry);
        loss = Gauge.builder()
                .name("ipt_trainer_train_loss")
                .help("Training loss of the last step, nats/token")
                .labelNames("lineage")
                .register(registry);
        learningRate = Gauge.builder()
                .name("ipt_trainer_learning_rate")
                .help("Learning rate of the last step")
                .labelNames("lineage")
                .register(registry);
        replaySequences = Gauge.builder()
                .name("ipt_trainer_replay_sequences")
                .help("Sequences in the replay store")
                .labelNames("lineage")
                .register(registry);
        pendingTokens = Gauge.builder()
                .name("ipt_trainer_pending_tokens")
                .help("Consumed tokens waiting for the next round")
                .labelNames("lineage")
                .register(registry);
        checkpointVersion = Gauge.builder()
                .name("ipt_trainer_checkpoint_version")
                .help("Version of the last committed checkpoint")
                .labelNames("lineage")
                .register(registry);
        stepSeconds = Histogram.builder()
                .name("ipt_trainer_step_seconds")
                .help("Duration of one optimizer step")
                .labelNames("lineage")
                .classicOnly()
                .register(registry);
        roundSeconds = Histogram.builder()
                .name("ipt_trainer_round_seconds")
                .help("Duration of a round including checkpoint and commit")
                .labelNames("lineage")
                .classicOnly()
                .classicUpperBounds(1, 5, 15, 30, 60, 120, 300, 600, 1800)
                .register(registry);
    }

    /**
     * Puts every counter a lineage can raise at 0, so that dashboards and alerts see a series (and increase() a
     * first event) before anything happened.
     */
    void lineage(String lineage) {
        for (String outcome : List.of("committed", "failed")) rounds.labelValues(lineage, outcome);
        for (String kind : List.of("non-finite", "spike")) {
            for (String action : List.of("skip", "down-weight")) guardEvents.labelValues(lineage, kind, action);
        }
        resets.labelValues(lineage);
        orphans.labelValues(lineage);
        for (String outcome : List.of("exact", "inexact", "empty")) replayRebuilds.labelValues(lineage, outcome);
        replayRebuildSeconds.labelValues(lineage); // 0 until a rebuild: its panel shows the lineage from the start
        steps.labelValues(lineage);
        tokensTrained.labelValues(lineage);
    }

    void consumed(String lineage, String domain) {
        documents.labelValues(lineage, domain).inc();
    }

    void step(String lineage, float stepLoss, float lr, double seconds, long newTokens, long allTokens) {
        steps.labelValues(lineage).inc();
        tokens.labelValues(lineage).inc(newTokens);
        tokensTrained.labelValues(lineage).inc(allTokens);
        tokensPerSecond.labelValues(lineage).set(allTokens / seconds);
        loss.labelValues(lineage).set(stepLoss);
        learningRate.labelValues(lineage).set(lr);
        stepSeconds.labelValues(lineage).observe(seconds);
    }

    void round(String lineage, String outcome, double seconds) {
        rounds.labelValues(lineage, outcome).inc();
        roundSeconds.labelValues(lineage).observe(seconds);
    }

    void checkpointWritten(String lineage, double seconds, long bytes) {
        checkpointSeconds.labelValues(lineage).observe(seconds);
        checkpointBytes.labelValues(lineage).set(bytes);
    }

    void consumerLag(String lineage, long records) {
        consumerLag.labelValues(lineage).set(records);
    }

    void guard(String lineage, String kind, String action) {
        guardEvents.labelValues(lineage, kind, action).inc();
    }

    void roundLosses(String lineage, TrainingRound.RoundLosses losses) {
        losses.means()
                .forEach((key, mean) ->
                        roundLoss.labelValues(lineage, key.get(0), key.get(1)).set(mean));
    }

    void replay(String lineage, List<ReplayStore.Reservoir> reservoirs) {
        for (ReplayStore.Reservoir r : reservoirs) {
            replayEntries.labelValues(lineage, r.domain()).set(r.size());
            replayBytes.labelValues(lineage, r.domain()).set(r.bytes());
        }
    }

    void reset(String lineage) {
        resets.labelValues(lineage).inc();
    }

    void replayFraction(String lineage, double configured, double effective) {
        replayFraction.labelValues(lineage, "configured").set(configured);
        replayFraction.labelValues(lineage, "effective").set(effective);
    }

    void replayRebuilt(String lineage, String outcome, double seconds) {
        replayRebuilds.labelValues(lineage, outcome).inc();
        replayRebuildSeconds.labelValues(lineage).set(seconds);
    }

    void orphansRemoved(String lineage, int count) {
        orphans.labelValues(lineage).inc(count);
    }

    void state(String lineage, long replay, long pending, long version) {
        replaySequences.labelValues(lineage).set(replay);
        pendingTokens.labelValues(lineage).set(pending);
        checkpointVersion.labelValues(lineage).set(version);
    }
}
