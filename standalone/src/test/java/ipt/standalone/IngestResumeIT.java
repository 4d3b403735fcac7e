package ipt.standalone;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.prometheus.metrics.model.registry.PrometheusRegistry;
import ipt.ingest.CurationConfig;
import ipt.ingest.CurationService;
import ipt.ingest.IngestApi;
import ipt.ingest.IngestApiConfig;
import ipt.runtime.KafkaSettings;
import ipt.schemas.Topics;
import ipt.testsupport.EmbeddedKafka;
import ipt.testsupport.SyntheticProse;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.zip.GZIPOutputStream;
import org.apache.kafka.clients.admin.Admin;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@code ipt ingest} as a separate process, killed with SIGKILL at random moments and run again until it
 * finishes: every document ends up in curated or held-out output exactly once, and the re-runs resumed from
 * the journal instead of starting over.
 */
class IngestResumeIT {
    private static final int FILES = 4;
    private static final int PER_FILE = 4000;

    @TempDir
    Path work;

    @ParameterizedTest(name = "ipt ingest to {0}")
    @ValueSource(strings = {"kafka", "http"})
    void killedAndRerunIngestDeliversEveryDocumentExactlyOnce(String target) throws Exception {
        Path corpus = Files.createDirectories(work.resolve("corpus"));
        List<SyntheticProse.Doc> docs = SyntheticProse.load().documents("resume", FILES * PER_FILE, 1000, 7);
        for (int f = 0; f < FILES; f++) {
            Path file = corpus.resolve("part-" + f + (f == FILES - 1 ? ".jsonl.gz" : ".jsonl"));
            try (OutputStream raw = Files.newOutputStream(file);
                    OutputStream out = f == FILES - 1 ? new GZIPOutputStream(raw) : raw) {
                for (SyntheticProse.Doc d : docs.subList(f * PER_FILE, (f + 1) * PER_FILE)) {
                    out.write(d.json());
                    out.write('\n');
                }
            }
        }
        try (EmbeddedKafka broker = EmbeddedKafka.start()) {
            Map<String, Object> kafka = KafkaSettings.of(broker.bootstrapServers());
            try (Admin admin = Admin.create(kafka)) {
                Topics.ensure(admin, Topics.specs(3), (short) 1);
            }
            try (CurationService curation = CurationService.start(
                            kafka, CurationConfig.defaults(), work.resolve("streams"), new PrometheusRegistry());
                    IngestApi api = IngestApi.start(
                            IngestApiConfig.of("127.0.0.1", 0, "resume-token"),
                            kafka,
                            CurationConfig.defaults(),
                            new PrometheusRegistry())) {
                Path journal = work.resolve("ingest.journal");
                SplittableRandom random = new SplittableRandom(42);
                List<String> runs = new ArrayList<>();
                String finalOutput = null;
                int kills = 0;
                int midRunKills = 0;
                for (int attempt = 0; attempt < 12 && finalOutput == null; attempt++) {
                    List<String> args = new ArrayList<>(List.of(
                            Path.of(System.getProperty("java.home"), "bin", "java")
                                    .toString(),
                            "-cp",
                            System.getProperty("java.class.path"),
                            Ipt.class.getName(),
                            "ingest",
                            "--domain",
                            "en",
                            "--no-progress",
                            "--journal",
                            journal.toString(),
                            corpus.toString()));
                    if (target.equals("http"))
                        args.addAll(List.of("--http", api.url().toString(), "--batch", "100"));
                    ProcessBuilder command = new ProcessBuilder(args)
                            .redirectErrorStream(true)
                            .redirectOutput(
                                    work.resolve("ingest-" + attempt + ".log").toFile());
                    command.environment().put("KAFKA_BOOTSTRAP_SERVERS", broker.bootstrapServers());
                    command.environment().put("IPT_INGEST_TOKEN", "resume-token");
                    Process ingest = command.start();
                    // Runs are killed a little further on (a random stretch of up to a tenth of a file: ingest to the
                    // broker can acknowledge a whole file between two looks at the journal) until two kills landed
                    // mid-run; the next run goes to the end.
                    boolean kill = midRunKills < 2 && attempt < 8;
                    long killAt = kill ? ackedLines(journal) + random.nextInt(1, PER_FILE / 10) : Long.MAX_VALUE;
                    awaitJournal(journal, killAt, ingest);
                    if (ingest.isAlive() && kill) {
                        ingest.destroyForcibly();
                        ingest.waitFor();
                        kills++;
                        if (ackedLines(journal) < docs.size()) midRunKills++;
                        runs.add("SIGKILL (exit " + ingest.exitValue() + ") with " + ackedLines(journal) + " of "
                                + docs.size() + " lines noted");
                    } else {
                        assertTrue(ingest.waitFor(5, TimeUnit.MINUTES), "ingest finished");
                        String log = Files.readString(work.resolve("ingest-" + attempt + ".log"));
                        assertEquals(0, ingest.exitValue(), log);
                        finalOutput = log.strip();
                        runs.add("completed: " + finalOutput);
                    }
                }
                System.out.println("ingest runs (" + target + "):\n  " + String.join("\n  ", runs));
                assertTrue(
                        kills >= 2
                                && finalOutput != null
                                && finalOutput.contains("already acknowledged in an earlier run"),
                        runs.toString());
                long resumed = Long.parseLong(finalOutput.replaceAll(".*, (\\d+) lines already acknowledged.*", "$1"));
                // A kill can land after the last line was acknowledged (the process still closing): two must not.
                assertTrue(
                        midRunKills >= 2 && resumed > 0,
                        "killed mid-run, and the final run resumed where they left off: " + runs);

                CurationOutput output = CurationOutput.read(kafka, Duration.ofMinutes(3));
                List<String> ids = docs.stream().map(SyntheticProse.Doc::id).toList();
                List<String> wrong = output.notExactlyOnce(ids);
                assertEquals(
                        List.of(),
                        wrong.subList(0, Math.min(10, wrong.size())),
                        wrong.size() + " documents not accounted for exactly once");
                assertTrue(
                        output.kept().size() > ids.size() * 0.95,
                        "nearly all of this real prose passes curation: "
                                + output.kept().size());
                System.out.println(ids.size() + " documents: " + output.kept().size()
                        + " in curated/held-out exactly once, the rest refused" + " for their content; rejections: "
                        + output.rejectionsByReason());
            }
        }
    }

    /** Waits until the journal notes {@code lines} acknowledged lines in all, or the child exits. */
    private static void awaitJournal(Path journal, long lines, Process ingest) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
        while (ackedLines(journal) < lines && ingest.isAlive() && System.nanoTime() < deadline) Thread.sleep(10);
    }

    private static long ackedLines(Path journal) throws IOException {
        if (!Files.exists(journal)) return 0;
        Map<String, Long> latest = new HashMap<>();
        for (String line : Files.readAllLines(journal, StandardCharsets.UTF_8)) {
            String[] parts = line.split("\t", 4);
            if (parts.length == 4) latest.put(parts[3], Long.parseLong(parts[0]));
        }
        return latest.values().stream().mapToLong(Long::longValue).sum();
    }
}
