package ipt.bench;

import ipt.checkpoints.CheckpointStore;
import ipt.runtime.DirectoryTree;
import ipt.runtime.KafkaSettings;
import ipt.schemas.CheckpointPublished;
import ipt.schemas.Topics;
import ipt.testsupport.ChildJvm;
import ipt.testsupport.EmbeddedKafka;
import ipt.testsupport.SyntheticProse;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * The soak: S3Proxy, the broker, curation, the evaluator and three trainers as separate processes on loopback, a
 * steady multi-domain stream into ipt.documents.raw, faults on a schedule, a sample of every process and directory
 * every few seconds, and at the end the exact accounting. `bench/run Soak` and SoakIT run it.
 */
final class SoakRun {
    static final String IPT = "ipt.standalone.Ipt";
    static final String BUCKET = "ipt-checkpoints";
    /** The three lineages: the defaults, no replay at all, and half of every batch replayed with the domains alike. */
    static final Map<String, Map<String, String>> LINEAGES = Map.of(
            "replay", Map.of(),
            "no-replay", Map.of("IPT_REPLAY_FRACTION", "0", "IPT_REPLAY_GAIN", "0"),
            "balanced",
                    Map.of(
                            "IPT_REPLAY_FRACTION",
                            "0.5",
                            "IPT_REPLAY_GAIN",
                            "0",
                            "IPT_REPLAY_POLICY",
                            "domain-balanced"));

    /**
     * @param minutes how long the stream runs; faults are spread over 15–80% of it
     * @param faults how many (at least one of each kind)
     * @param retainLast the evaluator's IPT_RETAIN_LAST (a huge number turns retention off)
     * @param retainChampions the evaluator's IPT_RETAIN_CHAMPIONS
     * @param retainFetched the evaluator's IPT_RETAIN_FETCHED
     * @param dedupHorizon curation's IPT_DEDUP_HORIZON
     */
    record Options(
            Path workDir,
            double minutes,
            double docsPerSecond,
            int documentBytes,
            int stepsPerRound,
            int faults,
            int retainLast,
            int retainChampions,
            int retainFetched,
            String dedupHorizon,
            Duration s3Outage,
            Duration recoveryTimeout,
            Duration settleTimeout,
            Duration samplePeriod) {}

    /** What the soak saw. */
    record Result(
            SoakAccounting.Result accounting,
            List<SoakRecovery> recoveries,
            List<String> unplannedExits,
            List<String> unstoppable,
            List<SoakSampler.Sample> samples,
            List<String> columns,
            long acknowledged,
            long failedSends,
            double settleSeconds) {
        boolean ok() {
            return accounting.ok() && recoveries.stream().allMatch(SoakRecovery::recovered) && unplannedExits.isEmpty();
        }
    }

    private final Options options;
    private final PrintStream out;
    private final List<String> lineages = List.of("replay", "no-replay", "balanced");
    private final SoakServices services = new SoakServices();
    private final Map<String, Pattern> ready = new HashMap<>();
    private final List<String> unplannedExits = new ArrayList<>();
    private int s3Port;

    SoakRun(Options options, PrintStream out) {
        this.options = options;
        this.out = out;
    }

    Result run() throws Exception {
        Path work = options.workDir().toAbsolutePath();
        DirectoryTree.delete(work);
        Path logs = Files.createDirectories(work.resolve("logs"));
        Path s3 = Files.createDirectories(work.resolve("s3"));
        Path bucket = Files.createDirectories(s3.resolve(BUCKET)); // the filesystem backend's bucket is a directory
        Path trainers = work.resolve("trainers");
        int brokerPort = EmbeddedKafka.freePort();
        s3Port = EmbeddedKafka.freePort();
        String bootstrap = "127.0.0.1:" + brokerPort;
        String endpoint = "http://127.0.0.1:" + s3Port;

        services.add("s3proxy", s3proxy(work, s3, endpoint), logs.resolve("s3proxy.log"));
        services.add(
                "broker",
                ChildJvm.service(
                        IPT,
                        768,
                        "broker",
                        "--port",
                        String.valueOf(brokerPort),
                        "--data-dir",
                        work.resolve("broker").toString()),
                logs.resolve("broker.log"));
        ready.put("broker", Pattern.compile("broker ready on"));
        Map<String, String> common = new HashMap<>();
        common.put("KAFKA_BOOTSTRAP_SERVERS", bootstrap);
        common.put("IPT_STATUS_PORT", "0");
        common.put("IPT_STOP_SECONDS", "20");
        common.put("AWS_ACCESS_KEY_ID", "ipt");
        common.put("AWS_SECRET_ACCESS_KEY", "ipt-secret");
        common.put("AWS_REGION", "us-east-1");
        common.put("IPT_CHECKPOINT_STORE", "s3://" + BUCKET + "/soak");
        common.put("IPT_S3_ENDPOINT", endpoint);
        Map<String, String> curation = new HashMap<>(common);
        curation.put("IPT_STATE_DIR", work.resolve("curation").toString());
        curation.put("IPT_DEDUP_HORIZON", options.dedupHorizon());
        curation.put("IPT_HELDOUT_NEW_DOMAIN_BYTES", "4096");
        services.add("curation", ChildJvm.service(IPT, 512, "curate").withEnv(curation), logs.resolve("curation.log"));
        Map<String, String> evaluator = new HashMap<>(common);
        evaluator.put("IPT_DATA_DIR", work.resolve("evaluator").toString());
        evaluator.put("IPT_HELDOUT_TOKENS_PER_DOMAIN", "4096");
        evaluator.put("IPT_RETAIN_LAST", String.valueOf(options.retainLast()));
        evaluator.put("IPT_RETAIN_CHAMPIONS", String.valueOf(options.retainChampions()));
        evaluator.put("IPT_RETAIN_FETCHED", String.valueOf(options.retainFetched()));
        services.add(
                "evaluator", ChildJvm.service(IPT, 768, "evaluate").withEnv(evaluator), logs.resolve("evaluator.log"));
        for (String lineage : lineages) {
            Map<String, String> env = new HashMap<>(common);
            env.put("IPT_LINEAGE", lineage);
            env.put("IPT_DATA_DIR", trainers.resolve(lineage).toString());
            env.put("IPT_CONTEXT_LENGTH", "64");
            env.put("IPT_D_MODEL", "64");
            env.put("IPT_LAYERS", "2");
            env.put("IPT_HEADS", "2");
            env.put("IPT_BATCH_SIZE", "8");
            env.put("IPT_STEPS_PER_ROUND", String.valueOf(options.stepsPerRound()));
            env.put("IPT_IDLE_FLUSH_SECONDS", "10");
            // Small reservoirs: they fill within minutes and then replace, so the replay store's size levels off.
            env.put("IPT_REPLAY_CAPACITY_MB", "2");
            env.putAll(LINEAGES.get(lineage));
            services.add(
                    "trainer-" + lineage,
                    ChildJvm.service(IPT, 768, "train").withEnv(env),
                    logs.resolve("trainer-" + lineage + ".log"));
        }

        System.setProperty("aws.accessKeyId", "ipt"); // the accounting reads documents.txt from the bucket
        System.setProperty("aws.secretAccessKey", "ipt-secret");
        try (services) {
            for (String name : services.names()) start(name);
            Map<String, Object> kafka = KafkaSettings.of(bootstrap);
            Map<String, List<Path>> disks = new LinkedHashMap<>();
            disks.put("checkpoint_store", List.of(s3));
            disks.put(
                    "trainer_checkpoint_cache",
                    lineages.stream()
                            .map(l -> trainers.resolve(l).resolve("checkpoints"))
                            .toList());
            disks.put(
                    "replay",
                    lineages.stream()
                            .map(l -> trainers.resolve(l).resolve("replay"))
                            .toList());
            disks.put("evaluator_data", List.of(work.resolve("evaluator")));
            disks.put("curation_state", List.of(work.resolve("curation")));
            disks.put("broker_data", List.of(work.resolve("broker")));
            Map<String, String> groups = new LinkedHashMap<>();
            groups.put("ipt-curation", Topics.RAW.name());
            lineages.forEach(l -> groups.put("ipt-trainer-" + l, Topics.CURATED.name()));
            groups.put("ipt-evaluator", Topics.CHECKPOINTS.name());
            long t0 = System.nanoTime();
            try (PipelineEvents events = new PipelineEvents(kafka);
                    SoakSampler sampler = new SoakSampler(
                            services,
                            disks,
                            groups,
                            kafka,
                            work.resolve("samples.csv"),
                            t0,
                            options.samplePeriod().toMillis())) {
                sampler.start();
                SteadyStream stream = new SteadyStream(
                        kafka,
                        List.of(SyntheticProse.load("en"), SyntheticProse.load("de"), SyntheticProse.load("fr")),
                        options.docsPerSecond(),
                        options.documentBytes());
                stream.start();
                double runSeconds = options.minutes() * 60;
                FaultInjector injector = new FaultInjector(
                        services,
                        this::start,
                        events,
                        lineages,
                        bucket.resolve("soak"),
                        trainers,
                        options.s3Outage(),
                        options.recoveryTimeout(),
                        t0);
                List<SoakRecovery> recoveries = new ArrayList<>();
                for (SoakFault fault : SoakFault.schedule(runSeconds, options.faults(), lineages)) {
                    watchUntil(t0 + (long) (fault.atSeconds() * 1e9));
                    out.printf("%7.1f s  %s%n", (System.nanoTime() - t0) / 1e9, fault.describe());
                    SoakRecovery r = injector.inject(fault);
                    out.printf(
                            "%7.1f s    %s%n",
                            (System.nanoTime() - t0) / 1e9,
                            r.recovered()
                                    ? String.format("recovered in %.1f s (%s)", r.seconds(), r.detail())
                                    : "NOT RECOVERED: " + r.detail());
                    recoveries.add(r);
                }
                watchUntil(t0 + (long) (runSeconds * 1e9));
                stream.close();
                out.printf(
                        "%7.1f s  stream stopped: %d sent, %d acknowledged, %d failed%n",
                        (System.nanoTime() - t0) / 1e9,
                        stream.sent(),
                        stream.acknowledged().size(),
                        stream.failed());
                long settling = System.nanoTime();
                boolean settled = settle(kafka, stream.acknowledged().size());
                double settleSeconds = (System.nanoTime() - settling) / 1e9;
                out.printf(
                        "%7.1f s  %s after %.0f s%n",
                        (System.nanoTime() - t0) / 1e9, settled ? "settled" : "NOT settled", settleSeconds);
                sampler.close();
                List<String> unstoppable = new ArrayList<>();
                for (String name : services.names()) {
                    if (name.equals("broker") || name.equals("s3proxy")) continue;
                    if (!services.stop(name, Duration.ofSeconds(30))) unstoppable.add(name);
                }
                unplannedExits.addAll(services.died());
                CheckpointStore store = CheckpointStore.of(
                        "s3://" + BUCKET + "/soak?endpoint=" + endpoint, work.resolve("accounting-cache"), Map.of());
                SoakAccounting.Result accounting = SoakAccounting.check(
                        kafka,
                        stream.acknowledged(),
                        lineages,
                        store,
                        new SoakAccounting.Retention(options.retainLast(), options.retainChampions()));
                return new Result(
                        accounting,
                        recoveries,
                        List.copyOf(unplannedExits),
                        unstoppable,
                        sampler.samples(),
                        sampler.columns(),
                        stream.acknowledged().size(),
                        stream.failed(),
                        settleSeconds);
            }
        }
    }

    private void start(String name) throws Exception {
        services.start(name, ready.get(name), Duration.ofMinutes(2));
        if (name.equals("s3proxy")) awaitPort(s3Port, Duration.ofMinutes(1));
    }

    /**
     * Waits until {@code deadlineNanos}; a service that exits by itself meanwhile is restarted, as Kubernetes would,
     * and counted as an unplanned exit.
     */
    private void watchUntil(long deadlineNanos) throws Exception {
        while (System.nanoTime() < deadlineNanos) {
            for (String dead : services.died()) {
                String name = dead.substring(0, dead.indexOf(' '));
                unplannedExits.add(dead);
                out.println("  unplanned exit: " + dead + "; restarting");
                services.kill(name);
                start(name);
            }
            Thread.sleep(Math.max(1, Math.min(1000, (deadlineNanos - System.nanoTime()) / 1_000_000)));
        }
    }

    /**
     * Waits until curation has put out every acknowledged document, every lineage committed every curated one and
     * the evaluator judged every checkpoint.
     */
    private boolean settle(Map<String, Object> kafka, int acknowledged) throws Exception {
        long deadline = System.nanoTime() + options.settleTimeout().toNanos();
        while (System.nanoTime() < deadline) {
            int outOfCuration = TopicRecords.all(kafka, Topics.HELDOUT.name()).size()
                    + TopicRecords.all(kafka, Topics.REJECTED.name()).size();
            int curated = TopicRecords.all(kafka, Topics.CURATED.name()).size();
            Map<String, Long> trained = new HashMap<>();
            int checkpoints = 0;
            for (var r : TopicRecords.all(kafka, Topics.CHECKPOINTS.name())) {
                CheckpointPublished c = Topics.CHECKPOINTS.value(r);
                trained.merge(c.getLineage(), c.getDocuments(), Long::sum);
                checkpoints++;
            }
            int judged = TopicRecords.all(kafka, Topics.EVALUATIONS.name()).size();
            boolean done = outOfCuration + curated >= acknowledged
                    && lineages.stream().allMatch(l -> trained.getOrDefault(l, 0L) >= curated)
                    && judged >= checkpoints;
            if (done) return true;
            watchUntil(System.nanoTime() + 5_000_000_000L);
        }
        return false;
    }

    private static ChildJvm s3proxy(Path work, Path basedir, String endpoint) throws IOException {
        Path conf = work.resolve("s3proxy.conf");
        Files.writeString(
                conf,
                String.join(
                        "\n",
                        "s3proxy.endpoint=" + endpoint,
                        "s3proxy.authorization=aws-v2-or-v4",
                        "s3proxy.identity=ipt",
                        "s3proxy.credential=ipt-secret",
                        "jclouds.provider=filesystem",
                        "jclouds.filesystem.basedir=" + basedir,
                        "jclouds.identity=ipt",
                        "jclouds.credential=ipt-secret",
                        ""));
        return new ChildJvm(
                s3proxyJar().toString(),
                List.of("-Xmx256m"),
                "org.gaul.s3proxy.Main",
                List.of("--properties", conf.toString()),
                Map.of());
    }

    /** S3Proxy's jar-with-dependencies, which bench's build copies to target/s3proxy/ beside the bench jar. */
    static Path s3proxyJar() {
        try {
            Path here = Path.of(SoakRun.class
                    .getProtectionDomain()
                    .getCodeSource()
                    .getLocation()
                    .toURI());
            Path jar = here.getParent().resolve("s3proxy").resolve("s3proxy.jar");
            if (!Files.exists(jar)) throw new IllegalStateException(jar + " is missing: build bench first");
            return jar;
        } catch (java.net.URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void awaitPort(int port, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress("127.0.0.1", port), 500);
                return;
            } catch (IOException notYet) {
                if (System.nanoTime() > deadline) throw new IllegalStateException("S3Proxy not listening on " + port);
                Thread.sleep(100);
            }
        }
    }
}
