package ipt.bench;

import ipt.checkpoints.CheckpointStore;
import ipt.evaluator.ServedFreshness;
import ipt.schemas.CheckpointPublished;
import ipt.schemas.Decision;
import ipt.schemas.EvaluationReport;
import ipt.schemas.PartitionOffset;
import ipt.schemas.Promotion;
import ipt.schemas.Topics;
import ipt.standalone.FreshnessFigures;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.apache.kafka.clients.consumer.ConsumerRecord;

/**
 * The soak's exact accounting, from the topics (read_committed) once every service stopped:
 *
 * <ul>
 *   <li>every acknowledged document came out of curation exactly once (curated, held out or rejected);
 *   <li>per lineage, the committed checkpoints are v1..vN, each once; their offsets only move forward and each one's
 *       document count is the number of curated records between its offsets and the previous one's, so every curated
 *       record is trained on as new data exactly once; the checkpoints the store still holds list exactly those
 *       documents (documents.txt);
 *   <li>every committed checkpoint is judged exactly once on ipt.evaluations, and nothing else is judged;
 *   <li>every promotion names a checkpoint the gate decided to promote;
 *   <li>retention kept each lineage's store within its bound (newest n + n most recent champions), and kept the newest
 *       n and the champion.
 * </ul>
 *
 * <p>And, not a check, each lineage's freshness over the run as the evaluator observed it (README, "Freshness").
 */
final class SoakAccounting {
    /** What was counted, and what did not add up (empty when everything did). */
    record Result(List<String> lines, List<String> failures) {
        boolean ok() {
            return failures.isEmpty();
        }
    }

    private record Curated(int partition, long offset, String id) {}

    private final List<String> lines = new ArrayList<>();
    private final List<String> failures = new ArrayList<>();

    private SoakAccounting() {}

    /** The evaluator's retention settings (IPT_RETAIN_LAST, IPT_RETAIN_CHAMPIONS). */
    record Retention(int last, int champions) {}

    static Result check(
            Map<String, Object> kafka,
            Set<String> acknowledged,
            List<String> lineages,
            CheckpointStore store,
            Retention retention)
            throws Exception {
        SoakAccounting a = new SoakAccounting();
        List<Curated> curated = a.curation(kafka, acknowledged);
        Map<String, Map<Long, CheckpointPublished>> checkpoints = new HashMap<>();
        for (String lineage : lineages) checkpoints.put(lineage, a.lineage(kafka, lineage, curated, store));
        Set<String> blessed = a.evaluations(kafka, checkpoints);
        Map<String, Long> champions = a.promotions(kafka, blessed);
        a.retention(lineages, checkpoints, champions, store, retention);
        a.freshness(kafka, lineages);
        return new Result(List.copyOf(a.lines), List.copyOf(a.failures));
    }

    private void fail(String what) {
        failures.add(what);
    }

    private List<Curated> curation(Map<String, Object> kafka, Set<String> acknowledged) {
        List<Curated> curated = new ArrayList<>();
        Map<String, Integer> outputs = new HashMap<>();
        for (ConsumerRecord<String, byte[]> r : TopicRecords.all(kafka, Topics.CURATED.name())) {
            String id = Topics.CURATED.value(r).getId();
            curated.add(new Curated(r.partition(), r.offset(), id));
            outputs.merge(id, 1, Integer::sum);
        }
        int heldOut = 0;
        for (ConsumerRecord<String, byte[]> r : TopicRecords.all(kafka, Topics.HELDOUT.name())) {
            outputs.merge(Topics.HELDOUT.value(r).getId(), 1, Integer::sum);
            heldOut++;
        }
        int rejected = 0;
        for (ConsumerRecord<String, byte[]> r : TopicRecords.all(kafka, Topics.REJECTED.name())) {
            String id = Topics.REJECTED.value(r).getDocumentId();
            outputs.merge(id == null ? "?" : id, 1, Integer::sum);
            rejected++;
        }
        long lost = acknowledged.stream().filter(id -> !outputs.containsKey(id)).count();
        long twice = outputs.values().stream().filter(n -> n > 1).count();
        lines.add(String.format(
                "curation: %d acknowledged -> %d curated + %d held out + %d rejected; %d lost, %d out twice",
                acknowledged.size(), curated.size(), heldOut, rejected, lost, twice));
        if (lost > 0) fail(lost + " acknowledged documents never came out of curation");
        if (twice > 0) fail(twice + " documents came out of curation more than once");
        return curated;
    }

    private Map<Long, CheckpointPublished> lineage(
            Map<String, Object> kafka, String lineage, List<Curated> curated, CheckpointStore store) throws Exception {
        Map<Long, CheckpointPublished> committed = new TreeMap<>();
        for (ConsumerRecord<String, byte[]> r : TopicRecords.all(kafka, Topics.CHECKPOINTS.name())) {
            CheckpointPublished c = Topics.CHECKPOINTS.value(r);
            if (!c.getLineage().equals(lineage)) continue;
            if (committed.put(c.getVersion(), c) != null) fail(lineage + " v" + c.getVersion() + " committed twice");
        }
        long n = committed.size();
        if (!committed.isEmpty() && (!committed.containsKey(1L) || !committed.containsKey(n)))
            fail(lineage + ": versions are not v1..v" + n + ": " + committed.keySet());
        Map<Integer, List<Curated>> byPartition = new HashMap<>();
        curated.forEach(c -> byPartition
                .computeIfAbsent(c.partition(), p -> new ArrayList<>())
                .add(c));
        Set<Long> held = store.held(lineage).keySet();
        Map<Integer, Long> covered = new HashMap<>();
        long trained = 0;
        int listsChecked = 0;
        for (CheckpointPublished c : committed.values()) {
            List<String> ids = new ArrayList<>();
            for (PartitionOffset o : c.getOffsets()) {
                if (!o.getTopic().equals(Topics.CURATED.name())) continue;
                long from = covered.getOrDefault(o.getPartition(), 0L);
                if (o.getOffset() < from)
                    fail(lineage + " v" + c.getVersion() + ": partition " + o.getPartition() + " went back from " + from
                            + " to " + o.getOffset());
                for (Curated d : byPartition.getOrDefault(o.getPartition(), List.of()))
                    if (d.offset() >= from && d.offset() < o.getOffset()) ids.add(d.id());
                covered.put(o.getPartition(), Math.max(from, o.getOffset()));
            }
            if (ids.size() != c.getDocuments())
                fail(lineage + " v" + c.getVersion() + " counts " + c.getDocuments() + " documents, its offsets cover "
                        + ids.size());
            trained += ids.size();
            if (held.contains(c.getVersion())) {
                List<String> listed = new String(
                                store.open(c.getLocation()).file("documents.txt"), StandardCharsets.UTF_8)
                        .lines()
                        .filter(s -> !s.isEmpty())
                        .sorted()
                        .toList();
                if (!listed.equals(ids.stream().sorted().toList()))
                    fail(lineage + " v" + c.getVersion() + ": documents.txt lists " + listed.size()
                            + " ids that are not the " + ids.size() + " its offsets cover");
                listsChecked++;
            }
        }
        long untrained = curated.stream()
                .filter(d -> d.offset() >= covered.getOrDefault(d.partition(), 0L))
                .count();
        lines.add(String.format(
                "%s: %d checkpoints (v1..v%d, each once), %d of %d curated documents trained as new data, each once; "
                        + "%d untrained; documents.txt of the %d still in the store agree",
                lineage, n, n, trained, curated.size(), untrained, listsChecked));
        if (untrained > 0) fail(lineage + ": " + untrained + " curated documents never trained on");
        if (trained != curated.size()) fail(lineage + ": trained " + trained + " of " + curated.size());
        return committed;
    }

    /** Checks that every committed checkpoint was judged once; returns "lineage vN" of those the gate promoted. */
    private Set<String> evaluations(
            Map<String, Object> kafka, Map<String, Map<Long, CheckpointPublished>> checkpoints) {
        Map<String, Integer> judged = new HashMap<>();
        Set<String> blessed = new HashSet<>();
        int promote = 0;
        int reports = 0;
        for (ConsumerRecord<String, byte[]> r : TopicRecords.all(kafka, Topics.EVALUATIONS.name())) {
            EvaluationReport e = Topics.EVALUATIONS.value(r);
            String key = e.getLineage() + " v" + e.getCandidateVersion();
            judged.merge(key, 1, Integer::sum);
            reports++;
            if (e.getDecision() == Decision.PROMOTE) {
                blessed.add(key);
                promote++;
            }
            Map<Long, CheckpointPublished> of = checkpoints.get(e.getLineage());
            if (of == null || !of.containsKey(e.getCandidateVersion()))
                fail("a report on " + key + ", which was never committed");
        }
        int checkpointsTotal = 0;
        for (var lineage : checkpoints.entrySet()) {
            for (long v : lineage.getValue().keySet()) {
                checkpointsTotal++;
                int times = judged.getOrDefault(lineage.getKey() + " v" + v, 0);
                if (times != 1) fail(lineage.getKey() + " v" + v + " judged " + times + " times");
            }
        }
        lines.add(String.format(
                "evaluator: %d reports on %d committed checkpoints (%d promote, %d reject)",
                reports, checkpointsTotal, promote, reports - promote));
        return blessed;
    }

    /** Per lineage, the documents its champions served and the exact p50 and p95 of their freshness. */
    private void freshness(Map<String, Object> kafka, List<String> lineages) {
        List<CheckpointPublished> checkpoints = TopicRecords.all(kafka, Topics.CHECKPOINTS.name()).stream()
                .map(Topics.CHECKPOINTS::value)
                .toList();
        List<EvaluationReport> reports = TopicRecords.all(kafka, Topics.EVALUATIONS.name()).stream()
                .map(Topics.EVALUATIONS::value)
                .toList();
        Map<String, List<ServedFreshness.Served>> served = ServedFreshness.overLog(checkpoints, reports);
        for (String lineage : lineages) {
            FreshnessFigures f = FreshnessFigures.of(served.getOrDefault(lineage, List.of()));
            lines.add(String.format(
                    Locale.ROOT,
                    "%s freshness (arrival on ipt.documents.raw to the first promoted champion that trained on it): "
                            + "%d documents served, p50 %.0f s, p95 %.0f s",
                    lineage,
                    f.documents(),
                    f.p50(),
                    f.p95()));
        }
    }

    /** Checks every promotion was blessed; returns each lineage's champion (its last promotion). */
    private Map<String, Long> promotions(Map<String, Object> kafka, Set<String> blessed) {
        int promotions = 0;
        Map<String, Long> champions = new HashMap<>();
        for (ConsumerRecord<String, byte[]> r : TopicRecords.all(kafka, Topics.PROMOTIONS.name())) {
            if (r.value() == null) continue;
            Promotion p = Topics.PROMOTIONS.value(r);
            promotions++;
            champions.put(p.getLineage(), p.getVersion());
            String key = p.getLineage() + " v" + p.getVersion();
            if (!blessed.contains(key)) fail("promotion of " + key + ", which the gate did not bless");
        }
        lines.add(String.format("promotions: %d, each of a checkpoint the gate promoted", promotions));
        return champions;
    }

    /** Every checkpoint is judged by now, so each store holds at most its bound (nothing is pinned in the soak). */
    private void retention(
            List<String> lineages,
            Map<String, Map<Long, CheckpointPublished>> checkpoints,
            Map<String, Long> champions,
            CheckpointStore store,
            Retention retention)
            throws Exception {
        long bound = (long) retention.last() + retention.champions();
        for (String lineage : lineages) {
            Set<Long> held = store.held(lineage).keySet();
            List<Long> versions = List.copyOf(checkpoints.get(lineage).keySet());
            List<Long> newest = versions.subList(Math.max(0, versions.size() - retention.last()), versions.size());
            Long champion = champions.get(lineage);
            lines.add(String.format(
                    "%s retention: %d checkpoints held (bound %d), the newest %d and the champion v%s among them",
                    lineage, held.size(), bound, newest.size(), champion));
            if (held.size() > bound) fail(lineage + ": " + held.size() + " checkpoints held, over the bound " + bound);
            if (!held.containsAll(newest)) fail(lineage + ": retention deleted one of the newest: " + held);
            if (champion != null && !held.contains(champion))
                fail(lineage + ": retention deleted the champion v" + champion);
        }
    }
}
