package ipt.trainer;

import io.prometheus.metrics.model.registry.PrometheusRegistry;
import ipt.model.Checkpoint;
import ipt.model.LanguageModel;
import ipt.standalone.DemoCorpus;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * A lineage trained without Kafka by the trainer service's own code: documents are packed by {@link Packer}, cut
 * into rounds as {@link TrainerService} cuts the stream (a round starts once it can fill {@code stepsPerRound} steps
 * with new sequences), trained by {@link TrainingRound} against a {@link ReplayStore}, and offered to replay when
 * the round ends. Fed the same documents with the same config, it trains the same weights as the service.
 * It lives in the trainer's package (in bench/) to drive those package-private classes unchanged.
 */
public final class OfflineLineage implements AutoCloseable {
  /** Called after every optimizer step with the model and its global step. */
  public interface StepObserver {
    void after(LanguageModel model, long step);
  }

  private final TrainerConfig config;
  private final LanguageModel model;
  private final Packer packer;
  private final ReplayStore replay;
  private final TrainerMetrics metrics = new TrainerMetrics(new PrometheusRegistry());
  private long version;
  private long tokensSeen;
  private int documents;

  private OfflineLineage(TrainerConfig config, LanguageModel model, Packer packer, ReplayStore replay, long version) {
    this.config = config;
    this.model = model;
    this.packer = packer;
    this.replay = replay;
    this.version = version;
    TrainerConfig.Forgetting f = config.forgetting();
    if (f.freezeEmbeddings() || f.frozenBlocks() > 0) model.freeze(f.freezeEmbeddings(), f.frozenBlocks());
  }

  /** A new lineage: fresh weights from the config's seed, an empty replay store. */
  public static OfflineLineage create(TrainerConfig config) throws Exception {
    LanguageModel model = LanguageModel.create(config.model(), config.train());
    return new OfflineLineage(config, model, new Packer(config.sequenceLength(), model.tokenizer().eos()),
        ReplayStore.open(config.replayDir(), 0, config.replay().capacityBytes(), config.train().seed()), 0);
  }

  /**
   * A new lineage that goes on from {@code parent}'s last checkpoint as the service resumes one: its weights and
   * optimizer state, its packer's tail and a copy of its replay store. With an L2 pull configured, the pull is
   * anchored to that checkpoint (the parent's champion).
   */
  public static OfflineLineage branch(OfflineLineage parent, TrainerConfig config) throws Exception {
    Checkpoint checkpoint = Checkpoint.open(parent.checkpointDir());
    Path snapshot = parent.config.replayDir().resolve("snapshots").resolve(String.format("v%06d", parent.version));
    copyTree(snapshot, config.replayDir().resolve("snapshots").resolve(snapshot.getFileName()));
    LanguageModel model = LanguageModel.load(checkpoint, config.train());
    if (config.forgetting().l2Pull() > 0) {
      try (LanguageModel anchor = LanguageModel.load(checkpoint, config.train())) {
        model.pullTowards(anchor, config.forgetting().l2Pull());
      }
    }
    Packer packer = Packer.fromTail(config.sequenceLength(), model.tokenizer().eos(), checkpoint.file(TrainerService.TAIL_FILE));
    OfflineLineage branch = new OfflineLineage(config, model, packer,
        ReplayStore.open(config.replayDir(), parent.version, config.replay().capacityBytes(), config.train().seed()), parent.version);
    branch.tokensSeen = checkpoint.manifest().tokensSeen();
    return branch;
  }

  /**
   * Packs documents until a full round's new sequences are in, trains the round and offers them to the replay
   * store. Returns the round's steps: 0 when the documents ran out first (nothing is trained then).
   */
  public int round(Iterator<DemoCorpus.Text> texts, StepObserver observer) throws Exception {
    int newPerBatch = config.newPerBatch(replay.size() > 0, config.replay().fraction());
    int needed = config.rounds().stepsPerRound() * newPerBatch;
    while (packer.fullSequences() < needed && texts.hasNext()) {
      DemoCorpus.Text t = texts.next();
      packer.add(t.domain(), model.tokenizer().encode(t.text()));
      documents++;
    }
    if (packer.fullSequences() < needed) return 0;
    List<Packer.Sequence> fresh = packer.take(needed);
    TrainingRound.Step step = (m, batch, lr, micro) -> {
      LanguageModel.StepResult r = m.train(batch, lr, micro);
      observer.after(m, m.step());
      return r;
    };
    TrainingRound.Result result = TrainingRound.run(model, config, fresh, newPerBatch, replay, Map.of(), step, metrics);
    if (result.diverged()) throw new IllegalStateException(config.lineage() + " diverged: " + result.detail());
    version++;
    tokensSeen += (long) fresh.size() * config.sequenceLength();
    replay.add(version, fresh);
    replay.snapshot(version);
    Checkpoint.write(config.checkpointRoot(), String.format("v%06d", version), new Checkpoint.Manifest(1, config.lineage(), version,
        version == 1 ? null : version - 1, model.config(), model.architecture(), model.step(), tokensSeen, Map.of(), result.trainLoss(),
        System.currentTimeMillis(), Map.of()), model, Map.of(TrainerService.TAIL_FILE, packer.tailBytes()));
    return result.steps();
  }

  public LanguageModel model() {
    return model;
  }

  /** Documents packed so far (the last one may ride partly in the packer's tail). */
  public int documents() {
    return documents;
  }

  private Path checkpointDir() {
    return config.checkpointRoot().resolve(String.format("v%06d", version));
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
