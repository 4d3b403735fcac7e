package ipt.bench;

import ipt.testsupport.DemoCorpus;
import ipt.testsupport.EmbeddedKafka;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import ipt.evaluator.EvaluatorConfig;
import ipt.evaluator.EvaluatorService;
import ipt.runtime.KafkaSettings;
import ipt.runtime.TopicReader;
import ipt.schemas.Topic;
import ipt.schemas.Topics;
import ipt.schemas.Document;
import ipt.schemas.EvaluationReport;
import ipt.schemas.TaskResult;
import ipt.trainer.TrainerService;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * The 0% and 25% replay arms through the whole service path: the documents the offline run trained on go to an
 * embedded Kafka broker (held-out text to the held-out topic, training text to the curated topic, in the same
 * order), two trainer services train them in rounds of one phase each, and the evaluator judges each lineage's
 * phase-2 checkpoint against its phase-1 champion with the default gate (IPT_REGRESSION_BUDGET 0.02).
 */
final class ServiceArms {
  /** Rounds are cut only when full: a phase is one round, as in the offline run. */
  static final int NEVER_FLUSH_SECONDS = 86_400;
  static final double[] REPLAY = {0, 0.25};
  /** The service's seed: TrainConfig's default, which the trainer's environment does not change. */
  static final long SEED = 1234;

  /** The evaluator's reports on one lineage's phase-1 and phase-2 checkpoints. */
  record Judged(String lineage, double replay, double phase1A, double phase1B, double a, double b, String decision, String rule,
      String reason) {}

  record Outcome(List<Judged> lineages, boolean heldOutIdentical, double minutes) {}

  private ServiceArms() {}

  static Outcome run(Path dir, ContinualPretraining.Corpus corpus, List<DemoCorpus.Text> phase1Texts, List<DemoCorpus.Text> phase2Texts,
      int steps) throws Exception {
    long started = System.nanoTime();
    Files.createDirectories(dir);
    try (EmbeddedKafka kafka = EmbeddedKafka.start()) {
      Map<String, Object> props = KafkaSettings.of(kafka.bootstrapServers());
      try (Admin admin = Admin.create(props)) {
        Topics.ensure(admin, Topics.specs(1), (short) 1);
      }
      List<TrainerService> trainers = new ArrayList<>();
      for (double r : REPLAY) {
        trainers.add(TrainerService.start(props, ContinualPretraining.config(lineage(r), dir, r, steps, SEED), new PrometheusRegistry()));
      }
      EvaluatorConfig evaluatorConfig = EvaluatorConfig.fromEnv(Map.of("IPT_DATA_DIR", dir.toString(),
          "IPT_HELDOUT_TOKENS_PER_DOMAIN", String.valueOf(ContinualPretraining.HELD_OUT_TOKENS)));
      EvaluatorService evaluator = EvaluatorService.start(props, evaluatorConfig, new PrometheusRegistry());
      try {
        produce(props, corpus, phase1Texts, phase2Texts);
        List<Judged> judged = await(props, trainers, evaluator, Duration.ofMinutes(40));
        return new Outcome(judged, heldOutIdentical(evaluatorConfig.snapshots(), corpus), (System.nanoTime() - started) / 60e9);
      } finally {
        evaluator.close();
        for (TrainerService t : trainers) t.close();
      }
    }
  }

  static String lineage(double replay) {
    return "service-replay-" + Math.round(replay * 100);
  }

  /** Held-out text first, so both domains are tasks before the first checkpoint; one key keeps the order. */
  private static void produce(Map<String, Object> kafka, ContinualPretraining.Corpus corpus, List<DemoCorpus.Text> phase1,
      List<DemoCorpus.Text> phase2) throws Exception {
    Map<String, Object> props = new HashMap<>(kafka);
    props.put("key.serializer", StringSerializer.class);
    props.put("value.serializer", ByteArraySerializer.class);
    try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(props)) {
      int i = 0;
      for (String text : corpus.heldOutA()) producer.send(record(Topics.HELDOUT, "heldout-" + i++, ContinualPretraining.A, text));
      for (String text : corpus.heldOutB()) producer.send(record(Topics.HELDOUT, "heldout-" + i++, ContinualPretraining.B, text));
      for (DemoCorpus.Text t : phase1) producer.send(record(Topics.CURATED, t.id(), t.domain(), t.text()));
      for (DemoCorpus.Text t : phase2) producer.send(record(Topics.CURATED, t.id(), t.domain(), t.text()));
      producer.flush();
    }
  }

  private static ProducerRecord<String, byte[]> record(Topic<String, Document> topic, String id, String domain, String text) {
    Document d = Document.newBuilder().setId(id).setDomain(domain).setText(text).setSource("experiment").setIngestTime(Instant.now()).build();
    return topic.record("experiment", d);
  }

  /** Waits for the evaluator's report on every lineage's second checkpoint. */
  private static List<Judged> await(Map<String, Object> kafka, List<TrainerService> trainers, EvaluatorService evaluator, Duration timeout)
      throws Exception {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      for (TrainerService t : trainers) if (!t.health().ok()) throw new IllegalStateException("trainer failed: " + t.health().detail());
      if (!evaluator.health().ok()) throw new IllegalStateException("evaluator failed: " + evaluator.health().detail());
      Map<String, Map<Long, EvaluationReport>> byLineage = new HashMap<>();
      for (ConsumerRecord<String, byte[]> r : TopicReader.readAll(kafka, Topics.EVALUATIONS.name())) {
        EvaluationReport e = Topics.EVALUATIONS.value(r);
        byLineage.computeIfAbsent(e.getLineage(), k -> new HashMap<>()).put(e.getCandidateVersion(), e);
      }
      List<Judged> judged = new ArrayList<>();
      for (double r : REPLAY) {
        Map<Long, EvaluationReport> versions = byLineage.getOrDefault(lineage(r), Map.of());
        if (versions.containsKey(1L) && versions.containsKey(2L)) judged.add(judged(lineage(r), r, versions.get(1L), versions.get(2L)));
      }
      if (judged.size() == REPLAY.length) return judged;
      if (System.nanoTime() > deadline) throw new IllegalStateException("no evaluation of both lineages' phase-2 checkpoints within " + timeout);
      Thread.sleep(2000);
    }
  }

  private static Judged judged(String lineage, double replay, EvaluationReport phase1, EvaluationReport phase2) {
    return new Judged(lineage, replay, loss(phase1, ContinualPretraining.A), loss(phase1, ContinualPretraining.B),
        loss(phase2, ContinualPretraining.A), loss(phase2, ContinualPretraining.B), phase2.getDecision().toString(),
        phase2.getDecidingRule(), phase2.getReason());
  }

  private static double loss(EvaluationReport report, String domain) {
    Optional<TaskResult> task = report.getTasks().stream()
        .filter(t -> t.getTask().equals("heldout/" + domain) && t.getMetric().equals("loss")).findFirst();
    return task.orElseThrow(() -> new IllegalStateException("v" + report.getCandidateVersion() + " of " + report.getLineage()
        + " was not scored on heldout/" + domain)).getCandidate();
  }

  /** Whether the evaluator froze exactly the held-out text the offline run scores on. */
  @SuppressWarnings("unchecked")
  private static boolean heldOutIdentical(Path snapshots, ContinualPretraining.Corpus corpus) throws Exception {
    Path latest;
    try (Stream<Path> files = Files.list(snapshots)) {
      latest = files.filter(f -> f.getFileName().toString().matches("snapshot-\\d{6}\\.json")).sorted().reduce((x, y) -> y).orElseThrow();
    }
    Map<String, Object> json = new ObjectMapper().readValue(latest.toFile(), Map.class);
    Map<String, List<String>> domains = (Map<String, List<String>>) json.get("domains");
    return corpus.heldOutA().equals(domains.get(ContinualPretraining.A)) && corpus.heldOutB().equals(domains.get(ContinualPretraining.B));
  }
}
