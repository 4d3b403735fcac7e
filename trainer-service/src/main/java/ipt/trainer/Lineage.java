package ipt.trainer;

import io.prometheus.metrics.model.registry.PrometheusRegistry;
import ipt.checkpoints.Checkpoint;
import ipt.checkpoints.CheckpointException;
import ipt.checkpoints.CheckpointStore;
import ipt.model.GptConfig;
import ipt.model.LanguageModel;
import ipt.model.Training;
import ipt.schemas.EvaluationReport;
import ipt.trainer.TrainerConfig.Forgetting;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;
import org.rocksdb.RocksDBException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One lineage's training, without Kafka: the model in training, the packer that cuts documents into sequences,
 * the replay store and the lineage's own state (what the forgetting guards changed). It is recovered from the
 * lineage's last
 * committed checkpoint, absorbs documents, trains a round and writes the round's checkpoint; whoever drives it
 * (the {@link TrainerService}, the experiment) says when the round has committed. Fed the same documents with the
 * same config and decisions, it trains the same weights whoever drives it.
 */
public final class Lineage implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Lineage.class);
    static final String TAIL_FILE = "packer-tail.bin";
    static final String DOCUMENTS_FILE = "documents.txt";
    static final String STATE_FILE = "trainer-state.properties";
    /** Runs of one round under the divergence guard: each divergence down-weights, then skips, one batch. */
    private static final int MAX_ATTEMPTS = 5;
    /** Architectures whose width, depth and heads come with the model, not from the lineage's settings. */
    private static final Set<String> HUGGING_FACE =
            Set.of(LanguageModel.GPT2, LanguageModel.LLAMA, LanguageModel.QWEN2);

    /**
     * The evaluator's reports on this lineage's candidates, as rounds read them: the service follows
     * {@code ipt.evaluations} ({@link ChampionWatch}), the experiment judges offline. A round reads only settled
     * reports (see {@link TrainerConfig.Steering}), so what it does is fixed by the committed checkpoints.
     */
    public interface Reports {
        /** Never any report: the lineage trains without following a gate. */
        Reports NONE = new Reports() {
            @Override
            public Settled settle(long after, long through, Duration wait) {
                return new Settled(List.of(), false);
            }

            @Override
            public String location(long version, Duration wait) {
                return null;
            }
        };

        /**
         * The reports on versions in ({@code after}, {@code through}], oldest first, once the one on {@code through}
         * (or a later one) is in, or {@code wait} has passed without it.
         */
        Settled settle(long after, long through, Duration wait) throws InterruptedException;

        /** Where the checkpoint of the promoted {@code version} is kept, or null if not known within {@code wait}. */
        String location(long version, Duration wait) throws InterruptedException;
    }

    /** Reports read for a round; {@code timedOut}: the wait for the newest one ran out. */
    public record Settled(List<EvaluationReport> reports, boolean timedOut) {
        public Settled {
            reports = List.copyOf(reports);
        }
    }

    /**
     * The lineage's committed rounds read back from the log, to rebuild a lost replay store; the trainer reads them
     * from {@code ipt.documents.curated} ({@link CuratedHistory}).
     */
    public interface History {
        /** Hands {@code each} the committed rounds through version {@code through}, oldest first. */
        void rounds(long through, RoundVisitor each) throws Exception;
    }

    public interface RoundVisitor {
        void round(CommittedRound round) throws Exception;
    }

    /**
     * A committed round: its version, the lineage's new tokens through it (its manifest's tokensSeen) and its
     * documents in the order it added them.
     */
    public record CommittedRound(long version, long tokensSeen, List<HistoricDocument> documents) {}

    public record HistoricDocument(String id, String domain, String text) {}

    /** The log no longer holds what a committed round trained on: the lost replay store cannot be rebuilt. */
    public static final class IncompleteHistory extends Exception {
        public IncompleteHistory(String message) {
            super(message);
        }
    }

    /** A round trained and its checkpoint written and kept in the store, not yet committed. */
    public record Round(
            long version,
            Long parentVersion,
            Checkpoint checkpoint,
            String location,
            int steps,
            int documents,
            int sequences,
            double trainLoss) {}

    /** Called after every optimizer step with the model and its global step. */
    public interface StepObserver {
        void after(LanguageModel model, long step);
    }

    private final TrainerConfig config;
    private final CheckpointStore store;
    private final TrainerMetrics metrics;
    private ReplayStore replay;
    private Training training;
    private Packer packer;
    private LineageState state;
    /** The last committed checkpoint: version 0 and no location before the first. */
    private long version;

    private String location;
    private long tokensSeen;
    private double trainLoss;
    /** The champion the L2 pull is anchored to (-1: none yet). */
    private long anchoredTo = -1;

    private String anchorLocation;
    private final List<String> pendingIds = new ArrayList<>();
    private long documentsAdded;
    /** The user suites' text in the lineage's tokens, once a round has needed it (IPT_REPLAY_TARGET). */
    private List<int[]> targetTokens;

    private Lineage(TrainerConfig config, CheckpointStore store, TrainerMetrics metrics, ReplayStore replay) {
        this.config = config;
        this.store = store;
        this.metrics = metrics;
        this.replay = replay;
    }

    /**
     * The lineage as of its last committed checkpoint ({@code lastLocation} in {@code store}; null for a new
     * lineage): weights, optimizer state, packer tail and lineage state from the checkpoint, the replay store rolled
     * back to it, and checkpoint directories no commit points to removed. Only the lineage's one trainer may call
     * it, after fencing any older instance, so nothing it removes can still commit.
     */
    public static Lineage recover(TrainerConfig config, CheckpointStore store, String lastLocation) throws Exception {
        return recover(config, store, lastLocation, new TrainerMetrics(new PrometheusRegistry()), null);
    }

    /**
     * As above; a replay store found missing or damaged is rebuilt from {@code history} (null: it fails instead).
     */
    static Lineage recover(
            TrainerConfig config, CheckpointStore store, String lastLocation, TrainerMetrics metrics, History history)
            throws Exception {
        Checkpoint last = lastLocation == null ? null : store.open(lastLocation);
        long version = last == null ? 0 : last.manifest().version();
        ReplayStore replay;
        String lost = null;
        try {
            replay = ReplayStore.open(
                    config.replayDir(),
                    version,
                    config.replay().capacityBytes(),
                    config.train().seed());
        } catch (RocksDBException e) {
            if (history == null || last == null) throw e;
            lost = e.getMessage();
            replay = ReplayStore.empty(
                    config.replayDir(),
                    config.replay().capacityBytes(),
                    config.train().seed());
        }
        Lineage lineage = new Lineage(config, store, metrics, replay);
        try {
            List<String> orphans = new ArrayList<>(OrphanCheckpoints.remove(config.checkpointRoot(), version));
            orphans.addAll(store.removeAfter(config.lineage(), version));
            if (!orphans.isEmpty()) {
                log.warn(
                        "{}: removed checkpoint directories no committed round points to: {}",
                        config.lineage(),
                        orphans);
                metrics.orphansRemoved(config.lineage(), orphans.size());
            }
            if (last == null) {
                lineage.training = lineage.prepared(lineage.startingModel());
                lineage.packer = new Packer(
                        config.sequenceLength(),
                        lineage.training.model().tokenizer().eos());
                lineage.state = LineageState.initial(config.replay().fraction());
                log.info(
                        "{}: starting {}, {} {} parameters at step {}, tokenizer {}",
                        config.lineage(),
                        config.start().from() == null
                                ? "fresh"
                                : "from " + config.start().from(),
                        lineage.training.model().parameterCount(),
                        lineage.training.model().architecture(),
                        lineage.training.step(),
                        lineage.training.model().tokenizer());
            } else {
                lineage.resumeFrom(last, lastLocation);
                String mismatch = lineage.shapeMismatch(lineage.training.model());
                if (mismatch != null) {
                    throw new IllegalStateException(
                            "lineage " + config.lineage() + "'s checkpoint v" + version + " " + mismatch
                                    + "; a lineage's shape is fixed when it starts: start a new lineage to change it");
                }
                if (lost != null) lineage.rebuildReplay(history, lost, last.file(TAIL_FILE));
                LineageState saved = LineageState.parse(last.file(STATE_FILE));
                lineage.state = saved.rebased(
                        config.replay().fraction(), config.forgetting().maxReplay());
                if (saved != lineage.state) {
                    log.warn(
                            "{}: IPT_REPLAY_FRACTION changed from {} to {}; replay is {}% from this round "
                                    + "(resets add {}%)",
                            config.lineage(),
                            saved.configuredFraction(),
                            lineage.state.configuredFraction(),
                            Math.round(lineage.state.replayFraction() * 100),
                            Math.round((lineage.state.replayFraction() - lineage.state.configuredFraction()) * 100));
                }
                log.info(
                        "{}: resumed from checkpoint v{} at step {} (replay {}%)",
                        config.lineage(),
                        version,
                        lineage.training.step(),
                        Math.round(lineage.state.replayFraction() * 100));
            }
            metrics.replayFraction(
                    config.lineage(), lineage.state.configuredFraction(), lineage.state.replayFraction());
            return lineage;
        } catch (Exception | Error e) {
            lineage.close();
            throw e;
        }
    }

    /**
     * A new lineage that goes on from {@code parent}'s last committed checkpoint as if it were its own: the parent's
     * weights, optimizer state and packer tail, a copy of its replay store, and its lineage state (the gate's
     * evidence so far) with {@code config}'s replay fraction. Its first checkpoint is the parent's version + 1,
     * written under {@code config}'s checkpoint root; the parent's checkpoint must lie in {@code store}.
     */
    public static Lineage fork(Lineage parent, TrainerConfig config, CheckpointStore store) throws Exception {
        if (parent.location == null)
            throw new IllegalStateException(parent.config.lineage() + " has no checkpoint to fork");
        Path snapshot = ReplayStore.snapshotDir(parent.config.replayDir(), parent.version);
        copyTree(snapshot, ReplayStore.snapshotDir(config.replayDir(), parent.version));
        ReplayStore replay = ReplayStore.open(
                config.replayDir(),
                parent.version,
                config.replay().capacityBytes(),
                config.train().seed());
        Lineage fork = new Lineage(config, store, new TrainerMetrics(new PrometheusRegistry()), replay);
        try {
            fork.resumeFrom(store.open(parent.location), parent.location);
            fork.state = parent.state.with(config.replay().fraction(), parent.state.shares());
            return fork;
        } catch (Exception | Error e) {
            fork.close();
            throw e;
        }
    }

    /**
     * Fills the (empty) replay store as it was at the committed checkpoint: the committed rounds' documents go through
     * a packer from the start, and each round's new sequences (its share of tokensSeen) are offered to the store
     * under its version, as the rounds did. Exact when the history gives the rounds' documents in the order they were
     * added, which the packer's ending with the checkpoint's tail checks; a history that lacks a round leaves the
     * store empty, so the lineage trains on either way.
     */
    private void rebuildReplay(History history, String why, byte[] committedTail) throws Exception {
        log.warn(
                "{}: replay store of v{} is lost ({}); rebuilding it from the curated topic",
                config.lineage(),
                version,
                why);
        long started = System.nanoTime();
        Packer packer =
                new Packer(config.sequenceLength(), training.model().tokenizer().eos());
        long[] tokensBefore = {0};
        long[] through = {0};
        String outcome;
        try {
            history.rounds(version, round -> {
                for (HistoricDocument d : round.documents())
                    packer.add(d.domain(), training.model().tokenizer().encode(d.text()));
                int sequences = (int) ((round.tokensSeen() - tokensBefore[0]) / config.sequenceLength());
                List<Packer.Sequence> fresh = packer.take(sequences);
                if (fresh.size() != sequences) {
                    throw new IncompleteHistory("round v" + round.version() + " trained " + sequences
                            + " new sequences, its documents make " + fresh.size());
                }
                replay.add(round.version(), fresh);
                tokensBefore[0] = round.tokensSeen();
                through[0] = round.version();
            });
            if (through[0] != version)
                throw new IncompleteHistory("the history ends at v" + through[0] + ", not v" + version);
            outcome = Arrays.equals(packer.tailBytes(), committedTail) ? "exact" : "inexact";
        } catch (IncompleteHistory e) {
            log.error(
                    "{}: cannot rebuild the replay store ({}; is {} kept forever, retention.ms=-1?); "
                            + "replay starts empty from v{}",
                    config.lineage(),
                    e.getMessage(),
                    "ipt.documents.curated",
                    version);
            replay.close();
            replay = ReplayStore.empty(
                    config.replayDir(),
                    config.replay().capacityBytes(),
                    config.train().seed());
            outcome = "empty";
        }
        replay.snapshot(version);
        double seconds = (System.nanoTime() - started) / 1e9;
        metrics.replayRebuilt(config.lineage(), outcome, seconds);
        if (outcome.equals("inexact")) {
            log.error(
                    "{}: rebuilt replay store of v{} differs from the lost one: the packer's tail differs from the"
                            + " checkpoint's",
                    config.lineage(),
                    version);
        }
        log.info(
                "{}: replay store of v{} rebuilt ({}): {} sequences in {} s",
                config.lineage(),
                version,
                outcome,
                replay.size(),
                String.format("%.1f", seconds));
    }

    private void resumeFrom(Checkpoint checkpoint, String at) throws IOException {
        training = prepared(checkpoint.training(config.train()));
        packer = Packer.fromTail(
                config.sequenceLength(), training.model().tokenizer().eos(), checkpoint.file(TAIL_FILE));
        version = checkpoint.manifest().version();
        location = at;
        tokensSeen = checkpoint.manifest().tokensSeen();
        trainLoss = checkpoint.manifest().trainLoss();
    }

    /** Tokenizes a document into the packer; it trains in the next round that takes its sequences. */
    public void add(String id, String domain, String text) {
        packer.add(domain, training.model().tokenizer().encode(text));
        pendingIds.add(id);
        documentsAdded++;
    }

    /** Full sequences waiting in the packer. */
    public int fullSequences() {
        return packer.fullSequences();
    }

    /** New sequences a full round takes: its steps times the new rows of a batch (the rest is replay). */
    public int sequencesPerRound() {
        return config.rounds().stepsPerRound() * newPerBatch();
    }

    private int newPerBatch() {
        return config.newPerBatch(replay.size() > 0, state.replayFraction());
    }

    /**
     * Follows the decisions, trains {@code sequences} of the packed sequences under the divergence guard, offers
     * them to replay and writes and keeps the next checkpoint, with {@code offsets} (input position per
     * partition, for the record) in its manifest. Nothing is committed until {@link #committed}; if the round's
     * commit fails, the lineage must be closed and recovered.
     */
    public Round round(int sequences, Reports reports, Map<String, Long> offsets, StepObserver observer)
            throws Exception {
        return round(sequences, reports, offsets, observer, () -> false);
    }

    /**
     * The same, abandoned (InterruptedException, nothing kept) before any step once {@code stop} says so; a round
     * whose steps are done writes its checkpoint, so that its commit keeps the work.
     */
    public Round round(
            int sequences, Reports reports, Map<String, Long> offsets, StepObserver observer, BooleanSupplier stop)
            throws Exception {
        long next = version + 1;
        // The round was sized with the fraction the last one set; the reports through the last checkpoint then steer
        // it.
        int newPerBatch = newPerBatch();
        settle(reports);
        followChampion(reports);
        SortedMap<String, Double> shares = shares();
        state = state.with(state.replayFraction(), shares == null ? new TreeMap<>() : shares);
        List<Packer.Sequence> fresh = packer.take(sequences);
        TrainingRound.Step step = observer == null
                ? Training::train
                : (m, batch, lr, micro) -> {
                    Training.StepResult r = m.train(batch, lr, micro);
                    observer.after(m.model(), m.step());
                    return r;
                };
        TrainingRound.Draw draw = new TrainingRound.Draw(shares, taskAware(next));
        TrainingRound.Outcome outcome = TrainingRound.runGuarded(
                training,
                this::restoreLast,
                config,
                fresh,
                newPerBatch,
                replay,
                draw,
                step,
                metrics,
                MAX_ATTEMPTS,
                stop);
        training = outcome.model();
        outcome.guardEvents()
                .forEach(e -> log.warn(
                        "{}: round v{} diverged ({}); restored v{} and retried", config.lineage(), next, e, version));
        TrainingRound.Result result = outcome.result();
        double loss = result.steps() == 0 && location != null ? trainLoss : result.trainLoss();
        metrics.roundLosses(config.lineage(), result.losses());
        replay.add(next, fresh);
        replay.snapshot(next);
        // If anything from here on fails, the lineage is recovered: its replay entries and this directory go then.
        long writeStarted = System.nanoTime();
        Checkpoint checkpoint = writeCheckpoint(next, fresh.size(), loss, offsets);
        metrics.checkpointWritten(config.lineage(), (System.nanoTime() - writeStarted) / 1e9, sizeOf(checkpoint.dir()));
        return new Round(
                next,
                location == null ? null : version,
                checkpoint,
                store.keep(checkpoint),
                result.steps(),
                pendingIds.size(),
                fresh.size(),
                loss);
    }

    /** The round's checkpoint is committed: it is the one to resume from, and older replay snapshots go. */
    public void committed(Round round) {
        version = round.version();
        location = round.location();
        tokensSeen = round.checkpoint().manifest().tokensSeen();
        trainLoss = round.trainLoss();
        pendingIds.clear();
        replay.dropSnapshotsBefore(version);
        trimLocalCopies();
    }

    /**
     * With checkpoints in S3 the local copies are a cache: only the one to resume from and the L2 pull's anchor stay
     * (anything else is fetched again if ever needed), so the trainer's volume does not grow with every round.
     */
    private void trimLocalCopies() {
        Set<Long> keep = anchoredTo >= 0 && anchoredTo != version ? Set.of(version, anchoredTo) : Set.of(version);
        try {
            store.trimCache(config.lineage(), keep, 0);
        } catch (IOException e) {
            log.warn(
                    "{}: could not trim local checkpoint copies ({}); trying again after the next round",
                    config.lineage(),
                    e.toString());
        }
    }

    /**
     * Before a round: answers a run of settled rejections as the lineage's recovery says ({@link Recovery}), and
     * keeps the L2 pull anchored to the champion of the settled reports.
     */
    private void followChampion(Reports reports) throws IOException, CheckpointException, InterruptedException {
        Duration wait = config.steering().evaluationWait();
        Recovery recovery = Recovery.decide(config, state);
        if (recovery.action() == Recovery.Action.DECLINE) {
            log.info(
                    "{}: {} consecutive candidates rejected ({}), none worse than champion v{} overall: "
                            + "keeping the working weights",
                    config.lineage(),
                    recovery.rejected().size(),
                    recovery.rejected(),
                    recovery.champion());
            state = recovery.applied(state, config);
        } else if (recovery.action() != Recovery.Action.NONE) {
            // The promotion commits with its report, but may be read a moment after it.
            String at = reports.location(recovery.champion(), wait);
            if (at == null) {
                log.warn(
                        "{}: promotion of champion v{} not read within {}; not recovering this round",
                        config.lineage(),
                        recovery.champion(),
                        wait);
            } else {
                LineageState next = recovery.applied(state, config);
                log.warn(
                        "{}: {} consecutive candidates rejected ({}); {} champion v{}, replay {}% -> {}%",
                        config.lineage(),
                        recovery.rejected().size(),
                        recovery.rejected(),
                        recovery.action() == Recovery.Action.RESET
                                ? "resetting the working weights to"
                                : "interpolating toward",
                        recovery.champion(),
                        Math.round(state.replayFraction() * 100),
                        Math.round(next.replayFraction() * 100));
                training = recovery.apply(training, prepared(store.open(at).training(config.train())), config);
                anchoredTo = -1;
                state = next;
                metrics.reset(config.lineage());
            }
        }
        long champion = state.evidence().champion();
        if (config.forgetting().l2Pull() > 0 && champion > 0 && anchoredTo != champion) {
            String at = reports.location(champion, wait);
            if (at != null) {
                pullTowards(training, at);
                anchoredTo = champion;
                anchorLocation = at;
                log.info(
                        "{}: L2 pull (strength {}) toward champion v{}",
                        config.lineage(),
                        config.forgetting().l2Pull(),
                        champion);
            }
        }
    }

    /**
     * Before round k trains: folds in the reports on versions up to k - 1, the last committed checkpoint (waiting for
     * that one a bounded time), which steer this round's mixture and recovery, and set the next round's fraction.
     */
    private void settle(Reports reports) throws InterruptedException {
        long from = state.evidence().evaluatedThrough();
        Settled settled = reports.settle(from, version, config.steering().evaluationWait());
        if (settled.timedOut()) {
            log.warn(
                    "{}: no report on v{} within {}; round v{} goes on with the reports through v{}",
                    config.lineage(),
                    version,
                    config.steering().evaluationWait(),
                    version + 1,
                    settled.reports().isEmpty()
                            ? from
                            : settled.reports()
                                    .get(settled.reports().size() - 1)
                                    .getCandidateVersion());
        }
        List<GateEvidence.Evaluated> evaluated =
                settled.reports().stream().map(GateEvidence.Evaluated::of).toList();
        state = state.settled(
                evaluated, state.timedOutWaits() + (settled.timedOut() ? 1 : 0), config, replay.domains());
    }

    /** The replay mixture of the round under the {@code STEERED} policy, else null (the policy's own draw). */
    private SortedMap<String, Double> shares() {
        if (config.replay().policy() != TrainerConfig.Replay.Policy.STEERED || replay.size() == 0) return null;
        return ReplayMixture.shares(
                replay.seen(), state.evidence(), config.steering().floor());
    }

    /**
     * With IPT_REPLAY_TARGET, round {@code next}'s lean toward the suites: fitted against a sample of the store as it
     * is before the round, drawn from the seed and the round alone, so a resumed lineage fits the same; else null.
     */
    private TaskAwareReplay taskAware(long next) throws RocksDBException {
        if (config.replay().target() == null || replay.size() == 0) return null;
        if (targetTokens == null) {
            targetTokens = TaskAwareReplay.suiteTexts(config.replay().target()).stream()
                    .map(t -> training.model().tokenizer().encode(t))
                    .toList();
            log.info(
                    "{}: replay leans toward the {} suite texts in {} ({} tokens)",
                    config.lineage(),
                    targetTokens.size(),
                    config.replay().target(),
                    targetTokens.stream().mapToInt(t -> t.length).sum());
        }
        SplittableRandom random = new SplittableRandom(config.train().seed() * 31 + next);
        List<int[]> stored =
                replay.sample(TaskAwareReplay.STORE_SAMPLE, TrainerConfig.Replay.Policy.UNIFORM, random).stream()
                        .map(ReplayStore.Entry::tokens)
                        .toList();
        return TaskAwareReplay.fit(targetTokens, stored);
    }

    /** The last committed weights, frozen and pulled as before, for the divergence guard's retry. */
    private Training restoreLast() throws IOException, CheckpointException {
        Training restored = prepared(
                location == null ? startingModel() : store.open(location).training(config.train()));
        if (config.forgetting().l2Pull() > 0 && anchoredTo >= 0) pullTowards(restored, anchorLocation);
        return restored;
    }

    /** Anchors {@code m}'s L2 pull to the weights of the checkpoint at {@code anchor}. */
    private void pullTowards(Training m, String anchor) throws IOException, CheckpointException {
        try (LanguageModel weights = store.open(anchor).model()) {
            m.pullTowards(weights, config.forgetting().l2Pull());
        }
    }

    /**
     * A new lineage's first weights (TrainerConfig.Start), in the context length the packer cuts sequences for: fresh,
     * another lineage's checkpoint (a directory with ipt's manifest), a Hugging Face model directory, or a TorchScript
     * file.
     */
    private Training startingModel() throws IOException, CheckpointException {
        String start = config.start().from();
        Path from =
                start == null ? null : TrainerConfig.Start.remote(start) ? store.localDirectory(start) : Path.of(start);
        Training m;
        if (from == null) {
            m = Training.create(config.model(), config.train());
        } else if (Files.isDirectory(from) && Files.exists(from.resolve(Checkpoint.MANIFEST_FILE))) {
            m = Checkpoint.open(from).training(config.train());
        } else if (Files.isDirectory(from)) {
            m = Training.start(huggingFaceStart(from), config.train());
        } else {
            m = Training.start(
                    LanguageModel.fromTorchScript(from, config.start().tokenizer(), config.model()), config.train());
        }
        String mismatch = shapeMismatch(m.model());
        if (mismatch != null) {
            m.close();
            throw new IllegalStateException(from + " " + mismatch);
        }
        return m;
    }

    /** A Hugging Face model trained over the lineage's context length, which must fit the model's own. */
    private LanguageModel huggingFaceStart(Path dir) throws IOException {
        try {
            return LanguageModel.fromHuggingFace(dir, config.model().contextLength());
        } catch (IllegalArgumentException e) {
            throw new IllegalStateException(
                    "IPT_CONTEXT_LENGTH=" + config.model().contextLength() + ": " + e.getMessage(), e);
        }
    }

    /**
     * What differs between a model's shape and the configured one, or null: a lineage's shape is fixed. A Hugging
     * Face model's width, depth and heads are its own (IPT_D_MODEL, IPT_LAYERS and IPT_HEADS shape ipt's GPT and
     * declare a TorchScript module's); its context length is the lineage's.
     */
    private String shapeMismatch(LanguageModel model) {
        GptConfig have = model.config();
        GptConfig want = config.model();
        if (HUGGING_FACE.contains(model.architecture())) {
            if (have.contextLength() == want.contextLength()) return null;
            return String.format(
                    "is a %s model trained with IPT_CONTEXT_LENGTH=%d, configured %d",
                    model.architecture(), have.contextLength(), want.contextLength());
        }
        if (have.contextLength() == want.contextLength()
                && have.dModel() == want.dModel()
                && have.nLayers() == want.nLayers()
                && have.nHeads() == want.nHeads()) {
            return null;
        }
        return String.format(
                "has IPT_CONTEXT_LENGTH=%d IPT_D_MODEL=%d IPT_LAYERS=%d IPT_HEADS=%d, configured %d, %d, %d, %d",
                have.contextLength(),
                have.dModel(),
                have.nLayers(),
                have.nHeads(),
                want.contextLength(),
                want.dModel(),
                want.nLayers(),
                want.nHeads());
    }

    /** Applies the lineage's freezing to a model just created or loaded. */
    private Training prepared(Training m) {
        Forgetting f = config.forgetting();
        if (f.freezeEmbeddings() || f.frozenBlocks() > 0) m.freeze(f.freezeEmbeddings(), f.frozenBlocks());
        return m;
    }

    private Checkpoint writeCheckpoint(long next, int sequences, double loss, Map<String, Long> offsets)
            throws IOException {
        Files.createDirectories(config.checkpointRoot());
        long tokens = tokensSeen + (long) sequences * config.sequenceLength();
        Checkpoint.Manifest manifest = new Checkpoint.Manifest(
                1,
                config.lineage(),
                next,
                location == null ? null : version,
                training.model().config(),
                training.model().architecture(),
                training.step(),
                tokens,
                new LinkedHashMap<>(offsets),
                loss,
                System.currentTimeMillis(),
                Map.of());
        Map<String, byte[]> extra = Map.of(
                TAIL_FILE, packer.tailBytes(),
                STATE_FILE, state.bytes(),
                DOCUMENTS_FILE, (String.join("\n", pendingIds) + "\n").getBytes(StandardCharsets.UTF_8));
        return Checkpoint.write(
                config.checkpointRoot(),
                String.format("v%06d", next),
                manifest,
                training,
                extra,
                config.maxShardBytes());
    }

    private static long sizeOf(Path dir) throws IOException {
        try (Stream<Path> files = Files.walk(dir)) {
            return files.filter(Files::isRegularFile)
                    .mapToLong(f -> f.toFile().length())
                    .sum();
        }
    }

    private static void copyTree(Path from, Path to) throws IOException {
        try (Stream<Path> files = Files.walk(from)) {
            for (Path p : files.toList()) {
                Path target = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) Files.createDirectories(target);
                else Files.copy(p, target, StandardCopyOption.REPLACE_EXISTING);
            }
        }
    }

    public TrainerConfig config() {
        return config;
    }

    /** The model as trained so far (this round's steps included while a round runs). */
    public LanguageModel model() {
        return training.model();
    }

    /** Optimizer steps taken so far, across checkpoints. */
    public long step() {
        return training.step();
    }

    /** The last committed checkpoint's version (0 before the first). */
    public long version() {
        return version;
    }

    /** Where the last committed checkpoint is kept; null before the first. */
    public String location() {
        return location;
    }

    /** Documents added since the last committed round. */
    public int pendingDocuments() {
        return pendingIds.size();
    }

    /** Documents added to this instance since it was recovered or forked. */
    public long documentsAdded() {
        return documentsAdded;
    }

    /** The share of every batch drawn from the replay store in the next round. */
    public double replayFraction() {
        return state.replayFraction();
    }

    /** New tokens per domain over the lineage: the replay store counts every sequence each domain contributed. */
    public Map<String, Long> domainTokens() {
        Map<String, Long> tokens = new TreeMap<>();
        for (ReplayStore.Reservoir r : replay.reservoirs()) tokens.put(r.domain(), r.seen() * config.sequenceLength());
        return tokens;
    }

    public long replaySequences() {
        return replay.size();
    }

    /** Recoveries (resets, interpolations) so far. */
    public int recoveries() {
        return state.resets();
    }

    /** Reports the replay store and packer to the metrics. */
    void publishState() {
        metrics.state(config.lineage(), replay.size(), packer.tokens(), version);
        metrics.replay(config.lineage(), replay.reservoirs());
    }

    @Override
    public void close() {
        replay.close();
        if (training != null) training.close();
    }
}
