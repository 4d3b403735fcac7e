package ipt.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import ipt.checkpoints.CheckpointStore;
import ipt.evaluator.OfflineGate;
import ipt.model.GptConfig;
import ipt.model.TrainConfig;
import ipt.runtime.DirectoryTree;
import ipt.schemas.EvaluationReport;
import ipt.testsupport.DemoCorpus;
import ipt.trainer.Lineage;
import ipt.trainer.TrainerConfig;
import ipt.trainer.TrainerConfig.Replay.Policy;
import ipt.trainer.TrainerConfig.Rounds.Schedule;
import ipt.trainer.TrainerConfig.Steering.Recovery;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.UnaryOperator;

/**
 * Continual pretraining over the stream users have, scaled down: four domains of real text in sequence (English
 * Europarl, Java sources, German and French Europarl), then a phase where all four arrive interleaved. Arms vary one
 * thing each against the service's defaults: how replay draws domains (uniform or steered by the gate's reports),
 * what a run of rejections leads to (nothing, a reset to the champion, a reset only when worse overall, an
 * interpolation toward the champion), and the learning-rate schedule; beside the defaults, replay leaning toward a user
 * suite (IPT_REPLAY_TARGET) and a larger model (d256, 4 blocks: capacity). Every arm runs the trainer's own code
 * ({@link Lineage}) in the service's 50-step rounds, with the evaluator's default gate judging every checkpoint
 * ({@link OfflineGate}); arms of one schedule share phase 1 (nothing to replay yet) and fork when Java starts. The
 * defaults arm runs again through Kafka, the trainer and evaluator services ({@link ServiceArms}).
 * Usage: {@code bench/run ContinualPretraining [phase steps] [seeds] [output dir] [arm names, |-separated]}.
 */
public final class ContinualPretraining {
    static final List<String> DOMAINS = List.of("en", "java", "de", "fr");
    static final String INTERLEAVED = "interleaved";
    /** Held-out text per domain: 128 sequences of the default model, scored by the evaluator as it scores tasks. */
    static final int HELD_OUT_TOKENS = 128 * 129;

    static final int ROUND_STEPS = 50;
    /** Replay share of every arm but the defaults' own (which is whatever IPT_REPLAY_FRACTION defaults to). */
    static final double FRACTION = 0.25;

    /** One arm: how its trainer config differs from the service's defaults. */
    record Arm(String name, UnaryOperator<TrainerConfig> config) {}

    /** After a round: the phase, the arm's step in the experiment, held-out loss per domain, and the gate's
     * decision. */
    record Point(String phase, int step, Map<String, Double> loss, String decision) {}

    record Result(String arm, long seed, boolean defaults, List<Point> curve, int recoveries, double finalFraction) {}

    /** Held-out documents per domain; training documents per domain for its own phase and for the interleaved one. */
    record Corpus(
            Map<String, List<String>> heldOut,
            Map<String, List<DemoCorpus.Text>> own,
            Map<String, List<DemoCorpus.Text>> mixed) {
        /** The interleaved phase's documents: one of each domain in turn. */
        List<DemoCorpus.Text> interleaved() {
            List<DemoCorpus.Text> out = new ArrayList<>();
            for (int i = 0; ; i++) {
                boolean any = false;
                for (String d : DOMAINS) {
                    if (i < mixed.get(d).size()) {
                        out.add(mixed.get(d).get(i));
                        any = true;
                    }
                }
                if (!any) return out;
            }
        }
    }

    public static void main(String[] args) throws Exception {
        int steps = args.length > 0 ? Integer.parseInt(args[0]) : 150;
        List<Long> seeds = args.length > 1
                ? List.of(args[1].split(",")).stream().map(Long::parseLong).toList()
                : List.of(1234L, 1235L);
        Path out = Path.of(args.length > 2 ? args[2] : "bench/results/continual-pretraining");
        List<Arm> arms = args.length > 3
                ? arms().stream()
                        .filter(a -> List.of(args[3].split("\\|")).contains(a.name()))
                        .toList()
                : arms().stream().filter(a -> !a.name().equals(CAPACITY_ARM)).toList();
        Path work = Files.createTempDirectory("ipt-experiment");
        // Once the defaults equal an arm's settings, that arm stands for them.
        if (arms.stream().filter(a -> isDefaults(a, work)).count() > 1)
            arms = arms.stream().filter(a -> !a.name().equals("defaults")).toList();
        if (steps % ROUND_STEPS != 0)
            throw new IllegalArgumentException("phase steps must be a multiple of the service's 50-step round");
        long started = System.nanoTime();
        Corpus corpus = corpus(steps);
        System.out.printf(
                Locale.ROOT,
                "corpus: %s; held-out %d bytes each; %d steps per phase of 16 x 129 tokens%n",
                DOMAINS.stream()
                        .map(d -> d + " " + corpus.own().get(d).size() + "+"
                                + corpus.mixed().get(d).size() + " documents")
                        .toList(),
                HELD_OUT_TOKENS,
                steps);
        List<Result> results = new ArrayList<>();
        Map<String, List<List<DemoCorpus.Text>>> fed = new LinkedHashMap<>();
        for (long seed : seeds) runSeed(seed, steps, corpus, arms, work.resolve("seed-" + seed), results, fed);
        Arm defaults =
                arms.stream().filter(a -> isDefaults(a, work)).findFirst().orElse(null);
        ServiceArms.Outcome service = defaults == null || !fed.containsKey(defaults.name())
                ? null
                : ServiceArms.run(work.resolve("service"), corpus, fed.get(defaults.name()), steps);
        double minutes = (System.nanoTime() - started) / 60e9;
        ExperimentReport report = new ExperimentReport(results, service, steps, minutes);
        Files.createDirectories(out);
        String table = report.markdown();
        Files.writeString(out.resolve("results.md"), table, StandardCharsets.UTF_8);
        Map<String, Object> json = new LinkedHashMap<>(
                Map.of("phaseSteps", steps, "seeds", seeds, "minutes", minutes, "results", results));
        if (service != null) json.put("service", service);
        new ObjectMapper()
                .enable(SerializationFeature.INDENT_OUTPUT)
                .writeValue(out.resolve("results.json").toFile(), json);
        LossCurves.draw(results, steps, out.resolve("losses.png"));
        DirectoryTree.delete(work);
        System.out.println(table);
        System.out.printf(Locale.ROOT, "wrote %s/{results.md,results.json,losses.png}; %.1f minutes%n", out, minutes);
    }

    /** The arms; each names every setting it compares, so an arm means the same whatever the defaults are. */
    static List<Arm> arms() {
        return List.of(
                new Arm("uniform", c -> with(c, Policy.UNIFORM, 0, Recovery.NONE, Schedule.REWARM_COSINE)),
                new Arm("steered", c -> with(c, Policy.STEERED, 0, Recovery.NONE, Schedule.REWARM_COSINE)),
                new Arm(
                        "steered, floor 0.25",
                        c -> withFloor(with(c, Policy.STEERED, 0, Recovery.NONE, Schedule.REWARM_COSINE), 0.25)),
                new Arm(
                        "steered, fraction follows forgetting",
                        c -> with(c, Policy.STEERED, 5, Recovery.NONE, Schedule.REWARM_COSINE)),
                new Arm(
                        "uniform, reset (old defaults)",
                        c -> with(c, Policy.UNIFORM, 0, Recovery.RESET, Schedule.REWARM_COSINE)),
                new Arm("steered, reset", c -> with(c, Policy.STEERED, 0, Recovery.RESET, Schedule.REWARM_COSINE)),
                new Arm(
                        "steered, reset if worse",
                        c -> with(c, Policy.STEERED, 0, Recovery.RESET_IF_WORSE, Schedule.REWARM_COSINE)),
                new Arm(
                        "steered, interpolate",
                        c -> with(c, Policy.STEERED, 0, Recovery.INTERPOLATE, Schedule.REWARM_COSINE)),
                new Arm("steered, WSD", c -> with(c, Policy.STEERED, 0, Recovery.NONE, Schedule.WSD)),
                new Arm("steered, WSD (1-sqrt)", c -> with(c, Policy.STEERED, 0, Recovery.NONE, Schedule.WSD_SQRT)),
                new Arm("defaults", c -> c),
                new Arm("defaults, floor 0.25", c -> withFloor(c, 0.25)),
                suiteArm("en"),
                suiteArm("java"),
                new Arm(CAPACITY_ARM, c -> {
                    GptConfig m = c.model();
                    return c.withModel(new GptConfig(m.vocabSize(), m.contextLength(), 256, 4, 8), c.train());
                }));
    }

    /**
     * The defaults at a larger shape: named, not run by default, because at 3× the time a step it alone would take the
     * default run past its 40 minutes.
     */
    static final String CAPACITY_ARM = "defaults, d256 L4";

    /** Arms named so are the defaults leaning toward a user suite of one domain (its held-out text). */
    static final String SUITE_ARM = "defaults, suite ";

    /**
     * The defaults with IPT_REPLAY_TARGET set to a suite of {@code domain}'s held-out text, which {@link #runSeed}
     * writes under the seed's directory: the user's suite is what the arm is judged on (the "measure it
     * against plain sampling on the suites").
     */
    private static Arm suiteArm(String domain) {
        return new Arm(SUITE_ARM + domain, c -> {
            TrainerConfig.Replay r = c.replay();
            return c.with(new TrainerConfig.Replay(
                    r.fraction(),
                    r.capacityBytes(),
                    r.policy(),
                    suites(c.checkpointRoot()).resolve(domain)));
        });
    }

    /** Where a seed's suites are: beside the checkpoints of every lineage under its directory. */
    private static Path suites(Path checkpointRoot) {
        return checkpointRoot.getParent().getParent().resolve("suites");
    }

    private static TrainerConfig with(
            TrainerConfig c, Policy policy, double gain, Recovery recovery, Schedule schedule) {
        TrainerConfig.Replay r = c.replay();
        TrainerConfig.Rounds rounds = c.rounds();
        TrainerConfig.Steering s = c.steering();
        return c.with(new TrainerConfig.Replay(FRACTION, r.capacityBytes(), policy, r.target()))
                .with(new TrainerConfig.Rounds(
                        rounds.stepsPerRound(),
                        rounds.batchSize(),
                        rounds.microBatches(),
                        rounds.idleFlush(),
                        rounds.partitionWait(),
                        schedule,
                        rounds.annealSteps()))
                .with(new TrainerConfig.Steering(s.floor(), gain, s.evaluationWait(), recovery, s.keep()));
    }

    private static TrainerConfig withFloor(TrainerConfig c, double floor) {
        TrainerConfig.Steering s = c.steering();
        return c.with(new TrainerConfig.Steering(floor, s.gain(), s.evaluationWait(), s.recovery(), s.keep()));
    }

    /** Whether an arm's config is the service's defaults (then it is the one run through the services). */
    static boolean isDefaults(Arm arm, Path dir) {
        TrainerConfig base = config("x", dir, 1);
        return arm.config().apply(base).equals(base);
    }

    /** Every arm for one seed; {@code fed} gets each arm's documents per phase as it packed them, for the service's
     * seed. */
    private static void runSeed(
            long seed,
            int steps,
            Corpus corpus,
            List<Arm> arms,
            Path dir,
            List<Result> results,
            Map<String, List<List<DemoCorpus.Text>>> fed)
            throws Exception {
        List<Arm> remaining = new ArrayList<>(arms);
        for (String d : DOMAINS) {
            Path suite = Files.createDirectories(
                    suites(config("x", dir, seed).checkpointRoot()).resolve(d));
            Files.writeString(
                    suite.resolve("heldout.txt"),
                    String.join("\n", corpus.heldOut().get(d)));
        }
        // Arms whose configs differ only after phase 1 (replay, recovery) share it: nothing is replayed before Java.
        while (!remaining.isEmpty()) {
            Arm first = remaining.get(0);
            TrainerConfig firstConfig = first.config().apply(config("p1", dir, seed));
            List<Arm> group = remaining.stream()
                    .filter(a -> samePhase1(a.config().apply(config("p1", dir, seed)), firstConfig))
                    .toList();
            remaining.removeAll(group);
            // Named by schedule and shape: groups differing in either must not find each other's checkpoints.
            String name = "phase1-"
                    + firstConfig
                            .rounds()
                            .schedule()
                            .name()
                            .toLowerCase(Locale.ROOT)
                            .replace('_', '-')
                    + "-d" + firstConfig.model().dModel() + "-l"
                    + firstConfig.model().nLayers();
            TrainerConfig phase1Config = firstConfig.with(recoveryNone(firstConfig.steering()));
            phase1Config = copy(phase1Config, name, dir);
            Judged judged = new Judged(new OfflineGate(corpus.heldOut()), new TreeMap<>(), new TreeMap<>());
            List<Point> phase1Curve = new ArrayList<>();
            long t0 = System.nanoTime();
            try (Lineage phase1 = Lineage.recover(phase1Config, store(phase1Config), null)) {
                int used =
                        phase(phase1, DOMAINS.get(0), corpus.own().get(DOMAINS.get(0)), steps, 0, judged, phase1Curve);
                System.out.printf(
                        Locale.ROOT,
                        "seed %d %s: %s (%.0f s)%n",
                        seed,
                        name,
                        last(phase1Curve),
                        (System.nanoTime() - t0) / 1e9);
                for (Arm arm : group) {
                    t0 = System.nanoTime();
                    TrainerConfig c = copy(
                            arm.config().apply(config("x", dir, seed)),
                            arm.name()
                                    .replaceAll("[^A-Za-z0-9]+", "-")
                                    .toLowerCase(Locale.ROOT)
                                    .replaceAll("^-|-$", ""),
                            dir);
                    List<Point> curve = new ArrayList<>(phase1Curve);
                    List<List<DemoCorpus.Text>> docs = new ArrayList<>(
                            List.of(corpus.own().get(DOMAINS.get(0)).subList(0, used)));
                    Judged armJudged = judged.copy();
                    try (Lineage lineage = Lineage.fork(phase1, c, store(c))) {
                        for (int p = 1; p <= DOMAINS.size(); p++) {
                            String phase = p < DOMAINS.size() ? DOMAINS.get(p) : INTERLEAVED;
                            List<DemoCorpus.Text> texts =
                                    p < DOMAINS.size() ? corpus.own().get(phase) : corpus.interleaved();
                            docs.add(
                                    texts.subList(0, phase(lineage, phase, texts, steps, p * steps, armJudged, curve)));
                        }
                        results.add(new Result(
                                arm.name(),
                                seed,
                                isDefaults(arm, dir),
                                curve,
                                lineage.recoveries(),
                                lineage.replayFraction()));
                    }
                    if (seed == ServiceArms.SEED) fed.putIfAbsent(arm.name(), docs);
                    System.out.printf(
                            Locale.ROOT,
                            "seed %d %-40s %s (%.0f s)%n",
                            seed,
                            arm.name(),
                            last(curve),
                            (System.nanoTime() - t0) / 1e9);
                }
            }
        }
    }

    private static String last(List<Point> curve) {
        Point p = curve.get(curve.size() - 1);
        StringBuilder s = new StringBuilder();
        p.loss().forEach((d, l) -> s.append(String.format(Locale.ROOT, "%s %.4f ", d, l)));
        return s.toString().strip();
    }

    /** Phase 1 is the same for two configs that differ only in what acts on replay or on rejections. */
    private static boolean samePhase1(TrainerConfig a, TrainerConfig b) {
        return a.rounds().equals(b.rounds())
                && a.train().equals(b.train())
                && a.model().equals(b.model());
    }

    private static TrainerConfig.Steering recoveryNone(TrainerConfig.Steering s) {
        return new TrainerConfig.Steering(s.floor(), s.gain(), s.evaluationWait(), Recovery.NONE, s.keep());
    }

    /** {@code c} as lineage {@code name} under {@code dir}. */
    private static TrainerConfig copy(TrainerConfig c, String name, Path dir) {
        TrainerConfig placed = TrainerConfig.of(name, dir, c.replay().fraction());
        return placed.with(c.rounds())
                .with(c.replay())
                .withModel(c.model(), c.train())
                .with(c.guard())
                .with(c.forgetting())
                .with(c.start())
                .with(c.steering());
    }

    /**
     * One phase of {@code steps} optimizer steps in rounds, each cut as the trainer service cuts the stream (it starts
     * once the documents packed so far fill a full round's new sequences) and committed once written; then the gate
     * judges the checkpoint and its held-out losses join {@code curve}. Returns the documents the phase packed.
     */
    private static int phase(
            Lineage lineage,
            String phase,
            List<DemoCorpus.Text> texts,
            int steps,
            int firstStep,
            Judged judged,
            List<Point> curve)
            throws Exception {
        Iterator<DemoCorpus.Text> it = texts.iterator();
        int documents = 0;
        int done = 0;
        while (done < steps) {
            while (lineage.fullSequences() < lineage.sequencesPerRound() && it.hasNext()) {
                DemoCorpus.Text t = it.next();
                lineage.add(t.id(), t.domain(), t.text());
                documents++;
            }
            if (lineage.fullSequences() < lineage.sequencesPerRound()) {
                throw new IllegalStateException(
                        phase + ": ran out of documents after " + done + " of " + steps + " steps");
            }
            Lineage.Round round = lineage.round(lineage.sequencesPerRound(), judged, Map.of(), null);
            lineage.committed(round);
            done += round.steps();
            EvaluationReport r = judged.judge(lineage, round);
            Map<String, Double> loss = new TreeMap<>();
            r.getTasks().forEach(t -> loss.put(t.getTask().substring("heldout/".length()), t.getCandidate()));
            curve.add(new Point(phase, firstStep + done, loss, r.getDecision().toString()));
        }
        return documents;
    }

    /**
     * The evaluator's part, offline: the default gate's report on every committed checkpoint, and where the promoted
     * ones are kept. Every report is in as soon as its round commits, so no wait ever runs out.
     */
    record Judged(OfflineGate gate, TreeMap<Long, EvaluationReport> reports, Map<Long, String> promoted)
            implements Lineage.Reports {
        EvaluationReport judge(Lineage lineage, Lineage.Round round) {
            EvaluationReport r = gate.judge(
                    lineage.config().lineage(),
                    round.version(),
                    lineage.step(),
                    lineage.model(),
                    lineage.domainTokens());
            reports.put(round.version(), r);
            if (r.getDecision().toString().equals("PROMOTE")) promoted.put(round.version(), round.location());
            return r;
        }

        Judged copy() throws java.io.IOException {
            return new Judged(gate.copy(), new TreeMap<>(reports), new TreeMap<>(promoted));
        }

        @Override
        public Lineage.Settled settle(long after, long through, Duration wait) {
            return new Lineage.Settled(
                    after >= through
                            ? List.of()
                            : List.copyOf(
                                    reports.subMap(after, false, through, true).values()),
                    false);
        }

        @Override
        public String location(long version, Duration wait) {
            return promoted.get(version);
        }
    }

    /** The lineage's checkpoint store, as the trainer service opens it (a directory: the experiment's data dir). */
    private static CheckpointStore store(TrainerConfig c) {
        return CheckpointStore.of(c.checkpointStore(), c.checkpointRoot().getParent(), Map.of());
    }

    /**
     * The trainer config of one lineage as the service reads it from an empty environment, but for rounds that never
     * flush early; {@code seed} fixes initial weights and replay draws.
     */
    static TrainerConfig config(String lineage, Path dir, long seed) {
        TrainerConfig c = TrainerConfig.fromEnv(Map.of(
                "IPT_LINEAGE",
                lineage,
                "IPT_DATA_DIR",
                dir.toString(),
                "IPT_IDLE_FLUSH_SECONDS",
                String.valueOf(ServiceArms.NEVER_FLUSH_SECONDS)));
        TrainConfig t = c.train();
        return c.withModel(
                c.model(),
                new TrainConfig(
                        t.maxLr(),
                        t.minLr(),
                        t.warmupSteps(),
                        t.weightDecay(),
                        t.beta1(),
                        t.beta2(),
                        t.eps(),
                        t.gradClip(),
                        seed));
    }

    /**
     * Per domain, every 20th document is held out until it has {@link #HELD_OUT_TOKENS} bytes (EOS between documents
     * counts one, the last one cut to fit, as the evaluator's snapshot cuts it); of the rest, the first ~4/5 of a
     * phase's worth train in the domain's own phase and the next ones in the interleaved phase, in corpus order.
     */
    static Corpus corpus(int steps) {
        int phaseBytes = steps * 16 * 129;
        int chars = (int) (1.3 * phaseBytes) + 40 * HELD_OUT_TOKENS;
        Map<String, List<String>> heldOut = new LinkedHashMap<>();
        Map<String, List<DemoCorpus.Text>> own = new LinkedHashMap<>();
        Map<String, List<DemoCorpus.Text>> mixed = new LinkedHashMap<>();
        for (String d : DOMAINS) {
            List<DemoCorpus.Text> texts = d.equals("java") ? DemoCorpus.java(chars) : DemoCorpus.europarl(d, chars);
            List<String> held = new ArrayList<>();
            List<DemoCorpus.Text> train = split(texts, held);
            int bytes = 0;
            int cut = 0;
            // Enough for a phase at no replay (the most new data a phase takes) with room for the packer's tail.
            while (cut < train.size() && bytes < 1.02 * phaseBytes)
                bytes += train.get(cut++).text().getBytes(StandardCharsets.UTF_8).length + 1;
            heldOut.put(d, held);
            own.put(d, train.subList(0, cut));
            mixed.put(d, train.subList(cut, train.size()));
        }
        return new Corpus(heldOut, own, mixed);
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
        if (bytes < HELD_OUT_TOKENS)
            throw new IllegalStateException("not enough text to hold out " + HELD_OUT_TOKENS + " bytes");
        return train;
    }
}
