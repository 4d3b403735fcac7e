package ipt.standalone;

import ipt.evaluator.EvaluatorService;
import ipt.ingest.CurationService;
import ipt.ingest.DocumentPublisher;
import ipt.ingest.FileLoader;
import ipt.ingest.LoadReport;
import ipt.runtime.KafkaSettings;
import ipt.runtime.Topics;
import ipt.trainer.TrainerService;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
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
    subcommands = {Ipt.DemoCommand.class, Ipt.BrokerCommand.class, Ipt.TopicsCommand.class, Ipt.IngestCommand.class,
        Ipt.CurateCommand.class, Ipt.TrainCommand.class, Ipt.EvaluateCommand.class})
public final class Ipt implements Runnable {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  public static void main(String[] args) {
    // No code or weights are ever downloaded at run time.
    System.setProperty("ai.djl.offline", System.getProperty("ai.djl.offline", "true"));
    CommandLine cli = new CommandLine(new Ipt());
    // A setting that is missing or wrong is the user's to fix: say what, without a stack trace.
    cli.setExecutionExceptionHandler((e, command, parsed) -> {
      if (!(e instanceof IllegalArgumentException)) throw e;
      command.getErr().println("ipt: " + e.getMessage());
      return 2;
    });
    System.exit(cli.execute(args));
  }

  @Override
  public void run() {
    spec.commandLine().usage(System.out);
  }

  @Command(name = "demo", mixinStandardHelpOptions = true,
      description = "Embedded Kafka broker + every service; streams English, then Java, then German text and reports forgetting.")
  static final class DemoCommand implements Callable<Integer> {
    @Option(names = "--work-dir", defaultValue = "ipt-demo", description = "Where broker data, checkpoints, replay and the report go (default: ${DEFAULT-VALUE}).")
    Path workDir;

    @Option(names = "--english-kb", defaultValue = "900", description = "English text in the first phase (default: ${DEFAULT-VALUE}).")
    int englishKb;

    @Option(names = "--java-kb", defaultValue = "400", description = "Java source in the second phase (default: ${DEFAULT-VALUE}).")
    int javaKb;

    @Option(names = "--german-kb", defaultValue = "400", description = "German text in the third phase (default: ${DEFAULT-VALUE}).")
    int germanKb;

    @Option(names = "--steps-per-round", defaultValue = "50", description = "Optimizer steps per training round (default: ${DEFAULT-VALUE}).")
    int stepsPerRound;

    @Option(names = "--batch-size", defaultValue = "16", description = "Sequences per step (default: ${DEFAULT-VALUE}).")
    int batchSize;

    @Option(names = "--replay", defaultValue = "0.25", description = "Replay fraction of the 'replay' lineage (default: ${DEFAULT-VALUE}).")
    double replay;

    @Option(names = "--budget", defaultValue = "0.10",
        description = "Largest relative held-out loss rise the gate lets through (default: ${DEFAULT-VALUE}; the services default to 0.02).")
    double budget;

    @Override
    public Integer call() throws Exception {
      return new Demo(new Demo.Options(workDir, englishKb, javaKb, germanKb, stepsPerRound, batchSize, replay, budget), System.out).run();
    }
  }

  @Command(name = "broker", mixinStandardHelpOptions = true, description = "Runs the embedded single-node KRaft broker until interrupted.")
  static final class BrokerCommand implements Callable<Integer> {
    @Option(names = "--port", defaultValue = "9092", description = "Listener port on 127.0.0.1 (default: ${DEFAULT-VALUE}).")
    int port;

    @Option(names = "--data-dir", defaultValue = "ipt-data/kafka", description = "Log directory; reused across restarts (default: ${DEFAULT-VALUE}).")
    Path dataDir;

    @Override
    public Integer call() throws Exception {
      try (EmbeddedKafka kafka = EmbeddedKafka.start(dataDir.toAbsolutePath(), port, false);
          Admin admin = Admin.create(KafkaSettings.of(kafka.bootstrapServers()))) {
        Topics.ensure(admin, Topics.specs(3), (short) 1);
        System.out.println("broker ready on " + kafka.bootstrapServers() + " (Ctrl-C stops it)");
        CountDownLatch stop = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(stop::countDown));
        stop.await();
      }
      return 0;
    }
  }

  @Command(name = "topics", mixinStandardHelpOptions = true, description = "Creates the ipt topics on KAFKA_BOOTSTRAP_SERVERS if they are missing.")
  static final class TopicsCommand implements Callable<Integer> {
    @Option(names = "--partitions", defaultValue = "3", description = "Partitions of the document topics (default: ${DEFAULT-VALUE}).")
    int partitions;

    @Option(names = "--replication-factor", defaultValue = "3", description = "Replicas per partition (default: ${DEFAULT-VALUE}).")
    short replicationFactor;

    @Override
    public Integer call() throws Exception {
      try (Admin admin = Admin.create(KafkaSettings.fromEnv(System.getenv()))) {
        Topics.ensure(admin, Topics.specs(partitions), replicationFactor);
      }
      return 0;
    }
  }

  @Command(name = "ingest", mixinStandardHelpOptions = true, description = "Publishes .jsonl/.txt/.md files (and .gz) to ipt.documents.raw on KAFKA_BOOTSTRAP_SERVERS.")
  static final class IngestCommand implements Callable<Integer> {
    @Parameters(arity = "1..*", description = "Files to load.")
    List<Path> paths;

    @Option(names = "--domain", required = true, description = "Domain of documents that do not name one.")
    String domain;

    @Override
    public Integer call() throws Exception {
      Map<String, Object> kafka = KafkaSettings.fromEnv(System.getenv());
      try (DocumentPublisher publisher = new DocumentPublisher(kafka)) {
        FileLoader loader = new FileLoader(publisher, domain);
        long published = 0;
        int problems = 0;
        for (Path path : paths) {
          LoadReport report = loader.load(path);
          report.problems().forEach(p -> System.err.println(p.path() + ":" + p.line() + ": " + p.reason() + ": " + p.detail()));
          published += report.published();
          problems += report.problems().size();
        }
        System.out.println(published + " documents published, " + problems + " skipped");
        return problems == 0 ? 0 : 2;
      }
    }
  }

  @Command(name = "curate", mixinStandardHelpOptions = true, description = "Runs the curation service against KAFKA_BOOTSTRAP_SERVERS.")
  static final class CurateCommand implements Callable<Integer> {
    @Override
    public Integer call() throws Exception {
      CurationService.main(new String[0]);
      return 0;
    }
  }

  @Command(name = "train", mixinStandardHelpOptions = true, description = "Runs one trainer (IPT_LINEAGE) against KAFKA_BOOTSTRAP_SERVERS.")
  static final class TrainCommand implements Callable<Integer> {
    @Override
    public Integer call() throws Exception {
      TrainerService.main(new String[0]);
      return 0;
    }
  }

  @Command(name = "evaluate", mixinStandardHelpOptions = true, description = "Runs the evaluator against KAFKA_BOOTSTRAP_SERVERS.")
  static final class EvaluateCommand implements Callable<Integer> {
    @Override
    public Integer call() throws Exception {
      EvaluatorService.main(new String[0]);
      return 0;
    }
  }
}
