package ipt.standalone;

import ipt.evaluator.EvaluatorConfig;
import ipt.evaluator.ServedFreshness;
import ipt.evaluator.Stall;
import ipt.ingest.CurationConfig;
import ipt.ingest.DocumentPublisher;
import ipt.ingest.DocumentSink;
import ipt.ingest.HttpDocumentSink;
import ipt.model.GptConfig;
import ipt.runtime.DirectoryTree;
import ipt.runtime.TopicReader;
import ipt.schemas.CheckpointPublished;
import ipt.schemas.Document;
import ipt.schemas.EvaluationReport;
import ipt.schemas.TaskResult;
import ipt.schemas.Topics;
import ipt.testsupport.DemoCorpus;
import ipt.testsupport.EmbeddedKafka;
import ipt.trainer.TrainerConfig;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.stream.Collectors;

/**
 * `ipt demo`: a real broker, every service, and a stream of real text one domain after another (English,
 * Java, German, French). The recommended lineage runs the services' defaults; beside it a lineage without
 * replay shows what the defaults prevent. The terminal shows every judged round and a line per phase; the
 * services log to a file in the work directory; the report draws each domain's loss of the served champion
 * and of every candidate over rounds. Last, each champion continues the same prompts, one per domain.
 */
final class Demo {
    /** How big the demo is; the defaults finish in a few minutes on two cores. */
    record Options(
            Path workDir,
            int englishKb,
            int javaKb,
            int germanKb,
            int frenchKb,
            int stepsPerRound,
            int batchSize,
            double replayFraction,
            GptConfig model) {}

    /** Rounds start 2 s after the stream goes quiet (the services wait 30 s), so each phase's tail is trained
     * promptly. */
    private static final Duration IDLE_FLUSH = Duration.ofSeconds(2);

    private record Phase(String domain, String description, List<DemoCorpus.Text> texts) {}

    private final Options options;
    private final PrintStream out;

    Demo(Options options, PrintStream out) {
        this.options = options;
        this.out = out;
    }

    int run() throws Exception {
        long started = System.nanoTime();
        Path work = options.workDir().toAbsolutePath();
        prepareWorkDir(work);
        // Before any service creates its logger: their lines go to the file, the terminal keeps the table.
        System.setProperty(
                "org.slf4j.simpleLogger.logFile", work.resolve("services.log").toString());
        List<Phase> phases = List.of(
                        new Phase(
                                "en",
                                "English, European Parliament proceedings",
                                DemoCorpus.europarl("en", options.englishKb() * 1024)),
                        new Phase(
                                "java",
                                "Java source code, Apache Commons",
                                shuffled(DemoCorpus.java(options.javaKb() * 1024))),
                        new Phase(
                                "de",
                                "German, European Parliament proceedings",
                                DemoCorpus.europarl("de", options.germanKb() * 1024)),
                        new Phase(
                                "fr",
                                "French, European Parliament proceedings",
                                DemoCorpus.europarl("fr", options.frenchKb() * 1024)))
                .stream()
                .filter(p -> !p.texts().isEmpty())
                .toList();

        TrainerConfig defaults =
                TrainerConfig.fromEnv(Map.of("IPT_LINEAGE", "replay", "IPT_DATA_DIR", work.toString()));
        // The contrast lineage never replays: no recovery (one raises replay) and no gain (it follows forgetting).
        TrainerConfig.Forgetting f = defaults.forgetting();
        TrainerConfig.Steering st = defaults.steering();
        List<TrainerConfig> trainers = List.of(
                TrainerConfig.of("replay", work, options.replayFraction())
                        .withRounds(options.stepsPerRound(), options.batchSize(), IDLE_FLUSH)
                        .withPartitionWait(IDLE_FLUSH)
                        .withModel(options.model(), defaults.train()),
                TrainerConfig.of("no-replay", work, 0.0)
                        .withRounds(options.stepsPerRound(), options.batchSize(), IDLE_FLUSH)
                        .withPartitionWait(IDLE_FLUSH)
                        .withModel(options.model(), defaults.train())
                        .with(new TrainerConfig.Forgetting(f.freezeEmbeddings(), f.frozenBlocks(), f.l2Pull(), 0, 0, 0))
                        .with(new TrainerConfig.Steering(
                                st.floor(), 0, st.evaluationWait(), TrainerConfig.Steering.Recovery.NONE, st.keep())));
        EvaluatorConfig evaluator = EvaluatorConfig.fromEnv(Map.of("IPT_DATA_DIR", work.toString()));
        out.printf(
                "ipt demo: %d phases (%s), work dir %s, service logs in %s%n",
                phases.size(),
                phases.stream().map(Phase::domain).collect(Collectors.joining(" → ")),
                work,
                work.resolve("services.log"));
        out.printf(
                "  replay     the services' defaults: replay %d%% (%s, following measured forgetting up to %d%%), "
                        + "recovery %s, schedule %s; gate: %s policy (README, \"The gate\")%n",
                Math.round(defaults.replay().fraction() * 100),
                defaults.replay().policy().name().toLowerCase(Locale.ROOT).replace('_', '-'),
                Math.round(f.maxReplay() * 100),
                st.recovery().name().toLowerCase(Locale.ROOT).replace('_', '-'),
                defaults.rounds().schedule().name().toLowerCase(Locale.ROOT).replace('_', '-'),
                evaluator.gate().name());
        out.printf("  no-replay  for contrast: replay 0%%, never raised (no gain, no recovery)%n");
        GptConfig m = options.model();
        out.printf(
                "  model      d_model %d, %d blocks, %d heads, context %d%s%n",
                m.dModel(),
                m.nLayers(),
                m.nHeads(),
                m.contextLength(),
                m.equals(defaults.model())
                        ? " (the services' default for a new lineage)"
                        : " (asked on the command line)");
        out.printf(
                "  both       differ from the defaults only in: a round starts %d s after the stream goes "
                        + "quiet (default %d s) and a partition with nothing to read holds the others back %d s "
                        + "(default %d s), so each phase"
                        + " ends promptly%s%n",
                IDLE_FLUSH.toSeconds(),
                defaults.rounds().idleFlush().toSeconds(),
                IDLE_FLUSH.toSeconds(),
                defaults.rounds().partitionWait().toSeconds(),
                options.replayFraction() == defaults.replay().fraction()
                                && options.stepsPerRound() == defaults.rounds().stepsPerRound()
                                && options.batchSize() == defaults.rounds().batchSize()
                                && options.model().equals(defaults.model())
                        ? ""
                        : "; and as asked on the command line: replay, steps per round, batch size, model shape");

        Table table = new Table(out);
        List<LossReport.PhaseEnd> phaseEnds = new ArrayList<>();
        List<EvaluationReport> reports;
        List<CheckpointPublished> checkpoints;
        ChampionContinuations continuations;
        try (EmbeddedKafka kafka = EmbeddedKafka.start(work.resolve("kafka"), EmbeddedKafka.freePort(), false);
                LocalPipeline pipeline = new LocalPipeline(
                        kafka.bootstrapServers(), work, CurationConfig.defaults(), trainers, evaluator);
                EvaluationLog evaluations = new EvaluationLog(pipeline.kafka(), table::print);
                DocumentPublisher publisher = new DocumentPublisher(pipeline.kafka());
                ScrapeTargets scrape = ScrapeTargets.write(
                        work, pipeline.statusPorts(), Path.of("deploy", "prometheus", "alerts.yml"))) {
            out.printf(
                    "broker %s; /metrics and /healthz: %s%n",
                    kafka.bootstrapServers(),
                    pipeline.statusPorts().entrySet().stream()
                            .sorted(Map.Entry.comparingByKey())
                            .map(e -> e.getKey() + " :" + e.getValue())
                            .collect(Collectors.joining(", ")));
            out.printf(
                    "ingest API %s/v1/documents (bearer token %s): try ipt ingest --http %s while the demo runs%n",
                    pipeline.ingestApiUrl(), pipeline.ingestToken(), pipeline.ingestApiUrl());
            out.printf(
                    "Prometheus: prometheus --config.file=%s scrapes the services (emptied when the demo ends)%n",
                    scrape.config());
            for (int i = 0; i < phases.size(); i++) {
                Phase phase = phases.get(i);
                int chars =
                        phase.texts().stream().mapToInt(t -> t.text().length()).sum();
                out.printf(
                        "%nphase %d/%d: %s — %d documents, %d KB%n",
                        i + 1, phases.size(), phase.description(), phase.texts().size(), chars / 1024);
                // The second phase comes through the HTTP ingest API, the others straight onto Kafka: both paths run.
                try (DocumentSink http = new HttpDocumentSink(
                        pipeline.ingestApiUrl(), pipeline.ingestToken(), 200, 4 << 20, Duration.ofMinutes(2))) {
                    DocumentSink sink = i == 1 ? http : publisher;
                    List<CompletableFuture<?>> acks = new ArrayList<>();
                    for (DemoCorpus.Text t : phase.texts()) {
                        acks.add(sink.send(Document.newBuilder()
                                .setId(t.id())
                                .setDomain(t.domain())
                                .setText(t.text())
                                .setSource("demo:" + phase.domain())
                                .setIngestTime(Instant.now())
                                .setMetadata(Map.of())
                                .build()));
                    }
                    sink.flush();
                    CompletableFuture.allOf(acks.toArray(new CompletableFuture[0]))
                            .get();
                }
                table.header();
                long phaseStarted = System.nanoTime();
                int judgedBefore = evaluations.reports().size();
                pipeline.awaitSettled(Duration.ofMinutes(20));
                phaseEnds.add(new LossReport.PhaseEnd(phase.domain(), lastVersions(evaluations.reports())));
                out.println(progress(
                        i + 1,
                        phases.size(),
                        phase.domain(),
                        evaluations
                                .reports()
                                .subList(judgedBefore, evaluations.reports().size()),
                        (System.nanoTime() - phaseStarted) / 1e9));
            }
            reports = evaluations.reports();
            checkpoints = TopicReader.readAll(pipeline.kafka(), Topics.CHECKPOINTS.name()).stream()
                    .map(Topics.CHECKPOINTS::value)
                    .toList();
            continuations = ChampionContinuations.of(
                    pipeline.kafka(),
                    evaluator.store(Map.of()),
                    trainers.stream().map(TrainerConfig::lineage).toList());
        }

        LossReport report = new LossReport(reports);
        Path html = work.resolve("report.html");
        report.write(html, phaseEnds);
        printForgetting(report, reports);
        printFreshness(checkpoints, ServedFreshness.overLog(checkpoints, reports));
        continuations.print(out);
        out.printf("%nreport: %s%ndone in %.0f s%n", html, (System.nanoTime() - started) / 1e9);
        return 0;
    }

    /** E.g. "phase 2/4 (java) done in 95 s: replay 3/4 promoted, serving v14; no-replay 0/3 promoted, serving v8
     * (regression:…)". */
    static String progress(int phase, int phases, String domain, List<EvaluationReport> judged, double seconds) {
        Map<String, List<EvaluationReport>> byLineage = new java.util.TreeMap<>();
        judged.forEach(r -> byLineage
                .computeIfAbsent(r.getLineage(), k -> new ArrayList<>())
                .add(r));
        List<String> parts = new ArrayList<>();
        byLineage.forEach((lineage, reports) -> {
            long promoted = reports.stream()
                    .filter(r -> r.getDecision() == ipt.schemas.Decision.PROMOTE)
                    .count();
            EvaluationReport last = reports.get(reports.size() - 1);
            Long serving = last.getDecision() == ipt.schemas.Decision.PROMOTE
                    ? Long.valueOf(last.getCandidateVersion())
                    : last.getChampionVersion();
            parts.add(String.format(
                    Locale.ROOT,
                    "%s %d/%d promoted, serving %s%s",
                    lineage,
                    promoted,
                    reports.size(),
                    serving == null ? "nothing" : "v" + serving,
                    promoted == 0 ? " (mostly " + Stall.of(reports).mainRule() + ")" : ""));
        });
        return String.format(
                Locale.ROOT,
                "phase %d/%d (%s) done in %.0f s: %s",
                phase,
                phases,
                domain,
                seconds,
                parts.isEmpty() ? "no round judged" : String.join("; ", parts));
    }

    /** Source chunks in a fixed random order, so the held-out share of the domain comes from many files, not the
     * first few. */
    private static List<DemoCorpus.Text> shuffled(List<DemoCorpus.Text> texts) {
        List<DemoCorpus.Text> out = new ArrayList<>(texts);
        java.util.Collections.shuffle(out, new java.util.Random(16));
        return out;
    }

    /** The services' /metrics endpoints in Prometheus's file_sd format, job ipt-<service>. */
    private static Map<String, Long> lastVersions(List<EvaluationReport> reports) {
        Map<String, Long> last = new HashMap<>();
        reports.forEach(r -> last.merge(r.getLineage(), r.getCandidateVersion(), Math::max));
        return last;
    }

    /**
     * Per lineage, what ipt_freshness_seconds observed over the run, as exact percentiles, and how many documents its
     * checkpoints trained on that no champion serves at the end.
     */
    private void printFreshness(
            List<CheckpointPublished> checkpoints, Map<String, List<ServedFreshness.Served>> served) {
        out.printf("%nfreshness = from a document's arrival on ipt.documents.raw to the promotion of the first "
                + "champion that trained on it%n");
        out.printf("%-14s%12s%10s%10s%12s%n", "lineage", "served", "p50", "p95", "not served");
        Map<String, Long> trained = checkpoints.stream()
                .collect(Collectors.groupingBy(
                        CheckpointPublished::getLineage,
                        java.util.TreeMap::new,
                        Collectors.summingLong(CheckpointPublished::getDocuments)));
        trained.forEach((lineage, documents) -> {
            FreshnessFigures f = FreshnessFigures.of(served.getOrDefault(lineage, List.of()));
            out.printf(
                    Locale.ROOT,
                    "%-14s%12d%9.0fs%9.0fs%12d%n",
                    lineage,
                    f.documents(),
                    f.p50(),
                    f.p95(),
                    documents - f.documents());
        });
    }

    /**
     * Forgetting of what is served (the champion) and of what is being trained (the latest candidate) side by side,
     * labelled: a lineage whose candidates are rejected keeps a champion that forgets nothing while its training
     * forgets. The dashboard's forgetting and transfer panels show the same figures (DashboardRun checks them).
     */
    private void printForgetting(LossReport report, List<EvaluationReport> reports) {
        Map<String, Map<String, Double>> served = report.forgetting();
        Map<String, Map<String, Double>> trained = report.candidateForgetting();
        Map<String, Map<String, Double>> last = report.finalLoss();
        Map<String, Map<String, Double>> bwt = report.backwardTransfer();
        out.printf(
                "%nforgetting F = held-out loss now − the lowest any champion had (nats/token), loss now in brackets;"
                        + " served: the champion, trained: the latest candidate%n");
        out.printf("%-10s %-16s %20s %20s%n", "lineage", "task", "served F (loss)", "trained F");
        served.forEach((lineage, tasks) -> {
            tasks.forEach((task, f) -> out.printf(
                    Locale.ROOT,
                    "%-10s %-16s %20s %20s%n",
                    lineage,
                    task,
                    String.format(
                            Locale.ROOT, "%+.4f (%.4f)", f, last.get(lineage).get(task)),
                    signed(trained.getOrDefault(lineage, Map.of()).get(task))));
            EvaluationReport lastReport = reports.stream()
                    .filter(r -> r.getLineage().equals(lineage))
                    .reduce((a, b) -> b)
                    .orElseThrow();
            out.printf(
                    Locale.ROOT,
                    "%-10s backward transfer: served %s, trained %s; forward transfer %s%n",
                    lineage,
                    signed(bwt.getOrDefault(lineage, Map.of()).get("served")),
                    signed(bwt.getOrDefault(lineage, Map.of()).get("trained")),
                    signed(lastReport.getForwardTransfer()));
        });
    }

    private static String signed(Double value) {
        return value == null ? "-" : String.format(Locale.ROOT, "%+.4f", value);
    }

    /** One row per domain for every evaluation, as the reports arrive. */
    static final class Table {
        private final PrintStream out;

        Table(PrintStream out) {
            this.out = out;
        }

        synchronized void header() {
            out.printf(
                    "%-10s %5s %6s  %-14s %9s %9s %8s  %s%n",
                    "lineage", "round", "step", "task", "candidate", "champion", "change", "decision");
        }

        synchronized void print(EvaluationReport r) {
            List<TaskResult> tasks = new ArrayList<>(r.getTasks().stream()
                    .filter(t -> t.getMetric().equals("loss"))
                    .toList());
            tasks.sort(Comparator.comparing(TaskResult::getTask));
            for (TaskResult t : tasks) {
                out.printf(
                        Locale.ROOT,
                        "%-10s %5s %6d  %-14s %9.4f %9s %8s  %s%n",
                        r.getLineage(),
                        "v" + r.getCandidateVersion(),
                        r.getCandidateStep(),
                        t.getTask(),
                        t.getCandidate(),
                        t.getChampion() == null ? "-" : String.format(Locale.ROOT, "%.4f", t.getChampion()),
                        t.getRelativeChange() == null
                                ? "-"
                                : String.format(Locale.ROOT, "%+.1f%%", t.getRelativeChange() * 100),
                        t == tasks.get(0) ? r.getDecision() + " (" + r.getDecidingRule() + ")" : "");
            }
            if (tasks.isEmpty())
                out.printf(
                        "%-10s %5s  %s (%s)%n",
                        r.getLineage(), "v" + r.getCandidateVersion(), r.getDecision(), r.getReason());
        }
    }

    /** Starts from an empty work dir; only a directory an earlier demo made (it has the marker) is wiped. */
    private static void prepareWorkDir(Path work) throws IOException {
        Path marker = work.resolve(".ipt-demo");
        if (Files.isDirectory(work)) {
            boolean empty;
            try (var entries = Files.list(work)) {
                empty = entries.findAny().isEmpty();
            }
            if (!empty && !Files.exists(marker)) {
                throw new IOException(work + " is not empty and was not made by ipt demo; choose another --work-dir");
            }
            DirectoryTree.delete(work);
        }
        Files.createDirectories(work);
        Files.createFile(marker);
    }
}
