package ipt.trainer;

import io.prometheus.metrics.model.registry.PrometheusRegistry;
import ipt.model.Checkpoint;
import ipt.model.LanguageModel;
import ipt.schemas.EvaluationReport;
import ipt.standalone.DemoCorpus;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * A lineage trained without Kafka by the trainer service's own code: documents are packed by {@link Packer}, cut
 * into rounds as {@link TrainerService} cuts the stream (a round starts once it can fill {@code stepsPerRound} steps
 * with new sequences), trained by {@link TrainingRound} against a {@link ReplayStore}, and offered to replay when
 * the round ends. A {@link Judge} stands for the evaluator: its report on each checkpoint is settled, as in the
 * service, two rounds later ({@link LineageState#settled}), and steers replay and recovery as there. Fed the same
 * documents with the same config and reports, it trains the same weights as the service.
 * It lives in the trainer's package (in bench/) to drive those package-private classes unchanged.
 */
public final class OfflineLineage implements AutoCloseable {
  /** Called after every optimizer step with the model and its global step. */
  public interface StepObserver {
    void after(LanguageModel model, long step);
  }

  /** The evaluator's report on a checkpoint just written, or null where no evaluator runs. */
  public interface Judge {
    EvaluationReport judge(LanguageModel model, long version);
  }

  private final TrainerConfig config;
  private LanguageModel model;
  private final Packer packer;
  private final ReplayStore replay;
  private final TrainerMetrics metrics = new TrainerMetrics(new PrometheusRegistry());
  private final TreeMap<Long, Path> checkpoints = new TreeMap<>();
  private final TreeMap<Long, GateEvidence.Evaluated> reports = new TreeMap<>();
  private LineageState state;
  private long version;
  private long tokensSeen;
  private int documents;

  private OfflineLineage(TrainerConfig config, LanguageModel model, Packer packer, ReplayStore replay, long version, LineageState state) {
    this.config = config;
    this.model = model;
    this.packer = packer;
    this.replay = replay;
    this.version = version;
    this.state = state;
    prepare(model);
  }

  /** A new lineage: fresh weights from the config's seed, an empty replay store. */
  public static OfflineLineage create(TrainerConfig config) throws Exception {
    LanguageModel model = LanguageModel.create(config.model(), config.train());
    return new OfflineLineage(config, model, new Packer(config.sequenceLength(), model.tokenizer().eos()),
        ReplayStore.open(config.replayDir(), 0, config.replay().capacityBytes(), config.train().seed()), 0,
        LineageState.initial(config.replay().fraction()));
  }

  /**
   * A new lineage that goes on from {@code parent}'s last checkpoint as the service resumes one: its weights and
   * optimizer state, its packer's tail, a copy of its replay store, its lineage state (the replay fraction taken from
   * {@code config}) and the reports on its checkpoints. With an L2 pull configured, the pull is anchored to that checkpoint.
   */
  public static OfflineLineage branch(OfflineLineage parent, TrainerConfig config) throws Exception {
    Checkpoint checkpoint = Checkpoint.open(parent.checkpoints.get(parent.version));
    Path snapshot = parent.config.replayDir().resolve("snapshots").resolve(String.format("v%06d", parent.version));
    copyTree(snapshot, config.replayDir().resolve("snapshots").resolve(snapshot.getFileName()));
    LanguageModel model = LanguageModel.load(checkpoint, config.train());
    if (config.forgetting().l2Pull() > 0) {
      try (LanguageModel anchor = LanguageModel.load(checkpoint, config.train())) {
        model.pullTowards(anchor, config.forgetting().l2Pull());
      }
    }
    Packer packer = Packer.fromTail(config.sequenceLength(), model.tokenizer().eos(), checkpoint.file(TrainerService.TAIL_FILE));
    LineageState s = parent.state.with(config.replay().fraction(), parent.state.shares());
    OfflineLineage branch = new OfflineLineage(config, model, packer,
        ReplayStore.open(config.replayDir(), parent.version, config.replay().capacityBytes(), config.train().seed()), parent.version, s);
    branch.tokensSeen = checkpoint.manifest().tokensSeen();
    branch.checkpoints.putAll(parent.checkpoints);
    branch.reports.putAll(parent.reports);
    return branch;
  }

  /**
   * Packs documents until a full round's new sequences are in, answers settled rejections as the lineage's recovery
   * says, trains the round, offers its sequences to the replay store, settles the reports through the previous
   * version, writes the checkpoint and has {@code judge} report on it. Returns the round's steps: 0 when the documents
   * ran out first (nothing is trained then).
   */
  public int round(Iterator<DemoCorpus.Text> texts, StepObserver observer, Judge judge) throws Exception {
    int newPerBatch = config.newPerBatch(replay.size() > 0, state.replayFraction());
    int needed = config.rounds().stepsPerRound() * newPerBatch;
    while (packer.fullSequences() < needed && texts.hasNext()) {
      DemoCorpus.Text t = texts.next();
      packer.add(t.domain(), model.tokenizer().encode(t.text()));
      documents++;
    }
    if (packer.fullSequences() < needed) return 0;
    Recovery recovery = Recovery.decide(config, state);
    if (recovery.action() == Recovery.Action.RESET || recovery.action() == Recovery.Action.INTERPOLATE) {
      model = recovery.apply(model, prepare(LanguageModel.load(Checkpoint.open(checkpoints.get(recovery.champion())), config.train())), config);
    }
    if (recovery.action() != Recovery.Action.NONE) state = recovery.applied(state, config);
    SortedMap<String, Double> shares = config.replay().policy() == TrainerConfig.Replay.Policy.STEERED && replay.size() > 0
        ? ReplayMixture.shares(replay.domains(), state.evidence(), config.steering().floor()) : null;
    state = state.with(state.replayFraction(), shares == null ? new TreeMap<>() : shares);
    List<Packer.Sequence> fresh = packer.take(needed);
    TrainingRound.Step step = (m, batch, lr, micro) -> {
      LanguageModel.StepResult r = m.train(batch, lr, micro);
      observer.after(m, m.step());
      return r;
    };
    TrainingRound.Result result = TrainingRound.run(model, config, fresh, newPerBatch, replay, shares, Map.of(), step, metrics);
    if (result.diverged()) throw new IllegalStateException(config.lineage() + " diverged: " + result.detail());
    version++;
    tokensSeen += (long) fresh.size() * config.sequenceLength();
    replay.add(version, fresh);
    replay.snapshot(version);
    long from = state.evidence().evaluatedThrough();
    List<GateEvidence.Evaluated> settled = from >= version - 1 ? List.of() : List.copyOf(reports.subMap(from, false, version - 1, true).values());
    state = state.settled(settled, state.timedOutWaits(), config, replay.domains());
    Checkpoint written = Checkpoint.write(config.checkpointRoot(), String.format("v%06d", version), new Checkpoint.Manifest(1,
        config.lineage(), version, version == 1 ? null : version - 1, model.config(), model.architecture(), model.step(), tokensSeen, Map.of(),
        result.trainLoss(), System.currentTimeMillis(), Map.of()), model,
        Map.of(TrainerService.TAIL_FILE, packer.tailBytes(), TrainerService.STATE_FILE, state.bytes()));
    checkpoints.put(version, written.dir());
    EvaluationReport report = judge.judge(model, version);
    if (report != null) reports.put(version, GateEvidence.Evaluated.of(report));
    return result.steps();
  }

  public LanguageModel model() {
    return model;
  }

  /** Documents packed so far (the last one may ride partly in the packer's tail). */
  public int documents() {
    return documents;
  }

  /** Recoveries (resets and interpolations) so far, and the replay fraction of the next round. */
  public int recoveries() {
    return state.resets();
  }

  public double replayFraction() {
    return state.replayFraction();
  }

  /** The lineage's freezing, applied to a model just created or loaded. */
  private LanguageModel prepare(LanguageModel m) {
    TrainerConfig.Forgetting f = config.forgetting();
    if (f.freezeEmbeddings() || f.frozenBlocks() > 0) m.freeze(f.freezeEmbeddings(), f.frozenBlocks());
    return m;
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

  @Override
  public void close() {
    replay.close();
    model.close();
  }
}
