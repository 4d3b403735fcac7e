package ipt.bench;

import ipt.testsupport.DemoCorpus;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import ipt.model.LanguageModel;
import ipt.model.TrainConfig;
import ipt.runtime.DirectoryTree;
import ipt.checkpoints.CheckpointStore;
import ipt.trainer.Lineage;
import ipt.trainer.TrainerConfig;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.function.UnaryOperator;

/**
 * The continual-pretraining experiment of Ibrahim et al. 2024 ("Simple and Scalable Strategies to Continually
 * Pre-train LLMs"), scaled down: phase 1 trains on English (Europarl), phase 2 arms go on from its checkpoint on Java
 * source with the same step budget, varying replay of English and the learning-rate schedule; baselines train from
 * scratch on both domains mixed and on Java alone. Every arm runs the trainer service's own round code
 * ({@link Lineage}); the 0% and 25% arms also run through Kafka, the trainer service and the evaluator
 * ({@link ServiceArms}). Usage: {@code bench/run ContinualPretraining [phase steps] [seeds] [output dir]}.
 */
public final class ContinualPretraining {
  static final String A = "en";
  static final String B = "java";
  /** Held-out text per domain: 128 sequences of the default model, scored by the evaluator as it scores tasks. */
  static final int HELD_OUT_TOKENS = 128 * 129;
  /** The L2 pull's strength in the "ipt defaults + L2 pull" arm: 1 changed nothing measurable, 30 held back both domains. */
  static final float L2_PULL = 3f;

  /** One phase-2 arm: how its trainer config differs from the replay-free base. */
  record Arm(String name, UnaryOperator<TrainerConfig> config) {}

  /** Held-out losses through phase 2 (step 0 is the phase-1 checkpoint). */
  record Point(int step, double a, double b) {}

  /**
   * Phase 1's held-out losses for one seed, and how many training documents of each domain phase 1 and the 0% arm
   * packed (the same for every seed): the service run is fed exactly those.
   */
  record Phase1(double a, double b, int documentsA, int documentsB) {}

  record Result(String arm, long seed, double a, double b, List<Point> curve) {
    double average() {
      return (a + b) / 2;
    }
  }

  /** Held-out and training documents per domain, disjoint. */
  record Corpus(List<String> heldOutA, List<String> heldOutB, List<DemoCorpus.Text> trainA, List<DemoCorpus.Text> trainB) {}

  public static void main(String[] args) throws Exception {
    int steps = args.length > 0 ? Integer.parseInt(args[0]) : 600;
    List<Long> seeds = args.length > 1 ? List.of(args[1].split(",")).stream().map(Long::parseLong).toList() : List.of(1234L, 1235L);
    Path out = Path.of(args.length > 2 ? args[2] : "bench/results/continual-pretraining");
    if (steps % 50 != 0) throw new IllegalArgumentException("phase steps must be a multiple of the service's 50-step round");
    long started = System.nanoTime();
    Corpus corpus = corpus(steps);
    System.out.printf(Locale.ROOT, "corpus: %s %d training documents, %s %d; held-out %d bytes each; phase budget %d steps of 16 x 129 tokens%n",
        A, corpus.trainA().size(), B, corpus.trainB().size(), HELD_OUT_TOKENS, steps);
    Path work = Files.createTempDirectory("ipt-experiment");
    List<Result> results = new ArrayList<>();
    Map<Long, Phase1> phase1 = new LinkedHashMap<>();
    for (long seed : seeds) {
      phase1.put(seed, runSeed(seed, steps, corpus, work.resolve("seed-" + seed), results));
    }
    Phase1 fed = phase1.values().iterator().next();
    ServiceArms.Outcome service = ServiceArms.run(work.resolve("service"), corpus, corpus.trainA().subList(0, fed.documentsA()),
        corpus.trainB().subList(0, fed.documentsB()), steps);
    double minutes = (System.nanoTime() - started) / 60e9;
    ExperimentReport report = new ExperimentReport(results, phase1, service, steps, minutes);
    Files.createDirectories(out);
    String table = report.markdown();
    Files.writeString(out.resolve("results.md"), table, StandardCharsets.UTF_8);
    new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(out.resolve("results.json").toFile(),
        Map.of("phaseSteps", steps, "seeds", seeds, "minutes", minutes, "phase1", phase1, "results", results,
            "service", service));
    LossCurves.draw(results, phase1, out.resolve("losses.png"));
    DirectoryTree.delete(work);
    System.out.println(table);
    System.out.printf(Locale.ROOT, "wrote %s/{results.md,results.json,losses.png}; %.1f minutes%n", out, minutes);
  }

  /** Phase 1, every phase-2 arm and both baselines for one seed. */
  private static Phase1 runSeed(long seed, int steps, Corpus corpus, Path dir, List<Result> results) throws Exception {
    TrainerConfig phase1Config = config("phase1", dir, 0, steps, seed);
    try (Lineage phase1 = Lineage.recover(phase1Config, store(phase1Config), null)) {
      long t0 = System.nanoTime();
      train(phase1, corpus.trainA(), steps, Lineage.Decisions.NONE, (m, s) -> {});
      double[] start = heldOut(phase1.model(), corpus);
      System.out.printf(Locale.ROOT, "seed %d phase 1: %s %.4f, %s %.4f (%.0f s)%n", seed, A, start[0], B, start[1], (System.nanoTime() - t0) / 1e9);
      int every = steps / 10;
      int usedB = 0;
      for (Arm arm : arms()) {
        t0 = System.nanoTime();
        TrainerConfig c = arm.config().apply(config(arm.name().replaceAll("[^a-z0-9]+", "-").replaceAll("-$", ""), dir, 0, steps, seed));
        List<Point> curve = new ArrayList<>(List.of(new Point(0, start[0], start[1])));
        // The phase-1 checkpoint is the arm's champion: the one its L2 pull (if any) anchors to.
        Lineage.Decisions champion = new Lineage.Decisions(phase1.version(), phase1.location(), List.of());
        try (Lineage lineage = Lineage.fork(phase1, c, store(c))) {
          long first = lineage.step();
          train(lineage, corpus.trainB(), steps, champion, (m, s) -> {
            if ((s - first) % every == 0) {
              double[] l = heldOut(m, corpus);
              curve.add(new Point((int) (s - first), l[0], l[1]));
            }
          });
          if (arm.name().equals("replay 0%")) usedB = (int) lineage.documentsAdded();
          Point end = curve.get(curve.size() - 1);
          results.add(new Result(arm.name(), seed, end.a(), end.b(), curve));
          System.out.printf(Locale.ROOT, "seed %d %-26s %s %.4f, %s %.4f (%.0f s)%n", seed, arm.name(), A, end.a(), B, end.b(),
              (System.nanoTime() - t0) / 1e9);
        }
      }
      int usedA = (int) phase1.documentsAdded();
      List<DemoCorpus.Text> mixed = new ArrayList<>(corpus.trainA().subList(0, usedA));
      mixed.addAll(corpus.trainB().subList(0, usedB));
      Collections.shuffle(mixed, new Random(seed));
      baseline("A∪B from scratch", config("mixed", dir, 0, 2 * steps, seed), mixed, 2 * steps, seed, corpus, results);
      baseline("B from scratch", config("b-only", dir, 0, steps, seed), corpus.trainB(), steps, seed, corpus, results);
      return new Phase1(start[0], start[1], usedA, usedB);
    }
  }

  /** The phase-2 arms: replay shares with re-warm and re-decay over the phase, a constant-LR control, the ipt defaults. */
  static List<Arm> arms() {
    return List.of(
        new Arm("replay 0%", c -> c),
        new Arm("replay 5%", c -> withReplay(c, 0.05)),
        new Arm("replay 25%", c -> withReplay(c, 0.25)),
        new Arm("replay 50%", c -> withReplay(c, 0.50)),
        new Arm("constant low LR, 0%", c -> {
          TrainConfig t = c.train();
          return c.withModel(c.model(), new TrainConfig(t.minLr(), t.minLr(), 0, t.weightDecay(), t.beta1(), t.beta2(), t.eps(), t.gradClip(), t.seed()));
        }),
        new Arm("ipt defaults (25%, 50-step rounds)", c -> withReplay(c, 0.25).withRounds(50, c.rounds().batchSize(), c.rounds().idleFlush())),
        new Arm("ipt defaults + L2 pull (λ " + Math.round(L2_PULL) + ")", c -> {
          TrainerConfig d = withReplay(c, 0.25).withRounds(50, c.rounds().batchSize(), c.rounds().idleFlush());
          TrainerConfig.Forgetting f = d.forgetting();
          return d.with(new TrainerConfig.Forgetting(f.freezeEmbeddings(), f.frozenBlocks(), L2_PULL, f.resetAfterRejections(),
              f.replayRaise(), f.maxReplay()));
        }));
  }

  private static TrainerConfig withReplay(TrainerConfig c, double fraction) {
    TrainerConfig.Replay r = c.replay();
    return c.with(new TrainerConfig.Replay(fraction, r.capacityBytes(), r.policy()));
  }

  private static void baseline(String name, TrainerConfig config, List<DemoCorpus.Text> texts, int steps, long seed, Corpus corpus,
      List<Result> results) throws Exception {
    long t0 = System.nanoTime();
    try (Lineage lineage = Lineage.recover(config, store(config), null)) {
      train(lineage, texts, steps, Lineage.Decisions.NONE, (m, s) -> {});
      double[] l = heldOut(lineage.model(), corpus);
      results.add(new Result(name, seed, l[0], l[1], List.of()));
      System.out.printf(Locale.ROOT, "seed %d %-26s %s %.4f, %s %.4f (%.0f s)%n", seed, name, A, l[0], B, l[1], (System.nanoTime() - t0) / 1e9);
    }
  }

  /**
   * The trainer config of one lineage, as the service reads it from the environment: rounds of {@code roundSteps}
   * steps that never flush early, replay {@code fraction}; {@code seed} fixes initial weights and replay draws.
   */
  static TrainerConfig config(String lineage, Path dir, double fraction, int roundSteps, long seed) {
    TrainerConfig c = TrainerConfig.fromEnv(Map.of("IPT_LINEAGE", lineage, "IPT_DATA_DIR", dir.toString(),
        "IPT_REPLAY_FRACTION", String.valueOf(fraction), "IPT_STEPS_PER_ROUND", String.valueOf(roundSteps),
        "IPT_IDLE_FLUSH_SECONDS", String.valueOf(ServiceArms.NEVER_FLUSH_SECONDS)));
    TrainConfig t = c.train();
    return c.withModel(c.model(), new TrainConfig(t.maxLr(), t.minLr(), t.warmupSteps(), t.weightDecay(), t.beta1(), t.beta2(), t.eps(),
        t.gradClip(), seed));
  }

  /** The lineage's checkpoint store, as the trainer service opens it (a directory: the experiment's data dir). */
  private static CheckpointStore store(TrainerConfig c) {
    return CheckpointStore.of(c.checkpointStore(), c.checkpointRoot().getParent(), Map.of());
  }

  /**
   * Rounds until {@code steps} optimizer steps are done, each cut as the trainer service cuts the stream: it starts
   * once the documents packed so far fill a full round's new sequences, and commits when its checkpoint is written.
   */
  private static void train(Lineage lineage, List<DemoCorpus.Text> texts, int steps, Lineage.Decisions decisions,
      Lineage.StepObserver observer) throws Exception {
    var it = texts.iterator();
    int done = 0;
    while (done < steps) {
      while (lineage.fullSequences() < lineage.sequencesPerRound() && it.hasNext()) {
        DemoCorpus.Text t = it.next();
        lineage.add(t.id(), t.domain(), t.text());
      }
      if (lineage.fullSequences() < lineage.sequencesPerRound()) {
        throw new IllegalStateException("ran out of documents after " + done + " of " + steps + " steps");
      }
      Lineage.Round round = lineage.round(lineage.sequencesPerRound(), decisions, Map.of(), observer);
      lineage.committed(round);
      done += round.steps();
    }
  }

  /** Held-out loss {A, B} in nats per token, windowed exactly as the evaluator scores a held-out task. */
  static double[] heldOut(LanguageModel m, Corpus corpus) {
    int length = m.config().contextLength() + 1;
    return new double[] {m.loss(m.tokenizer().windows(corpus.heldOutA(), length)), m.loss(m.tokenizer().windows(corpus.heldOutB(), length))};
  }

  /**
   * Every 20th document of each domain is held out until it has {@link #HELD_OUT_TOKENS} bytes (EOS between documents
   * counts one, the last one cut to fit, as the evaluator's snapshot cuts it); the rest train, in corpus order.
   */
  static Corpus corpus(int steps) {
    int chars = 20 * steps * 16 * 129 / 10 + 40 * HELD_OUT_TOKENS; // two phases' worth, plus what the held-out share skips
    List<DemoCorpus.Text> en = DemoCorpus.europarl(A, chars);
    List<DemoCorpus.Text> java = DemoCorpus.java(chars);
    List<String> heldA = new ArrayList<>();
    List<String> heldB = new ArrayList<>();
    List<DemoCorpus.Text> trainA = split(en, heldA);
    List<DemoCorpus.Text> trainB = split(java, heldB);
    return new Corpus(heldA, heldB, trainA, trainB);
  }

  private static List<DemoCorpus.Text> split(List<DemoCorpus.Text> texts, List<String> heldOut) {
    List<DemoCorpus.Text> train = new ArrayList<>();
    int bytes = 0;
    for (int i = 0; i < texts.size(); i++) {
      DemoCorpus.Text t = texts.get(i);
      if (i % 20 != 0 || bytes >= HELD_OUT_TOKENS) {
        train.add(t);
        continue;
      }
      int room = HELD_OUT_TOKENS - bytes - (heldOut.isEmpty() ? 0 : 1);
      byte[] utf8 = t.text().getBytes(StandardCharsets.UTF_8);
      if (utf8.length < room) {
        heldOut.add(t.text());
        bytes += utf8.length + (heldOut.size() > 1 ? 1 : 0);
      } else if (utf8[room] >= -64) { // cut between characters only (not before a UTF-8 continuation byte)
        heldOut.add(new String(utf8, 0, room, StandardCharsets.UTF_8));
        bytes = HELD_OUT_TOKENS;
      } else {
        train.add(t);
      }
    }
    if (bytes < HELD_OUT_TOKENS) throw new IllegalStateException("not enough text to hold out " + HELD_OUT_TOKENS + " bytes");
    return train;
  }
}
