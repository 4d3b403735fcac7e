package ipt.standalone;

import ipt.evaluator.EvaluatorConfig;
import ipt.evaluator.EvaluatorService;
import ipt.evaluator.ManualPromotion;
import ipt.evaluator.ModelRegistry;
import ipt.evaluator.RetentionMarks;
import ipt.evaluator.Stall;
import ipt.ingest.CurationConfig;
import ipt.ingest.CurationService;
import ipt.ingest.DocumentPublisher;
import ipt.ingest.DocumentSink;
import ipt.ingest.FileLoader;
import ipt.ingest.HttpDocumentSink;
import ipt.ingest.IngestApi;
import ipt.ingest.IngestApiConfig;
import ipt.ingest.IngestJournal;
import ipt.ingest.LoadReport;
import ipt.model.GptConfig;
import ipt.runtime.KafkaSettings;
import ipt.runtime.Settings;
import ipt.schemas.Decision;
import ipt.schemas.EvaluationReport;
import ipt.schemas.Promotion;
import ipt.schemas.Topics;
import ipt.testsupport.EmbeddedKafka;
import ipt.trainer.TrainerConfig;
import ipt.trainer.TrainerService;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import org.apache.kafka.clients.admin.Admin;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** The `ipt` command. */
@Command(
        name = "ipt",
        mixinStandardHelpOptions = true,
        version = "ipt 0.1.0",
        description = "Incremental pretraining on Kafka streams: curate, train with replay, gate promotions.",
        subcommands = {
            Ipt.DemoCommand.class,
            Ipt.BrokerCommand.class,
            Ipt.TopicsCommand.class,
            Ipt.IngestCommand.class,
            Ipt.ConfigCommand.class,
            GenerateCommand.class,
            ExportCommand.class
        })
public final class Ipt implements Runnable {
    /** Every service's settings, in the order the README documents them. */
    static final List<Settings> SERVICES = List.of(
            TrainerConfig.SETTINGS, EvaluatorConfig.SETTINGS, CurationConfig.SETTINGS, IngestApiConfig.SETTINGS);

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        // No code or weights are ever downloaded at run time.
        System.setProperty("ai.djl.offline", System.getProperty("ai.djl.offline", "true"));
        System.exit(cli(new Ipt()).execute(args));
    }

    /** The command line of a command. A setting that is missing or wrong is the user's to fix: its reason on
     * stderr, without a stack trace, and exit code 2. */
    static CommandLine cli(Object command) {
        CommandLine cli = new CommandLine(command);
        cli.setExecutionExceptionHandler((e, failed, parsed) -> {
            if (!(e instanceof IllegalArgumentException)) throw e;
            failed.getErr().println("ipt: " + e.getMessage());
            return 2;
        });
        return cli;
    }

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    @Command(
            name = "demo",
            mixinStandardHelpOptions = true,
            description = "Embedded Kafka broker + every service; streams English, Java, German, then French text "
                    + "and reports forgetting.")
    static final class DemoCommand implements Callable<Integer> {
        @Option(
                names = "--work-dir",
                defaultValue = "ipt-demo",
                description = "Where broker data, checkpoints, replay and the report go (default: ${DEFAULT-VALUE}).")
        Path workDir;

        @Option(
                names = "--english-kb",
                defaultValue = "900",
                description = "English text in the first phase (default: ${DEFAULT-VALUE}).")
        int englishKb;

        @Option(
                names = "--java-kb",
                defaultValue = "400",
                description = "Java source in the second phase (default: ${DEFAULT-VALUE}).")
        int javaKb;

        @Option(
                names = "--german-kb",
                defaultValue = "400",
                description = "German text in the third phase (default: ${DEFAULT-VALUE}).")
        int germanKb;

        @Option(
                names = "--french-kb",
                defaultValue = "400",
                description = "French text in the fourth phase (default: ${DEFAULT-VALUE}).")
        int frenchKb;

        @Option(
                names = "--steps-per-round",
                defaultValue = "50",
                description = "Optimizer steps per training round (default: ${DEFAULT-VALUE}).")
        int stepsPerRound;

        @Option(
                names = "--batch-size",
                defaultValue = "16",
                description = "Sequences per step (default: ${DEFAULT-VALUE}).")
        int batchSize;

        @Option(
                names = "--replay",
                defaultValue = "0.25",
                description =
                        "Replay fraction of the 'replay' lineage (default: ${DEFAULT-VALUE}, the services' default).")
        double replay;

        @Option(names = "--d-model", description = "Width of both lineages' model (default: IPT_D_MODEL's).")
        Integer dModel;

        @Option(names = "--layers", description = "Transformer blocks of both lineages' model (default: IPT_LAYERS's).")
        Integer layers;

        @Option(names = "--heads", description = "Attention heads of both lineages' model (default: IPT_HEADS's).")
        Integer heads;

        @Override
        public Integer call() throws Exception {
            GptConfig m = TrainerConfig.fromEnv(Map.of()).model();
            GptConfig model = new GptConfig(
                    m.vocabSize(),
                    m.contextLength(),
                    dModel == null ? m.dModel() : dModel,
                    layers == null ? m.nLayers() : layers,
                    heads == null ? m.nHeads() : heads);
            return new Demo(
                            new Demo.Options(
                                    workDir,
                                    englishKb,
                                    javaKb,
                                    germanKb,
                                    frenchKb,
                                    stepsPerRound,
                                    batchSize,
                                    replay,
                                    model),
                            System.out)
                    .run();
        }
    }

    @Command(
            name = "broker",
            mixinStandardHelpOptions = true,
            description = "Runs the embedded single-node KRaft broker until interrupted.")
    static final class BrokerCommand implements Callable<Integer> {
        @Option(
                names = "--port",
                defaultValue = "9092",
                description = "Listener port on 127.0.0.1 (default: ${DEFAULT-VALUE}).")
        int port;

        @Option(
                names = "--data-dir",
                defaultValue = "ipt-data/kafka",
                description = "Log directory; reused across restarts (default: ${DEFAULT-VALUE}).")
        Path dataDir;

        @Override
        public Integer call() throws Exception {
            try (EmbeddedKafka kafka = EmbeddedKafka.start(dataDir.toAbsolutePath(), port, false);
                    Admin admin = Admin.create(KafkaSettings.of(kafka.bootstrapServers()))) {
                Topics.ensure(admin, Topics.specs(Topics.DEFAULT_DOCUMENT_PARTITIONS), (short) 1);
                System.out.println("broker ready on " + kafka.bootstrapServers() + " (Ctrl-C stops it)");
                CountDownLatch stop = new CountDownLatch(1);
                Runtime.getRuntime().addShutdownHook(new Thread(stop::countDown));
                stop.await();
            }
            return 0;
        }
    }

    @Command(
            name = "topics",
            mixinStandardHelpOptions = true,
            description = "Creates the ipt topics on KAFKA_BOOTSTRAP_SERVERS if they are missing.")
    static final class TopicsCommand implements Callable<Integer> {
        @Option(
                names = "--partitions",
                defaultValue = "" + Topics.DEFAULT_DOCUMENT_PARTITIONS,
                description = "Partitions of the document topics (default: ${DEFAULT-VALUE}).")
        int partitions;

        @Option(
                names = "--replication-factor",
                defaultValue = "3",
                description = "Replicas per partition (default: ${DEFAULT-VALUE}).")
        short replicationFactor;

        @Override
        public Integer call() throws Exception {
            try (Admin admin = Admin.create(KafkaSettings.fromEnv(Settings.environment()))) {
                Topics.ensure(admin, Topics.specs(partitions), replicationFactor);
            }
            return 0;
        }
    }

    @Command(
            name = "config",
            mixinStandardHelpOptions = true,
            description = {
                "Lists every setting of each service with its effective value in this environment, or says "
                        + "which are wrong.",
                "--markdown prints the tables the README holds instead."
            })
    static final class ConfigCommand implements Callable<Integer> {
        @Parameters(
                arity = "0..1",
                paramLabel = "SERVICE",
                description = "trainer, evaluator, curation or ingest-api (default: all).")
        String service;

        @Option(
                names = "--markdown",
                description = "The README tables of the declarations, without reading the environment.")
        boolean markdown;

        @Override
        public Integer call() {
            int status = 0;
            for (Settings settings : SERVICES) {
                if (service != null && !service.equals(settings.service())) continue;
                if (markdown) {
                    System.out.println(settings.markdown());
                    continue;
                }
                try {
                    System.out.println(settings.parse(Settings.environment()).listing());
                } catch (IllegalArgumentException e) {
                    System.out.println(settings.service() + ": wrong settings\n  "
                            + e.getMessage().replace("\n", "\n  ") + "\n");
                    status = 2;
                }
            }
            return status;
        }
    }

    @Command(
            name = "ingest",
            mixinStandardHelpOptions = true,
            description = {
                "Sends .jsonl/.txt/.md files (and their .gz), or directories of them, to the HTTP ingest API (--http)"
                        + " or straight to ipt.documents.raw on KAFKA_BOOTSTRAP_SERVERS.",
                "Resumable: lines acknowledged in an earlier run are noted in the journal and skipped when "
                        + "it is run again;"
                        + " anything re-sent keeps its id and is dropped by curation's dedup."
            })
    static final class IngestCommand implements Callable<Integer> {
        @Parameters(arity = "1..*", description = "Files or directories to load.")
        List<Path> paths;

        @Option(names = "--domain", required = true, description = "Domain of documents that do not name one.")
        String domain;

        @Option(
                names = "--http",
                description = "Base URL of the ingest API, e.g. http://localhost:8080 (token from --token-file or "
                        + "IPT_INGEST_TOKEN).")
        URI http;

        @Option(names = "--token-file", description = "File holding the ingest API's bearer token.")
        Path tokenFile;

        @Option(
                names = "--batch",
                defaultValue = "500",
                description = "Documents per HTTP request (default: ${DEFAULT-VALUE}).")
        int batch;

        @Option(
                names = "--journal",
                defaultValue = ".ipt-ingest.journal",
                description = "Progress journal for resuming (default: ${DEFAULT-VALUE}).")
        Path journalPath;

        @Option(names = "--no-journal", description = "Send everything again, without reading or writing the journal.")
        boolean noJournal;

        @Option(names = "--no-progress", description = "No progress bar (shown on stderr when it is a terminal).")
        boolean noProgress;

        @Override
        public Integer call() throws Exception {
            ProgressBarBuilder bar = new ProgressBarBuilder()
                    .setTaskName("ingest")
                    .setInitialMax(-1)
                    .setUnit(" docs", 1)
                    .showSpeed()
                    .setUpdateIntervalMillis(500)
                    .setConsumer(new ConsoleProgressBarConsumer(System.err));
            try (DocumentSink sink = sink();
                    IngestJournal journal = noJournal ? null : IngestJournal.open(journalPath);
                    ProgressBar progress = noProgress || System.console() == null ? null : bar.build()) {
                AtomicLong problems = new AtomicLong();
                FileLoader loader = new FileLoader(sink, domain).withListener(new FileLoader.Listener() {
                    @Override
                    public void acknowledged() {
                        if (progress != null) progress.step();
                    }

                    @Override
                    public void problem() {
                        long n = problems.incrementAndGet();
                        if (progress != null) progress.setExtraMessage(" · " + n + " skipped");
                    }
                });
                if (journal != null) loader = loader.withJournal(journal);
                long published = 0;
                long resumed = 0;
                List<LoadReport.Problem> skipped = new ArrayList<>();
                for (Path path : paths) {
                    LoadReport report = loader.load(path);
                    skipped.addAll(report.problems());
                    published += report.published();
                    resumed += report.resumed();
                }
                if (progress != null) progress.close();
                skipped.forEach(System.err::println);
                System.out.println(published + " documents acknowledged, " + skipped.size() + " skipped"
                        + (resumed > 0 ? ", " + resumed + " lines already acknowledged in an earlier run" : ""));
                return skipped.isEmpty() ? 0 : 2;
            }
        }

        private DocumentSink sink() throws IOException {
            if (http == null) return new DocumentPublisher(KafkaSettings.fromEnv(Settings.environment()));
            String token = tokenFile != null
                    ? Files.readString(tokenFile).strip()
                    : IngestApiConfig.TOKEN.from(Settings.environment());
            if (token == null || token.isEmpty())
                throw new IllegalArgumentException("--http needs a token: --token-file FILE or IPT_INGEST_TOKEN");
            return new HttpDocumentSink(http, token, batch, 8 << 20, Duration.ofMinutes(5));
        }
    }

    @Command(
            name = "ingest-api",
            mixinStandardHelpOptions = true,
            description = {
                "Runs the HTTP ingest API (POST /v1/documents, see ingest/openapi.yaml) against "
                        + "KAFKA_BOOTSTRAP_SERVERS.",
                "Settings: ipt config ingest-api (and the curation rules: ipt config curation)."
            })
    void ingestApi() throws Exception {
        IngestApi.main(new String[0]);
    }

    @Command(
            name = "curate",
            mixinStandardHelpOptions = true,
            description = "Runs the curation service against KAFKA_BOOTSTRAP_SERVERS.")
    void curate() throws Exception {
        CurationService.main(new String[0]);
    }

    @Command(
            name = "train",
            mixinStandardHelpOptions = true,
            description = "Runs one trainer (IPT_LINEAGE) against KAFKA_BOOTSTRAP_SERVERS.")
    void train() throws Exception {
        TrainerService.main(new String[0]);
    }

    @Command(
            name = "evaluate",
            mixinStandardHelpOptions = true,
            description = "Runs the evaluator against KAFKA_BOOTSTRAP_SERVERS.")
    void evaluate() throws Exception {
        EvaluatorService.main(new String[0]);
    }

    @Command(
            name = "models",
            mixinStandardHelpOptions = true,
            description = "Lists every lineage: its champion, its last decision, what happens next and, when "
                    + "candidates keep being rejected,"
                    + " since when and by which rules (ipt.promotions, ipt.evaluations on "
                    + "KAFKA_BOOTSTRAP_SERVERS).")
    void models() {
        try (ModelRegistry registry = ModelRegistry.read(KafkaSettings.fromEnv(Settings.environment()))) {
            System.out.printf(
                    "%-16s %-9s %-22s %-26s %-9s %s%n",
                    "LINEAGE", "CHAMPION", "PROMOTED AT", "BY", "DECISIONS", "LAST DECISION");
            for (String lineage : registry.lineages()) {
                Promotion champion = registry.champion(lineage).orElse(null);
                List<EvaluationReport> history = registry.history(lineage);
                EvaluationReport last = history.isEmpty() ? null : history.get(history.size() - 1);
                System.out.printf(
                        "%-16s %-9s %-22s %-26s %-9s %s%n",
                        lineage,
                        champion == null ? "-" : "v" + champion.getVersion(),
                        champion == null
                                ? "-"
                                : champion.getPromotedAt().truncatedTo(java.time.temporal.ChronoUnit.SECONDS),
                        champion == null ? "-" : champion.getDecidingRule(),
                        registry.count(lineage, Decision.PROMOTE) + "/" + history.size(),
                        last == null
                                ? "-"
                                : "v" + last.getCandidateVersion() + " " + last.getDecision() + " ("
                                        + last.getDecidingRule() + ") " + last.getReason());
                Stall stall = Stall.of(history);
                if (stall.rejected() > 0) System.out.printf("%16s not advancing: %s%n", "", stall.describe());
                if (last != null && last.getNext() != null) System.out.printf("%16s next: %s%n", "", last.getNext());
            }
        }
    }

    /** No standard --version here: the command's own --version names the checkpoint. */
    @Command(
            name = "promote",
            description = {
                "Makes a checkpoint of a lineage its champion by hand (a rollback), audited in ipt.evaluations.",
                "The checkpoint must have been published by the lineage, lie in the checkpoint store "
                        + "(IPT_CHECKPOINT_STORE or IPT_DATA_DIR/checkpoints)"
                        + " and be intact."
            })
    int promote(
            @Option(names = "--lineage", required = true, paramLabel = "LINEAGE", description = "the lineage")
                    String lineage,
            @Option(
                            names = "--version",
                            required = true,
                            paramLabel = "V",
                            description = "the checkpoint version to make champion")
                    long version,
            @Option(names = "--reason", required = true, paramLabel = "TEXT", description = "why, for the audit record")
                    String reason,
            @Option(
                            names = {"-h", "--help"},
                            usageHelp = true,
                            description = "Show this help message and exit.")
                    boolean help)
            throws IOException {
        Map<String, String> env = Settings.environment();
        String who = System.getProperty("user.name") + "@"
                + java.net.InetAddress.getLocalHost().getHostName();
        Promotion p = ManualPromotion.promote(
                KafkaSettings.fromEnv(env), EvaluatorConfig.fromEnv(env).store(env), lineage, version, reason, who);
        System.out.printf(
                "%s: champion is now v%d (was %s), by %s: %s%n",
                lineage,
                p.getVersion(),
                p.getPreviousVersion() == null ? "none" : "v" + p.getPreviousVersion(),
                who,
                reason);
        return 0;
    }

    @Command(
            name = "pin",
            description = {
                "Keeps a checkpoint of a lineage from retention (README \"Checkpoint retention\"), until ipt unpin.",
                "Refused if retention deleted it already."
            })
    int pin(
            @Option(names = "--lineage", required = true, paramLabel = "LINEAGE", description = "the lineage")
                    String lineage,
            @Option(names = "--version", required = true, paramLabel = "V", description = "the checkpoint version")
                    long version,
            @Option(names = "--reason", defaultValue = "pinned by hand", paramLabel = "TEXT", description = "why")
                    String reason,
            @Option(
                            names = {"-h", "--help"},
                            usageHelp = true,
                            description = "Show this help message and exit.")
                    boolean help)
            throws IOException {
        Map<String, Object> kafka = KafkaSettings.fromEnv(Settings.environment());
        ipt.evaluator.PublishedCheckpoints.published(kafka, lineage, version);
        RetentionMarks.hold(kafka, lineage, version, RetentionMarks.PIN, requestedBy(), reason);
        System.out.printf("%s v%d: pinned; pinned now: %s%n", lineage, version, RetentionMarks.pins(kafka));
        return 0;
    }

    @Command(name = "unpin", description = "Lets retention delete a pinned checkpoint again (ipt pin).")
    int unpin(
            @Option(names = "--lineage", required = true, paramLabel = "LINEAGE", description = "the lineage")
                    String lineage,
            @Option(names = "--version", required = true, paramLabel = "V", description = "the checkpoint version")
                    long version,
            @Option(
                            names = {"-h", "--help"},
                            usageHelp = true,
                            description = "Show this help message and exit.")
                    boolean help)
            throws IOException {
        Map<String, Object> kafka = KafkaSettings.fromEnv(Settings.environment());
        if (!RetentionMarks.pins(kafka)
                .getOrDefault(lineage, java.util.Set.of())
                .contains(version)) throw new IllegalArgumentException(lineage + " v" + version + " is not pinned");
        RetentionMarks.release(kafka, lineage, version, RetentionMarks.PIN, requestedBy());
        System.out.printf("%s v%d: unpinned%n", lineage, version);
        return 0;
    }

    private static String requestedBy() throws IOException {
        return System.getProperty("user.name") + "@"
                + java.net.InetAddress.getLocalHost().getHostName();
    }
}
