package ipt.standalone;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ipt.runtime.DirectoryTree;
import ipt.runtime.KafkaSettings;
import ipt.schemas.AvroSerde;
import ipt.schemas.CheckpointPublished;
import ipt.schemas.Document;
import ipt.schemas.EvaluationReport;
import ipt.schemas.Topics;
import ipt.testsupport.ChildJvm;
import ipt.testsupport.EmbeddedKafka;
import ipt.testsupport.SyntheticProse;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;

/**
 * `ipt train` as a child process, sent SIGTERM (Process.destroy) ten steps into its second round: it abandons the
 * round at the next step, exits 0 within IPT_STOP_SECONDS, and a restarted trainer trains every curated document as new
 * data exactly once (counted from the committed checkpoints, as TrainerCrashIT counts). The same for the evaluator,
 * stopped mid-decision.
 */
class GracefulStopIT {
    private static final int DOCUMENTS = 900;
    private static final int STOP_SECONDS = 10;
    private static final int STEPS_PER_ROUND = 300;
    private static final int TASKS = 10;
    private static final int TASK_BYTES = 256 * 1024;
    private static final AvroSerde<Document> DOCUMENT = AvroSerde.of(Document.class);

    private final Path work = Path.of("target", "graceful-stop-it").toAbsolutePath();

    @Test
    void aTrainerAskedToStopMidRoundExitsZeroInTimeAndItsSuccessorLosesAndRepeatsNothing() throws Exception {
        DirectoryTree.delete(work);
        Files.createDirectories(work);
        List<SyntheticProse.Doc> docs = SyntheticProse.load().documents("graceful", DOCUMENTS, 300, 7);
        try (EmbeddedKafka broker = EmbeddedKafka.start()) {
            Map<String, Object> kafka = KafkaSettings.of(broker.bootstrapServers());
            try (Admin admin = Admin.create(kafka)) {
                Topics.ensure(admin, Topics.specs(Topics.DEFAULT_DOCUMENT_PARTITIONS), (short) 1);
            }
            publish(kafka, docs);
            Path data = work.resolve("data");

            Path firstLog = work.resolve("first.log");
            Process first = trainer(data, firstLog, broker);
            // Ten steps into round v2 (v1 took STEPS_PER_ROUND): well before its last step.
            awaitSteps(firstLog, first, STEPS_PER_ROUND + 10);
            Stopped stopped = terminate(first, firstLog, "round abandoned before step");
            double took = stopped.seconds();
            String abandoned = stopped.abandoned();
            int committedBefore = TrainerCrashIT.committed(kafka, "graceful").size();
            System.out.printf(
                    "SIGTERM: exit 0 in %.2f s with v1..v%d committed; %s%n",
                    took, committedBefore, abandoned.replaceAll(".*stopped: ", ""));

            Path secondLog = work.resolve("second.log");
            Process second = trainer(data, secondLog, broker);
            long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
            while (TrainerCrashIT.committed(kafka, "graceful").values().stream()
                            .mapToLong(CheckpointPublished::getDocuments)
                            .sum()
                    < DOCUMENTS) {
                assertTrue(second.isAlive() && System.nanoTime() < deadline, "not all documents committed in time");
                Thread.sleep(500);
            }
            second.destroy();
            assertTrue(second.waitFor(STOP_SECONDS + 5, TimeUnit.SECONDS));
            assertEquals(0, second.exitValue(), Files.readString(secondLog));

            Map<Long, CheckpointPublished> committed = TrainerCrashIT.committed(kafka, "graceful");
            List<String> trained = new ArrayList<>();
            for (CheckpointPublished c : committed.values()) {
                Files.readAllLines(Path.of(c.getLocation()).resolve("documents.txt"), StandardCharsets.UTF_8).stream()
                        .filter(s -> !s.isEmpty())
                        .forEach(trained::add);
            }
            List<String> topic = docs.stream().map(SyntheticProse.Doc::id).toList();
            assertEquals(topic.size(), trained.size(), "documents trained on as new data");
            assertEquals(new HashSet<>(topic), new HashSet<>(trained), "every curated document, each once");
            System.out.printf(
                    "%d documents trained once each over %d committed rounds (v%d resumed after the stop)%n",
                    trained.size(), committed.size(), committedBefore + 1);
        }
    }

    /** Waits until the trainer's /metrics counts {@code steps} optimizer steps. */
    private static void awaitSteps(Path log, Process trainer, int steps) throws Exception {
        TrainerCrashIT.awaitLog(log, "running; /metrics", trainer);
        String port = TrainerCrashIT.lastLine(log, "running; /metrics").replaceAll(".*:(\\d+)\\s*$", "$1");
        HttpClient http = HttpClient.newHttpClient();
        HttpRequest metrics = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/metrics"))
                .build();
        Pattern counted = Pattern.compile("(?m)^ipt_trainer_steps_total\\{[^}]*\\} (\\S+)$");
        long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
        while (true) {
            Matcher m = counted.matcher(
                    http.send(metrics, HttpResponse.BodyHandlers.ofString()).body());
            if (m.find() && Double.parseDouble(m.group(1)) >= steps) return;
            assertTrue(
                    trainer.isAlive() && System.nanoTime() < deadline,
                    "no step " + steps + ":\n" + Files.readString(log));
            Thread.sleep(20);
        }
    }

    private static void publish(Map<String, Object> kafka, List<SyntheticProse.Doc> docs) {
        try (KafkaProducer<String, byte[]> producer =
                new KafkaProducer<>(kafka, new StringSerializer(), new ByteArraySerializer())) {
            for (SyntheticProse.Doc d : docs) {
                Document doc = document(d, d.domain());
                producer.send(new ProducerRecord<>(Topics.CURATED.name(), d.id(), DOCUMENT.encode(doc)));
            }
            producer.flush();
        }
    }

    private static Process trainer(Path data, Path log, EmbeddedKafka broker) throws Exception {
        Map<String, String> env = new HashMap<>();
        env.put("KAFKA_BOOTSTRAP_SERVERS", broker.bootstrapServers());
        env.put("IPT_STATUS_PORT", "0");
        env.put("IPT_STOP_SECONDS", String.valueOf(STOP_SECONDS));
        env.put("IPT_LINEAGE", "graceful");
        env.put("IPT_DATA_DIR", data.toString());
        env.put("IPT_CONTEXT_LENGTH", "32");
        env.put("IPT_D_MODEL", "32");
        env.put("IPT_LAYERS", "1");
        env.put("IPT_HEADS", "2");
        // Rounds of a few seconds: a SIGTERM ten steps into one lands well before its last step.
        env.put("IPT_STEPS_PER_ROUND", String.valueOf(STEPS_PER_ROUND));
        env.put("IPT_BATCH_SIZE", "8");
        // No evaluator runs: a round does not wait for reports on the last one.
        env.put("IPT_EVALUATION_WAIT_SECONDS", "0");
        env.put("IPT_IDLE_FLUSH_SECONDS", "2");
        return ChildJvm.service(Ipt.class.getName(), 1024, "train").withEnv(env).start(log);
    }

    /**
     * `ipt evaluate` as a child process, sent SIGTERM as it starts judging a checkpoint on ten held-out tasks of
     * 256 KB: it abandons the decision before the next task, exits 0 within IPT_STOP_SECONDS having published nothing
     * for it, and a restarted evaluator judges the checkpoint exactly once.
     */
    @Test
    void anEvaluatorAskedToStopMidDecisionExitsZeroInTimeAndItsSuccessorJudgesTheCheckpointOnce() throws Exception {
        Path dir = work.resolve("evaluator-stop");
        DirectoryTree.delete(dir);
        Files.createDirectories(dir);
        try (EmbeddedKafka broker = EmbeddedKafka.start()) {
            Map<String, Object> kafka = KafkaSettings.of(broker.bootstrapServers());
            try (Admin admin = Admin.create(kafka)) {
                Topics.ensure(admin, Topics.specs(Topics.DEFAULT_DOCUMENT_PARTITIONS), (short) 1);
            }
            try (KafkaProducer<String, byte[]> producer =
                    new KafkaProducer<>(kafka, new StringSerializer(), new ByteArraySerializer())) {
                for (int domain = 0; domain < TASKS; domain++) {
                    for (SyntheticProse.Doc d :
                            SyntheticProse.load().documents("held" + domain, TASK_BYTES / 250, 300, 20 + domain)) {
                        Document doc = document(d, "d" + domain);
                        producer.send(new ProducerRecord<>(Topics.HELDOUT.name(), d.id(), DOCUMENT.encode(doc)));
                    }
                }
                producer.flush();
            }
            publish(kafka, SyntheticProse.load().documents("graceful", 200, 300, 9));
            Path data = dir.resolve("trainer");
            Process trainer = trainer(data, dir.resolve("trainer.log"), broker);
            long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
            while (TrainerCrashIT.committed(kafka, "graceful").isEmpty()) {
                assertTrue(trainer.isAlive() && System.nanoTime() < deadline, "the trainer committed no checkpoint");
                Thread.sleep(200);
            }
            trainer.destroy();
            assertTrue(trainer.waitFor(STOP_SECONDS + 5, TimeUnit.SECONDS));
            Map<Long, CheckpointPublished> checkpoints = TrainerCrashIT.committed(kafka, "graceful");

            Map<String, String> env = new HashMap<>();
            env.put("KAFKA_BOOTSTRAP_SERVERS", broker.bootstrapServers());
            env.put("IPT_STATUS_PORT", "0");
            env.put("IPT_STOP_SECONDS", String.valueOf(STOP_SECONDS));
            env.put("IPT_DATA_DIR", dir.resolve("evaluator").toString());
            env.put("IPT_CHECKPOINT_STORE", data.resolve("checkpoints").toString());
            env.put("IPT_HELDOUT_TOKENS_PER_DOMAIN", String.valueOf(TASK_BYTES));
            ChildJvm evaluator =
                    ChildJvm.service(Ipt.class.getName(), 1024, "evaluate").withEnv(env);
            Path firstLog = dir.resolve("evaluator-first.log");
            Process first = evaluator.start(firstLog);
            // A decision here takes several seconds (ten tasks of 256 KB; the first second opens and verifies the
            // checkpoint): a SIGTERM sent as it starts lands before it ends, between two of its steps.
            TrainerCrashIT.awaitLog(firstLog, "judging on \\d+ tasks", first);
            Stopped stopped = terminate(first, firstLog, "decision abandoned before task");
            double took = stopped.seconds();
            String abandoned = stopped.abandoned();
            assertEquals(List.of(), reports(kafka), "nothing published for the abandoned decision");
            System.out.printf(
                    "SIGTERM: evaluator exit 0 in %.2f s; %s%n", took, abandoned.replaceAll(".*stopped: ", ""));

            Path secondLog = dir.resolve("evaluator-second.log");
            Process second = evaluator.start(secondLog);
            deadline = System.nanoTime() + Duration.ofMinutes(3).toNanos();
            while (reports(kafka).size() < checkpoints.size()) {
                assertTrue(second.isAlive() && System.nanoTime() < deadline, Files.readString(secondLog));
                Thread.sleep(500);
            }
            second.destroy();
            assertTrue(second.waitFor(STOP_SECONDS + 5, TimeUnit.SECONDS));
            assertEquals(0, second.exitValue(), Files.readString(secondLog));
            List<Long> judged = reports(kafka).stream()
                    .map(EvaluationReport::getCandidateVersion)
                    .sorted()
                    .toList();
            assertEquals(List.copyOf(checkpoints.keySet()), judged, "every checkpoint judged exactly once");
        }
    }

    /** How long a service took to exit after SIGTERM, and its log line saying what work it abandoned. */
    private record Stopped(double seconds, String abandoned) {}

    /**
     * Sends SIGTERM and checks that the service exits 0 within IPT_STOP_SECONDS having logged {@code abandonedLine}
     * (the stop landed mid-work).
     */
    private static Stopped terminate(Process service, Path log, String abandonedLine) throws Exception {
        long asked = System.nanoTime();
        service.destroy(); // SIGTERM
        assertTrue(service.waitFor(STOP_SECONDS + 5, TimeUnit.SECONDS), "still running after SIGTERM");
        double took = (System.nanoTime() - asked) / 1e9;
        String output = Files.readString(log);
        assertEquals(0, service.exitValue(), "exit status after SIGTERM:\n" + output);
        assertTrue(took < STOP_SECONDS, "stopped in " + took + " s, beyond IPT_STOP_SECONDS=" + STOP_SECONDS);
        String abandoned = TrainerCrashIT.lastLine(log, abandonedLine);
        assertTrue(!abandoned.isEmpty(), "SIGTERM landed mid-work (" + abandonedLine + "):\n" + output);
        return new Stopped(took, abandoned);
    }

    private static List<EvaluationReport> reports(Map<String, Object> kafka) {
        return PipelineIT.read(kafka, Topics.EVALUATIONS.name()).stream()
                .map(AvroSerde.of(EvaluationReport.class)::decode)
                .toList();
    }

    private static Document document(SyntheticProse.Doc d, String domain) {
        return Document.newBuilder()
                .setId(d.id())
                .setDomain(domain)
                .setText(d.text())
                .setSource("graceful-it")
                .setIngestTime(Instant.EPOCH)
                .setMetadata(Map.of())
                .build();
    }
}
