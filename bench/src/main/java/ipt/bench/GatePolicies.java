package ipt.bench;

import ipt.evaluator.GatePolicy;
import ipt.evaluator.GateReplay;
import ipt.evaluator.GateRules;
import ipt.runtime.KafkaSettings;
import ipt.runtime.TopicReader;
import ipt.schemas.CheckpointPublished;
import ipt.schemas.EvaluationReport;
import ipt.schemas.Topics;
import ipt.testsupport.EmbeddedKafka;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerRecord;

/**
 * bench/run GatePolicies WORK_DIR: the candidates of a finished `ipt demo` (its broker and checkpoints under
 * WORK_DIR) replayed through the old and the new gate policies (GateReplay), candidate by candidate and summed up.
 */
public final class GatePolicies {
    private GatePolicies() {}

    public static void main(String[] args) throws Exception {
        Path work = Path.of(args[0]).toAbsolutePath();
        List<CheckpointPublished> events = new ArrayList<>();
        List<EvaluationReport> reports = new ArrayList<>();
        int port;
        try (java.net.ServerSocket socket = new java.net.ServerSocket(0)) {
            port = socket.getLocalPort();
        }
        try (EmbeddedKafka kafka = EmbeddedKafka.start(work.resolve("kafka"), port, false)) {
            for (ConsumerRecord<String, byte[]> r : TopicReader.readAll(
                    KafkaSettings.of(kafka.bootstrapServers()), Topics.CHECKPOINTS.name(), Topics.EVALUATIONS.name())) {
                if (Topics.CHECKPOINTS.holds(r)) events.add(Topics.CHECKPOINTS.value(r));
                else reports.add(Topics.EVALUATIONS.value(r));
            }
        }
        GateReplay replay =
                GateReplay.score(events, reports, work.resolve("evaluator").resolve("snapshots"));
        Map<String, GatePolicy> policies = new LinkedHashMap<>();
        policies.put("rules 2% (old default)", GatePolicy.rules(GateRules.defaults(0.02), null));
        policies.put("rules 10% (old demo)", GatePolicy.rules(GateRules.defaults(0.10), null));
        // Labels name cap/average/best in percent; each policy sets all three, so a label means the same whatever the
        // defaults are.
        policies.put("stream 10/0/5 (default)", GatePolicy.stream(0.10).withBestBound(0.05));
        policies.put("stream 10/0/10", GatePolicy.stream(0.10).withBestBound(0.10));
        policies.put("stream 5/0/10", GatePolicy.stream(0.05).withBestBound(0.10));
        policies.put("stream 15/0/15", GatePolicy.stream(0.15).withBestBound(0.15));
        policies.put("stream 10/0/off", GatePolicy.stream(0.10).withBestBound(null));
        policies.put(
                "stream 10/+1/10", GatePolicy.stream(0.10).withBestBound(0.10).withAverageBudget(0.01));
        policies.put(
                "stream 10/-1/10", GatePolicy.stream(0.10).withBestBound(0.10).withAverageBudget(-0.01));
        for (String lineage : replay.lineages()) replay.printCandidates(System.out, lineage, policies);
        replay.printSummary(System.out, policies);
    }
}
